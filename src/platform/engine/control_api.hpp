// ControlApi: the control plane's HTTP API (loopback, bearer token from
// STATE_DIR/control-token) that the sgctl commands call while the engine runs. Typed: every
// body is a model.hpp value through its codec.
//
//   GET  /health                          200 {"status":"ok"} (no token)
//   GET  /metrics                         Prometheus text (platform_metrics.hpp; no token:
//                                         like the gateway's and the servers' /metrics it
//                                         says nothing secret and is read by a scraper)
//   GET  /control/v1/status               PlatformStatus
//   POST /control/v1/deployments          RolloutOptions -> 201 {"id":N}
//   GET  /control/v1/deployments/{id}     DeploymentView (live progress while in progress)
//   POST /control/v1/rollback             -> 202 {"id":N,"mode":"switch_back"|"redeploy"}
//   POST /control/v1/promote | /abort     -> 200 {}
//   POST /control/v1/scale                {"replicas":N} -> 200 {}
//   POST /control/v1/autoscale            HpaSpec (platform/hpa_json.hpp) -> 200 {}
//   POST /control/v1/autoscale/off        -> 200 {}
//
// Errors use {"error":{"code","message"}}: 400 bad input, 401 without a token, 403 with a
// wrong one, 404, 409 conflict (a rollout in progress), 503 (the gateway not up yet).
// Bodies are limited to 64 KiB.
// Thread-safety: handle() may run on any server thread; the Engine serialises.
#pragma once

#include <string>

#include "common/http/http_types.hpp"
#include "platform/engine/engine.hpp"
#include "platform/engine/platform_metrics.hpp"

namespace sg::platform {

class ControlApi final : public http::Handler {
 public:
  ControlApi(Engine& engine, std::string token, ReplicaLimits limits = {});
  http::BodyPlan plan_body(const http::RequestHeader& head) override;
  http::Response handle(http::Request& req, const http::RequestContext& ctx) override;

 private:
  http::Response route(http::Request& req, const std::string& path);

  http::Response metrics();

  Engine& engine_;
  std::string token_;
  ReplicaLimits limits_;
};

}  // namespace sg::platform
