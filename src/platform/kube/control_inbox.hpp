// Control requests through the cluster: how `sgctl deploy` (and every other command that talks
// to the control API) reaches `sgctl controller` from an operator's machine without a
// port-forward. The CLI puts its request into ConfigMap streamgate-control-requests (a merge
// patch adding key req-ID: {"method","path","body","at_ms","by"}), the controller holding the
// Lease reads that ConfigMap about once a second, passes each unanswered request to its own
// control API and adds key resp-ID: {"status","body"}; the CLI reads the answer and removes
// both keys. Requests (answered or not) older than 10 minutes are removed by the controller.
// Only GET and POST of /control/v1/... are carried; anything else is answered 400.
//
// Who may write that ConfigMap may drive rollouts, as who may patch the Deployments could:
// grant `patch` on configmap streamgate-control-requests to operators only (docs/kubernetes.md).
// Latency: a request waits for the controller's next read (~1 s) plus two kubectl calls.
//
// Thread-safety: no mutable state beyond what each call holds.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "common/result.hpp"
#include "platform/kube/kubectl.hpp"

namespace sg::platform {

inline constexpr const char* kControlRequests = "streamgate-control-requests";

struct InboxRequest {
  std::string id;
  std::string method;  // GET | POST
  std::string path;    // /control/v1/...
  std::string body;
  std::int64_t at_ms = 0;
  std::string by;  // HOST/PID of the CLI
};

struct InboxResponse {
  int status = 0;
  std::string body;
};

// The CLI's side: sends one request and waits up to `timeout` for its answer; the keys are
// removed either way. kTimeout when no controller answered in time.
Result<InboxResponse> call_through_cluster(const Kubectl& kubectl, const std::string& method,
                                           const std::string& path, const std::string& body,
                                           std::chrono::milliseconds timeout);

// The controller's side: one read of the ConfigMap; every unanswered, well-formed request
// goes to `handle` and its answer is written back; stale keys are removed. A missing
// ConfigMap is no error (nobody asked yet). Returns how many requests it answered.
Result<int> serve_control_requests(const Kubectl& kubectl,
                                   const std::function<InboxResponse(const InboxRequest&)>& handle,
                                   std::int64_t now_ms);

}  // namespace sg::platform
