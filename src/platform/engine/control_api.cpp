#include "platform/engine/control_api.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <span>

#include "common/http/bearer.hpp"
#include "platform/hpa_json.hpp"

namespace sg::platform {
namespace json = boost::json;
namespace bhttp = boost::beast::http;
using http::Response;

namespace {

Result<json::value> body_json(const http::Request& req) {
  boost::system::error_code ec;
  auto v = json::parse(req.body(), ec);
  if (ec || !v.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, "the request body must be a JSON object");
  }
  return v;
}

Response ok(const json::value& value, bhttp::status status = bhttp::status::ok) {
  return http::json_response(value, status);
}

}  // namespace

ControlApi::ControlApi(Engine& engine, std::string token, ReplicaLimits limits)
    : engine_(engine), token_(std::move(token)), limits_(limits) {}

Response ControlApi::metrics() {
  auto counts = engine_.deployment_counts();
  if (!counts) return http::error_response(counts.error());
  Response r;
  r.msg.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  r.msg.body() = render_platform_metrics(engine_.status(), *counts, limits_);
  return r;
}

http::BodyPlan ControlApi::plan_body(const http::RequestHeader&) {
  return {http::BodyPlan::Mode::kBuffered, 64 * 1024};
}

Response ControlApi::handle(http::Request& req, const http::RequestContext&) {
  const std::string target(req.target());
  const std::string path = target.substr(0, target.find('?'));
  if (path == "/health" && req.method() == bhttp::verb::get) {
    return ok(json::object{{"status", "ok"}});
  }
  if (path == "/metrics" && req.method() == bhttp::verb::get) return metrics();
  std::string_view given;
  if (auto it = req.find(bhttp::field::authorization); it != req.end()) given = it->value();
  switch (http::check_bearer(given, std::span(&token_, 1))) {
    case http::BearerCheck::kMissing:
      return http::json_error(bhttp::status::unauthorized, "unauthenticated",
                              "Authorization: Bearer TOKEN required (STATE_DIR/control-token)");
    case http::BearerCheck::kRejected:
      return http::json_error(bhttp::status::forbidden, "permission_denied", "wrong token");
    case http::BearerCheck::kAccepted:
      break;
  }
  return route(req, path);
}

Response ControlApi::route(http::Request& req, const std::string& path) {
  const bool get = req.method() == bhttp::verb::get;
  const bool post = req.method() == bhttp::verb::post;
  if (path == "/control/v1/status" && get) return ok(to_json(engine_.status()));
  if (path == "/control/v1/deployments" && post) {
    auto body = body_json(req);
    if (!body) return http::error_response(body.error());
    auto options = rollout_options_from_json(*body);
    if (!options) return http::error_response(options.error());
    auto id = engine_.deploy(*options);
    if (!id) return http::error_response(id.error());
    return ok(json::object{{"id", *id}}, bhttp::status::created);
  }
  constexpr std::string_view kDeployments = "/control/v1/deployments/";
  if (path.starts_with(kDeployments) && get) {
    const std::string_view text = std::string_view(path).substr(kDeployments.size());
    std::int64_t id = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return http::json_error(bhttp::status::bad_request, "invalid_argument",
                              "deployment id must be an integer");
    }
    auto d = engine_.deployment(id);
    if (!d) return http::error_response(d.error());
    return ok(to_json(*d));
  }
  if (path == "/control/v1/rollback" && post) {
    auto started = engine_.rollback();
    if (!started) return http::error_response(started.error());
    return ok(json::object{{"id", started->id},
                           {"mode", started->in_progress ? "switch_back" : "redeploy"}},
              bhttp::status::accepted);
  }
  if ((path == "/control/v1/promote" || path == "/control/v1/abort") && post) {
    Status st = path.ends_with("promote") ? engine_.promote() : engine_.abort();
    if (!st) return http::error_response(st.error());
    return ok(json::object{});
  }
  if (path == "/control/v1/scale" && post) {
    auto body = body_json(req);
    if (!body) return http::error_response(body.error());
    const json::value* n = body->as_object().if_contains("replicas");
    if (n == nullptr || !n->is_int64()) {
      return http::json_error(bhttp::status::bad_request, "invalid_argument",
                              "replicas: an integer is required");
    }
    if (n->as_int64() < 1 || n->as_int64() > 50) {
      return http::json_error(bhttp::status::bad_request, "invalid_argument",
                              "--replicas must be 1..50, got " + std::to_string(n->as_int64()));
    }
    if (Status st = engine_.scale(static_cast<int>(n->as_int64())); !st) {
      return http::error_response(st.error());
    }
    return ok(json::object{});
  }
  if (path == "/control/v1/autoscale" && post) {
    auto body = body_json(req);
    if (!body) return http::error_response(body.error());
    auto spec = hpa_spec_from_json(*body);
    if (!spec) return http::error_response(spec.error());
    if (Status st = engine_.autoscale(std::move(*spec)); !st) return http::error_response(st.error());
    return ok(json::object{});
  }
  if (path == "/control/v1/autoscale/off" && post) {
    if (Status st = engine_.autoscale(std::nullopt); !st) return http::error_response(st.error());
    return ok(json::object{});
  }
  return http::json_error(bhttp::status::not_found, "not_found", "no such route: " + path);
}

}  // namespace sg::platform
