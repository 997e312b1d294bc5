// AdminApi: the gateway's admin listener (default 127.0.0.1:8081), as a synchronous
// http::Handler. Every route needs "Authorization: Bearer TOKEN" except GET /metrics
// (Prometheus text format 0.0.4) and GET /health. Without the header the answer is 401,
// with a wrong token 403; with no token configured every authenticated route answers 403.
// These answers, 404 and 405 are given from the request head, before any body byte is read.
//
//   GET    /admin/v1/config                       the whole config (JSON form of GatewayConfig)
//   PUT    /admin/v1/config                       replace it -> {"generation":N}
//   PUT    /admin/v1/route                        {"weights":{...}, "sticky":{...}} replaces the
//                                                 route; "sticky" absent keeps the current one,
//                                                 "sticky": null removes it
//   PUT    /admin/v1/tracks/{name}                {"endpoints":[...], "balance":...} creates or
//                                                 replaces a track
//   DELETE /admin/v1/tracks/{name}                400 while the route gives it weight > 0
//   POST   /admin/v1/tracks/{name}/endpoints      {"address":"HOST:PORT"} -> 201
//   DELETE /admin/v1/tracks/{name}/endpoints/{address}
//   POST   /admin/v1/endpoints/{address}/drain    202 {"address","draining","outstanding"}
//   GET    /admin/v1/endpoints/{address}          health, availability, drain state, counters
//   GET    /admin/v1/stats[?window=10|60|300]     per track and per endpoint window stats:
//                                                 requests, status classes, error rate,
//                                                 p50/p95/p99_ms (total, client-paced),
//                                                 upstream_p50/p95/p99_ms (the upstream's time
//                                                 to response head), failed_attempts
//   GET    /admin/v1/stats/histogram?track=NAME[&window=S][&latency=total|upstream]
//                                                 raw latency bucket counts (total by default)
//   GET    /admin/v1/sessions[?active_within=S]   viewing sessions per track (every configured
//                                                 track, and any other a live session is pinned
//                                                 to): {"sessions": live sessions pinned to it,
//                                                 "active": those with a request in the last S
//                                                 seconds (1..3600, default 30), "idle_s":
//                                                 seconds since the latest request of any of
//                                                 them, null without one}; walks the session
//                                                 table (SessionTable::track_activity)
//
// Every change edits a copy of the current config, validates it and swaps it in through
// `apply` as a whole (GatewayState::apply by default): it applies to new requests while
// requests in flight finish where they started; a rejected change (400, the validation
// message naming the key) leaves the current config serving. Changes made through this API
// are serialised, so two concurrent edits never lose one another. Successful changes answer
// {"generation":N}, the generation of the table they produced. Path segments are
// percent-decoded ("127.0.0.1%3A9101" names "127.0.0.1:9101"). Errors use the JSON shape
// {"error":{"code","message"}}; a wrong method gets 405 with Allow.
//
// Threading: handle() may run on any admin worker thread; the API keeps no state besides the
// edit mutex and reads everything else from GatewayState.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/http_types.hpp"
#include "common/metrics.hpp"
#include "common/result.hpp"
#include "gateway/core/gateway_config.hpp"
#include "gateway/gateway_state.hpp"

namespace sg::gateway {

class AdminApi final : public http::Handler {
 public:
  using ApplyFn = std::function<Status(const GatewayConfig&)>;

  // `state` and `registry` must outlive the API. An empty `token` disables every route but
  // /metrics and /health. An empty `apply` means state.apply().
  AdminApi(GatewayState& state, metrics::Registry& registry, std::string token, ApplyFn apply = {});

  // Route (404), method (405) and token (401/403) from the head alone; nothing of a body is
  // read for a refused request. Bodies: up to 1 MiB on PUT and POST, none on GET and DELETE.
  std::optional<http::Response> admit(const http::RequestHeader& head,
                                      const http::RequestContext& ctx) override;
  http::BodyPlan plan_body(const http::RequestHeader& head) override;
  http::Response handle(http::Request& req, const http::RequestContext& ctx) override;

 private:
  using Segments = std::vector<std::string>;

  std::optional<http::Response> check_auth(const http::RequestHeader& head) const;
  http::Response route_admin(http::Request& req, const Segments& path, std::string_view query);
  http::Response config_route(http::Request& req);
  http::Response tracks_route(http::Request& req, const Segments& path);
  http::Response endpoints_route(http::Request& req, const Segments& path);
  http::Response stats_route(const http::Request& req, const Segments& path,
                             std::string_view query);

  // Edits a copy of the current config with `edit` and applies it; answers {"generation":N}
  // with `ok_status`, or the edit's / the validation's error.
  http::Response change(const std::function<Status(GatewayConfig&)>& edit,
                        http::bhttp::status ok_status);
  http::Response put_config(const http::Request& req);
  http::Response put_route(const http::Request& req);
  http::Response put_track(const http::Request& req, const std::string& name);
  http::Response delete_track(const std::string& name);
  http::Response add_endpoint(const http::Request& req, const std::string& track);
  http::Response remove_endpoint(const std::string& track, const std::string& address);
  http::Response drain_endpoint(const std::string& address);
  http::Response get_endpoint(const std::string& address);

  GatewayState& state_;
  metrics::Registry& registry_;
  std::string token_;
  ApplyFn apply_;
  std::mutex edit_mu_;  // serialises read-modify-apply changes
};

}  // namespace sg::gateway
