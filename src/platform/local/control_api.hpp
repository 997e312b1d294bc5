// ControlApi: the local control plane's HTTP API (loopback, bearer token from
// STATE_DIR/control-token) that the other sgctl commands call while `sgctl up` runs.
//
//   GET  /health                          200 {"status":"ok"} (no token)
//   GET  /control/v1/status               platform status (LocalPlatform::status)
//   POST /control/v1/deployments          DeployRequest JSON -> 201 {"id":N}
//   GET  /control/v1/deployments/{id}     result, reason, live rollout progress
//   POST /control/v1/rollback             -> 202 {"id":N,"mode":"switch_back"|"redeploy"}
//   POST /control/v1/promote | /abort     -> 200 {}
//   POST /control/v1/scale                {"replicas":N} -> 200 {}
//
// Errors use {"error":{"code","message"}}: 400 bad input, 401/403 token, 404, 409 conflict
// (a rollout in progress), 503 (gateway not up yet). Bodies are limited to 64 KiB.
// Thread-safety: handle() may run on any server thread; LocalPlatform serialises.
#pragma once

#include <string>

#include "common/http/http_types.hpp"
#include "platform/local/local_platform.hpp"

namespace sg::platform {

class ControlApi final : public http::Handler {
 public:
  ControlApi(LocalPlatform& platform, std::string token);
  http::BodyPlan plan_body(const http::RequestHeader& head) override;
  http::Response handle(http::Request& req, const http::RequestContext& ctx) override;

 private:
  LocalPlatform& platform_;
  std::string token_;
};

}  // namespace sg::platform
