// The client side of the local control API: finds the running `sgctl up` through the state
// directory (STATE_DIR/control-address and STATE_DIR/control-token) and calls it. Or a control
// plane elsewhere: SG_CONTROL_ADDRESS and SG_CONTROL_TOKEN; or, with the kubernetes backend
// (set_cluster) when neither answers and a controller holds the Lease of the namespace, that
// controller through ConfigMap streamgate-control-requests (platform/kube/control_inbox.hpp).
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "common/http/blocking_client.hpp"
#include "common/result.hpp"
#include "platform/control_plane.hpp"
#include "platform/kube/kubectl.hpp"

namespace sg::cli {

class ControlClient {
 public:
  // Fails (kUnavailable) with "no control plane is running for STATE_DIR; start it with
  // sgctl up --state-dir STATE_DIR" when the files are missing or nothing answers.
  static Result<ControlClient> connect(const std::filesystem::path& state_dir);
  // The cluster of `sgctl --backend kubernetes` (once, at start; not thread-safe).
  static void set_cluster(const platform::KubePlaneOptions& kube);

  Result<boost::json::value> get(const std::string& path) const;
  Result<boost::json::value> post(const std::string& path, const boost::json::value& body) const;
  // post(), tried again every 0.5 s for up to `max_wait` while the control plane answers 503
  // (it is starting: nothing was done); any other answer, or none, is returned at once.
  Result<boost::json::value> post_when_ready(const std::string& path, const boost::json::value& body,
                                             std::chrono::seconds max_wait) const;

 private:
  ControlClient(std::string address, std::string token)
      : address_(std::move(address)), token_(std::move(token)) {}
  explicit ControlClient(platform::KubectlOptions through) : through_(std::move(through)) {}
  // One request: the control API's reply (status 0 when it did not answer), or an error when
  // the way through the cluster failed.
  Result<http::ClientReply> exchange(const std::string& method, const std::string& path,
                                     const std::string& body) const;
  std::string address_;
  std::string token_;
  std::optional<platform::KubectlOptions> through_;  // the controller, through the cluster
};

}  // namespace sg::cli
