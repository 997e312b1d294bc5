// Kubectl: how the Kubernetes backend talks to a cluster: the real `kubectl`, run to
// completion for each request (common/run_command.hpp), with the operator's kubeconfig
// (KUBECONFIG, or in a pod the service account), --context and --namespace. kubectl does the
// authentication (client certificates, tokens, exec plugins), TLS and proxies, which we
// would otherwise have to write and keep up to date.
//
// Errors: kubectl's "Error from server (Reason): ..." becomes kNotFound (NotFound),
// kConflict (Conflict, AlreadyExists), kPermissionDenied (Forbidden), kUnauthenticated
// (Unauthorized from the server), kInvalidArgument (Invalid, BadRequest); anything else (no
// server, a timeout, kubectl's own "You must be logged in") kUnavailable. The message is
// kubectl's first line. Each call is limited to `timeout` (--request-timeout) plus 2 s.
//
// Thread-safety: no mutable state.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace sg::platform {

struct KubectlOptions {
  std::string kubectl = "kubectl";  // path or name in PATH
  std::string context;              // --context; empty: the kubeconfig's current context
  std::string ns = "streamgate";    // --namespace
  std::chrono::milliseconds timeout{20000};
};

class Kubectl {
 public:
  explicit Kubectl(KubectlOptions options) : opts_(std::move(options)) {}

  // kubectl [--context C] --namespace NS ARGS..., `input` on stdin; its stdout.
  Result<std::string> run(const std::vector<std::string>& args, const std::string& input = {}) const;
  // run(args + "-o json"), parsed.
  Result<boost::json::value> get_json(const std::vector<std::string>& args) const;
  // kubectl patch KIND/NAME --type merge -p PATCH.
  Status merge_patch(const std::string& object, const boost::json::value& patch) const;
  // kubectl replace -f - (the object carries metadata.resourceVersion: a stale one is
  // kConflict); kubectl create -f - (an existing one is kConflict).
  Status replace(const boost::json::value& object) const;
  Status create(const boost::json::value& object) const;

 private:
  KubectlOptions opts_;
};

}  // namespace sg::platform
