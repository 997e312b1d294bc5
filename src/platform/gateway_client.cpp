#include "platform/gateway_client.hpp"

#include <boost/json.hpp>
#include <optional>

#include "common/http/blocking_client.hpp"

namespace sg::platform {
namespace json = boost::json;
namespace bhttp = boost::beast::http;

GatewayClient::GatewayClient(std::string admin_address, std::string token,
                             std::chrono::milliseconds timeout)
    : admin_(std::move(admin_address)), token_(std::move(token)), timeout_(timeout) {}

namespace {

Error call_error(const std::string& what, const http::ClientReply& reply) {
  if (reply.status == 0) {
    return make_error(ErrorCode::kUnavailable, "gateway admin " + what + ": " + reply.error);
  }
  std::string message = reply.body;
  boost::system::error_code ec;
  auto v = json::parse(reply.body, ec);
  if (!ec && v.is_object()) {
    if (auto* e = v.as_object().if_contains("error"); e != nullptr && e->is_object()) {
      if (auto* m = e->as_object().if_contains("message"); m != nullptr && m->is_string()) {
        message = std::string(m->as_string());
      }
    }
  }
  return make_error(
      reply.status == 400 ? ErrorCode::kInvalidArgument : ErrorCode::kInternal,
      "gateway admin " + what + ": HTTP " + std::to_string(reply.status) + ": " + message);
}

// The "tracks" object of an admin answer ({"tracks": {...}, ...}); none when it has none.
std::optional<json::object> tracks_object(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  json::value* t = v.as_object().if_contains("tracks");
  if (t == nullptr || !t->is_object()) return std::nullopt;
  return std::move(t->as_object());
}

}  // namespace

bool GatewayClient::alive() const {
  return http::blocking_call(admin_, {.target = "/health", .timeout = timeout_}).status == 200;
}

Result<gateway::GatewayConfig> GatewayClient::config() const {
  auto reply = http::blocking_call(admin_, {.target = "/admin/v1/config",
                                            .headers = {{"Authorization", "Bearer " + token_}},
                                            .timeout = timeout_});
  if (reply.status != 200) return call_error("GET config", reply);
  return gateway::parse_gateway_config_json(reply.body);
}

Status GatewayClient::apply(const gateway::GatewayConfig& config) const {
  auto reply = http::blocking_call(admin_, {.method = bhttp::verb::put,
                                            .target = "/admin/v1/config",
                                            .body = gateway::gateway_config_to_json_text(config),
                                            .headers = {{"Authorization", "Bearer " + token_},
                                                        {"Content-Type", "application/json"}},
                                            .timeout = timeout_});
  if (reply.status != 200) return call_error("PUT config", reply);
  return Status::ok();
}

Status GatewayClient::drain(const std::string& endpoint) const {
  auto reply = http::blocking_call(admin_, {.method = bhttp::verb::post,
                                            .target = "/admin/v1/endpoints/" + endpoint + "/drain",
                                            .headers = {{"Authorization", "Bearer " + token_}},
                                            .timeout = timeout_});
  if (reply.status != 202 && reply.status != 200) return call_error("drain " + endpoint, reply);
  return Status::ok();
}

Result<EndpointDrainState> GatewayClient::endpoint(const std::string& endpoint) const {
  auto reply = http::blocking_call(admin_, {.target = "/admin/v1/endpoints/" + endpoint,
                                            .headers = {{"Authorization", "Bearer " + token_}},
                                            .timeout = timeout_});
  if (reply.status == 404) return EndpointDrainState{};
  if (reply.status != 200) return call_error("GET endpoint " + endpoint, reply);
  boost::system::error_code ec;
  auto v = json::parse(reply.body, ec);
  if (ec || !v.is_object()) return call_error("GET endpoint (not JSON)", reply);
  EndpointDrainState out{.found = true};
  if (auto* d = v.as_object().if_contains("drained"); d != nullptr && d->is_bool()) {
    out.drained = d->as_bool();
  }
  if (auto* o = v.as_object().if_contains("outstanding"); o != nullptr && o->is_number()) {
    out.outstanding = o->to_number<std::uint64_t>();
  }
  return out;
}

Result<TrackTraffic> GatewayClient::traffic() const {
  auto reply = http::blocking_call(admin_, {.target = "/metrics", .timeout = timeout_});
  if (reply.status != 200) return call_error("GET /metrics", reply);
  return parse_track_traffic(reply.body);
}

Result<std::vector<EndpointLoad>> GatewayClient::endpoint_load() const {
  auto reply = http::blocking_call(admin_, {.target = "/admin/v1/stats?window=10",
                                            .headers = {{"Authorization", "Bearer " + token_}},
                                            .timeout = timeout_});
  if (reply.status != 200) return call_error("GET stats", reply);
  const std::optional<json::object> tracks = tracks_object(reply.body);
  if (!tracks) return call_error("GET stats (no tracks object)", reply);
  std::vector<EndpointLoad> out;
  for (const auto& [track, t] : *tracks) {
    const auto* eps = t.is_object() ? t.as_object().if_contains("endpoints") : nullptr;
    if (eps == nullptr || !eps->is_object()) continue;
    for (const auto& [address, e] : eps->as_object()) {
      if (!e.is_object()) continue;
      EndpointLoad load{std::string(track), std::string(address), 0, 10, 0};
      if (auto* o = e.as_object().if_contains("outstanding"); o != nullptr && o->is_number()) {
        load.in_flight = o->to_number<double>();
      }
      const auto* w = e.as_object().if_contains("windows");
      const auto* ten = w != nullptr && w->is_object() ? w->as_object().if_contains("10s") : nullptr;
      if (ten != nullptr && ten->is_object()) {
        if (auto* rps = ten->as_object().if_contains("rps"); rps != nullptr && rps->is_number()) {
          load.rps = rps->to_number<double>();
        }
      }
      out.push_back(std::move(load));
    }
  }
  return out;
}

Result<std::map<std::string, control::TrackSessions>> GatewayClient::sessions(
    std::chrono::seconds active_within) const {
  auto reply = http::blocking_call(
      admin_, {.target = "/admin/v1/sessions?active_within=" + std::to_string(active_within.count()),
               .headers = {{"Authorization", "Bearer " + token_}},
               .timeout = timeout_});
  // A gateway without the route (an older binary, adopted) pins no session.
  if (reply.status == 404) return std::map<std::string, control::TrackSessions>{};
  if (reply.status != 200) return call_error("GET sessions", reply);
  const std::optional<json::object> tracks = tracks_object(reply.body);
  if (!tracks) return call_error("GET sessions (no tracks object)", reply);
  std::map<std::string, control::TrackSessions> out;
  for (const auto& [track, t] : *tracks) {
    if (!t.is_object()) continue;
    const auto& o = t.as_object();
    control::TrackSessions s;
    if (auto* n = o.if_contains("sessions"); n != nullptr && n->is_number()) {
      s.sessions = n->to_number<std::size_t>();
    }
    if (auto* n = o.if_contains("active"); n != nullptr && n->is_number()) {
      s.active = n->to_number<std::size_t>();
    }
    if (auto* n = o.if_contains("idle_s"); n != nullptr && n->is_number()) {
      s.idle = std::chrono::duration<double>(n->to_number<double>());
    }
    out[std::string(track)] = s;
  }
  return out;
}

}  // namespace sg::platform
