#include "platform/local/control_api.hpp"

#include <boost/json.hpp>
#include <charconv>


namespace sg::platform {
namespace json = boost::json;
namespace bhttp = boost::beast::http;
using http::Response;

namespace {

Response json_ok(const json::value& value, bhttp::status status = bhttp::status::ok) {
  return http::json_response(value, status);
}

Result<json::object> body_object(const http::Request& req) {
  boost::system::error_code ec;
  auto v = json::parse(req.body(), ec);
  if (ec || !v.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, "the request body must be a JSON object");
  }
  return std::move(v.as_object());
}

}  // namespace

ControlApi::ControlApi(LocalPlatform& platform, std::string token)
    : platform_(platform), token_(std::move(token)) {}

http::BodyPlan ControlApi::plan_body(const http::RequestHeader&) {
  return {http::BodyPlan::Mode::kBuffered, 64 * 1024};
}

Response ControlApi::handle(http::Request& req, const http::RequestContext&) {
  const std::string target(req.target());
  const std::string path = target.substr(0, target.find('?'));
  const bool get = req.method() == bhttp::verb::get;
  const bool post = req.method() == bhttp::verb::post;
  if (path == "/health" && get) return json_ok(json::object{{"status", "ok"}});
  const auto auth = req[bhttp::field::authorization];
  if (auth.empty()) {
    return http::json_error(bhttp::status::unauthorized, "unauthenticated",
                            "Authorization: Bearer TOKEN required (STATE_DIR/control-token)");
  }
  if (auth != "Bearer " + token_) {
    return http::json_error(bhttp::status::forbidden, "permission_denied", "wrong token");
  }
  if (path == "/control/v1/status" && get) return json_ok(platform_.status());
  if (path == "/control/v1/deployments" && post) {
    auto body = body_object(req);
    if (!body) return http::error_response(body.error());
    auto request = deploy_request_from_json(*body);
    if (!request) return http::error_response(request.error());
    auto id = platform_.deploy(*request);
    if (!id) return http::error_response(id.error());
    return json_ok(json::object{{"id", *id}}, bhttp::status::created);
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
    auto d = platform_.deployment(id);
    if (!d) return http::error_response(d.error());
    return json_ok(*d);
  }
  if (path == "/control/v1/rollback" && post) {
    auto started = platform_.rollback();
    if (!started) return http::error_response(started.error());
    return json_ok(json::object{{"id", started->id},
                                {"mode", started->in_progress ? "switch_back" : "redeploy"}},
                   bhttp::status::accepted);
  }
  if ((path == "/control/v1/promote" || path == "/control/v1/abort") && post) {
    Status st = path.ends_with("promote") ? platform_.promote() : platform_.abort();
    if (!st) return http::error_response(st.error());
    return json_ok(json::object{});
  }
  if (path == "/control/v1/scale" && post) {
    auto body = body_object(req);
    if (!body) return http::error_response(body.error());
    auto* n = body->if_contains("replicas");
    if (n == nullptr || !n->is_int64()) {
      return http::json_error(bhttp::status::bad_request, "invalid_argument",
                              "replicas: an integer is required");
    }
    if (Status st = platform_.scale(static_cast<int>(n->as_int64())); !st) {
      return http::error_response(st.error());
    }
    return json_ok(json::object{});
  }
  return http::json_error(bhttp::status::not_found, "not_found", "no such route: " + path);
}

}  // namespace sg::platform
