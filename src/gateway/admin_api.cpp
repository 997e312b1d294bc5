#include "gateway/admin_api.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>

#include "common/http/allow.hpp"
#include "common/http/bearer.hpp"
#include "common/http/url.hpp"
#include "common/json_text.hpp"

namespace sg::gateway {
namespace {

namespace bhttp = http::bhttp;
namespace json = boost::json;
using http::Response;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kPrometheusType = "text/plain; version=0.0.4; charset=utf-8";
constexpr int kDefaultWindows[] = {10, 60, 300};
constexpr int kDefaultHistogramWindow = 60;
constexpr std::uint64_t kMaxBodyBytes = 1024 * 1024;
constexpr std::chrono::seconds kDefaultActiveWithin{30};
constexpr int kMaxActiveWithinS = 3600;

Response json_ok(const json::value& value, bhttp::status status = bhttp::status::ok) {
  return http::json_response(value, status);
}

Response method_not_allowed(std::string_view allow) {
  Response r = http::json_error(bhttp::status::method_not_allowed, "method_not_allowed",
                                "method not allowed here; allowed: " + std::string(allow));
  r.msg.set(bhttp::field::allow, allow);
  return r;
}

Response not_found(std::string_view what) {
  return http::json_error(bhttp::status::not_found, "not_found", what);
}

Response bad_request(std::string_view message) {
  return http::json_error(bhttp::status::bad_request, "invalid_argument", message);
}

Error invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

// The request body as a JSON object; `what` names the body in the error.
Result<json::object> parse_object(std::string_view body, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return invalid(std::string(what) + ": invalid JSON: " + ec.message());
  if (!v.is_object()) return invalid(std::string(what) + ": must be a JSON object");
  return std::move(v.as_object());
}

// The path split on '/' and percent-decoded; nullopt when a segment is malformed.
std::optional<std::vector<std::string>> decode_segments(std::string_view path) {
  std::vector<std::string> out;
  if (path.empty() || path.front() != '/') return std::nullopt;
  path.remove_prefix(1);
  for (;;) {
    const auto slash = path.find('/');
    auto decoded = http::percent_decode(path.substr(0, slash), false);
    if (!decoded) return std::nullopt;
    out.push_back(std::move(*decoded));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

Result<int> parse_window(std::string_view text) {
  int seconds = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc() || p != text.data() + text.size() || seconds < 1 ||
      seconds > WindowStats::kMaxWindow) {
    return invalid("window: must be whole seconds in 1.." +
                   std::to_string(WindowStats::kMaxWindow) + " (e.g. 10, 60, 300), got '" +
                   std::string(text) + "'");
  }
  return seconds;
}

struct StatsQuery {
  std::vector<int> windows;
  std::string track;
  bool upstream = false;  // histogram of the upstream's time to response head
};

Result<StatsQuery> parse_stats_query(std::string_view query) {
  auto params = http::parse_query(query);
  if (!params) return invalid("the query string is not validly percent-encoded");
  StatsQuery out;
  for (const auto& [key, value] : *params) {
    if (key == "window") {
      auto w = parse_window(value);
      if (!w) return w.error();
      out.windows.push_back(*w);
    } else if (key == "track") {
      out.track = value;
    } else if (key == "latency") {
      if (value != "total" && value != "upstream") {
        return invalid(
            "latency: must be total (request head to last response byte) or upstream "
            "(request sent upstream to response head), got '" +
            value + "'");
      }
      out.upstream = value == "upstream";
    }
  }
  return out;
}

double ms(double seconds) { return seconds * 1000.0; }

json::object window_json(const WindowSnapshot& s, int seconds) {
  json::object o;
  o["requests"] = s.requests;
  o["status_2xx"] = s.status_2xx;
  o["status_3xx"] = s.status_3xx;
  o["status_4xx"] = s.status_4xx;
  o["status_5xx"] = s.status_5xx;
  o["gateway_errors"] = s.gateway_errors;
  o["error_rate"] = s.error_rate();
  o["p50_ms"] = ms(s.quantile(0.50));
  o["p95_ms"] = ms(s.quantile(0.95));
  o["p99_ms"] = ms(s.quantile(0.99));
  o["mean_ms"] = ms(s.mean_latency());
  o["upstream_responses"] = s.upstream_responses;
  o["upstream_p50_ms"] = ms(s.upstream_quantile(0.50));
  o["upstream_p95_ms"] = ms(s.upstream_quantile(0.95));
  o["upstream_p99_ms"] = ms(s.upstream_quantile(0.99));
  o["failed_attempts"] = s.failed_attempts;
  o["rps"] = static_cast<double>(s.requests) / seconds;
  return o;
}

json::object windows_json(const WindowStats& stats, const std::vector<int>& windows,
                          Clock::time_point now) {
  json::object o;
  for (int w : windows) {
    o[std::to_string(w) + "s"] = window_json(stats.snapshot(now, std::chrono::seconds(w)), w);
  }
  return o;
}

json::object stream_window_json(const StreamSnapshot& s) {
  auto ms = [](double seconds) { return seconds * 1000.0; };
  json::object o;
  o["playlist_requests"] = s.playlist_requests;
  o["segment_requests"] = s.segment_requests;
  o["segment_5xx"] = s.segment_5xx;
  o["segment_error_rate"] = s.segment_error_rate();
  o["segment_ttfb_count"] = s.segment_ttfb_count;
  o["segment_ttfb_p50_ms"] = ms(s.segment_ttfb_quantile(0.50));
  o["segment_ttfb_p95_ms"] = ms(s.segment_ttfb_quantile(0.95));
  o["sessions_started"] = s.sessions_started;
  o["startup_count"] = s.startup_count;
  o["startup_p50_ms"] = ms(s.startup_quantile(0.50));
  o["startup_p95_ms"] = ms(s.startup_quantile(0.95));
  o["session_minutes"] = s.session_minutes;
  o["rebuffer_reports"] = s.rebuffer_reports;
  o["rebuffer_per_session_minute"] = s.rebuffer_per_session_minute();
  o["throughput_reports"] = s.throughput_reports;
  o["throughput_mean_kbps"] = s.mean_throughput_kbps();
  return o;
}

json::object stream_windows_json(const StreamStats& stats, const std::vector<int>& windows,
                                 Clock::time_point now) {
  json::object o;
  for (int w : windows) {
    o[std::to_string(w) + "s"] = stream_window_json(stats.snapshot(now, std::chrono::seconds(w)));
  }
  return o;
}

json::object endpoint_state_json(const Endpoint& ep, Clock::time_point now) {
  json::object o;
  o["healthy"] = ep.healthy();
  o["available"] = ep.available(now);
  o["draining"] = ep.draining();
  o["outstanding"] = ep.outstanding();
  o["ejections"] = ep.ejections();
  return o;
}

json::object stats_json(const RouteTable& table, const std::vector<int>& windows) {
  const auto now = Clock::now();
  json::object tracks;
  for (const auto& track : table.tracks) {
    json::object endpoints;
    for (const auto& ep : track.endpoints) {
      json::object e = endpoint_state_json(*ep, now);
      e["windows"] = windows_json(ep->stats(), windows, now);
      endpoints[ep->address()] = std::move(e);
    }
    json::object t;
    t["weight"] = track.weight;
    t["windows"] = windows_json(*track.stats, windows, now);
    t["streaming"] = stream_windows_json(*track.stream, windows, now);
    t["endpoints"] = std::move(endpoints);
    tracks[track.name] = std::move(t);
  }
  return {{"generation", table.generation}, {"tracks", std::move(tracks)}};
}

json::object histogram_json(const RouteTable& table, const Track& track, int window,
                            bool upstream) {
  const WindowSnapshot s = track.stats->snapshot(Clock::now(), std::chrono::seconds(window));
  json::array bounds;
  for (double b : latency_bounds()) bounds.push_back(b);
  json::array counts;
  for (auto c : upstream ? s.upstream_buckets : s.latency_buckets) counts.push_back(c);
  json::object o;
  o["generation"] = table.generation;
  o["track"] = track.name;
  o["window_s"] = window;
  o["latency"] = upstream ? "upstream" : "total";
  o["requests"] = upstream ? s.upstream_responses : s.requests;
  o["latency_sum_seconds"] = upstream ? s.upstream_sum_seconds : s.latency_sum_seconds;
  o["bounds_s"] = std::move(bounds);
  o["counts"] = std::move(counts);
  return o;
}

// The route template of an admin path, for logs and metrics (static storage).
std::string_view route_template(const std::vector<std::string>& p) {
  const std::size_t n = p.size();
  if (n == 1 && p[0] == "config") return "/admin/v1/config";
  if (n == 1 && p[0] == "route") return "/admin/v1/route";
  if (n == 2 && p[0] == "tracks") return "/admin/v1/tracks/{name}";
  if (n == 3 && p[0] == "tracks" && p[2] == "endpoints") return "/admin/v1/tracks/{name}/endpoints";
  if (n == 4 && p[0] == "tracks" && p[2] == "endpoints") {
    return "/admin/v1/tracks/{name}/endpoints/{address}";
  }
  if (n == 2 && p[0] == "endpoints") return "/admin/v1/endpoints/{address}";
  if (n == 3 && p[0] == "endpoints" && p[2] == "drain")
    return "/admin/v1/endpoints/{address}/drain";
  if (n == 1 && p[0] == "stats") return "/admin/v1/stats";
  if (n == 2 && p[0] == "stats" && p[1] == "histogram") return "/admin/v1/stats/histogram";
  if (n == 1 && p[0] == "sessions") return "/admin/v1/sessions";
  return "unknown";
}

// The methods an admin route template answers, as an Allow value.
std::string_view allowed_methods(std::string_view route) {
  if (route == "/admin/v1/config") return "GET, PUT";
  if (route == "/admin/v1/route") return "PUT";
  if (route == "/admin/v1/tracks/{name}") return "PUT, DELETE";
  if (route == "/admin/v1/tracks/{name}/endpoints") return "POST";
  if (route == "/admin/v1/tracks/{name}/endpoints/{address}") return "DELETE";
  if (route == "/admin/v1/endpoints/{address}/drain") return "POST";
  return "GET";
}

// ?active_within=S of GET /admin/v1/sessions (default kDefaultActiveWithin).
Result<std::chrono::seconds> parse_sessions_query(std::string_view query) {
  auto params = http::parse_query(query);
  if (!params) return invalid("the query string is not validly percent-encoded");
  std::chrono::seconds within = kDefaultActiveWithin;
  for (const auto& [key, value] : *params) {
    if (key != "active_within") continue;
    int seconds = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc() || p != value.data() + value.size() || seconds < 1 ||
        seconds > kMaxActiveWithinS) {
      return invalid("active_within: must be whole seconds in 1.." +
                     std::to_string(kMaxActiveWithinS) + ", got '" + value + "'");
    }
    within = std::chrono::seconds(seconds);
  }
  return within;
}

json::object sessions_json(const RouteTable& table, const SessionTable& sessions,
                           std::chrono::seconds active_within) {
  const auto activity = sessions.track_activity(Clock::now(), active_within);
  json::object tracks;
  auto put = [&](const std::string& name, const SessionTable::TrackActivity& a) {
    json::object t;
    t["sessions"] = a.sessions;
    t["active"] = a.active;
    if (a.idle) {
      t["idle_s"] = std::chrono::duration<double>(*a.idle).count();
    } else {
      t["idle_s"] = nullptr;
    }
    tracks[name] = std::move(t);
  };
  for (const auto& track : table.tracks) {
    const auto it = activity.find(track.name);
    put(track.name, it == activity.end() ? SessionTable::TrackActivity{} : it->second);
  }
  for (const auto& [name, a] : activity) {
    if (!tracks.contains(name)) put(name, a);  // pinned to a track no longer configured
  }
  return {{"generation", table.generation},
          {"active_within_s", active_within.count()},
          {"tracked", sessions.size()},
          {"tracks", std::move(tracks)}};
}

const Track* find_track(const RouteTable& table, std::string_view name) {
  for (const auto& t : table.tracks) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace

AdminApi::AdminApi(GatewayState& state, metrics::Registry& registry, std::string token,
                   ApplyFn apply)
    : state_(state), registry_(registry), token_(std::move(token)), apply_(std::move(apply)) {
  if (!apply_) apply_ = [this](const GatewayConfig& c) { return state_.apply(c); };
}

std::optional<Response> AdminApi::admit(const http::RequestHeader& head,
                                        const http::RequestContext& /*ctx*/) {
  const http::Target target = http::split_target(head.target());
  if (target.path == "/metrics" || target.path == "/health") {
    if (head.method() != bhttp::verb::get) return method_not_allowed("GET");
    return std::nullopt;
  }
  auto segments = decode_segments(target.path);
  if (!segments) return bad_request("the request path is not validly percent-encoded");
  if (segments->size() < 3 || (*segments)[0] != "admin" || (*segments)[1] != "v1") {
    return not_found("no such admin route; see /admin/v1/config, /admin/v1/stats");
  }
  if (auto denied = check_auth(head)) return std::move(*denied);
  const Segments rest(segments->begin() + 2, segments->end());
  const std::string_view route = route_template(rest);
  if (route == "unknown") return not_found("no such admin route: " + std::string(head.target()));
  const std::string_view allow = allowed_methods(route);
  if (!http::method_in(head.method(), allow)) {
    Response r = method_not_allowed(allow);
    r.route = route;
    return r;
  }
  return std::nullopt;
}

http::BodyPlan AdminApi::plan_body(const http::RequestHeader& head) {
  const auto m = head.method();
  const bool takes_body = m == bhttp::verb::put || m == bhttp::verb::post;
  return {http::BodyPlan::Mode::kBuffered, takes_body ? kMaxBodyBytes : 0};
}

Response AdminApi::handle(http::Request& req, const http::RequestContext& /*ctx*/) {
  const http::Target target = http::split_target(req.target());
  const bool get = req.method() == bhttp::verb::get;
  if (target.path == "/metrics") {
    if (!get) return method_not_allowed("GET");
    Response r;
    r.route = "/metrics";
    r.msg.set(bhttp::field::content_type, kPrometheusType);
    r.msg.body() = registry_.render();
    return r;
  }
  if (target.path == "/health") {
    if (!get) return method_not_allowed("GET");
    auto table = state_.table();
    Response r = json_ok({{"status", "ok"}, {"generation", table ? table->generation : 0}});
    r.route = "/health";
    return r;
  }
  auto segments = decode_segments(target.path);
  if (!segments) return bad_request("the request path is not validly percent-encoded");
  if (segments->size() < 3 || (*segments)[0] != "admin" || (*segments)[1] != "v1") {
    return not_found("no such admin route; see /admin/v1/config, /admin/v1/stats");
  }
  if (auto denied = check_auth(req)) return std::move(*denied);
  Segments rest(segments->begin() + 2, segments->end());
  Response r = route_admin(req, rest, target.query);
  r.route = route_template(rest);
  return r;
}

std::optional<Response> AdminApi::check_auth(const http::RequestHeader& req) const {
  if (token_.empty()) {
    return http::json_error(bhttp::status::forbidden, "permission_denied",
                            "admin API disabled: set the token env var (admin.token_env, "
                            "default STREAMGATE_ADMIN_TOKEN) and restart the gateway");
  }
  auto it = req.find(bhttp::field::authorization);
  std::string_view given;
  if (it != req.end()) given = it->value();
  const http::BearerCheck check = http::check_bearer(given, std::span(&token_, 1));
  if (check == http::BearerCheck::kAccepted) return std::nullopt;
  if (check == http::BearerCheck::kMissing) {
    Response r = http::json_error(bhttp::status::unauthorized, "unauthenticated",
                                  "the admin API needs an 'Authorization: Bearer TOKEN' header");
    r.msg.set(bhttp::field::www_authenticate, "Bearer");
    return r;
  }
  return http::json_error(bhttp::status::forbidden, "permission_denied",
                          "the bearer token is not valid for the admin API");
}

Response AdminApi::route_admin(http::Request& req, const Segments& path, std::string_view query) {
  const std::string& head = path[0];
  if (head == "config" && path.size() == 1) return config_route(req);
  if (head == "route" && path.size() == 1) {
    if (req.method() != bhttp::verb::put) return method_not_allowed("PUT");
    return put_route(req);
  }
  if (head == "tracks") return tracks_route(req, path);
  if (head == "endpoints") return endpoints_route(req, path);
  if (head == "stats") return stats_route(req, path, query);
  if (head == "sessions" && path.size() == 1) {
    if (req.method() != bhttp::verb::get) return method_not_allowed("GET");
    auto within = parse_sessions_query(query);
    if (!within) return http::error_response(within.error());
    auto table = state_.table();
    if (!table) return not_found("no configuration applied yet");
    return json_ok(sessions_json(*table, state_.sessions(), *within));
  }
  return not_found("no such admin route: " + std::string(req.target()));
}

Response AdminApi::config_route(http::Request& req) {
  if (req.method() == bhttp::verb::get) {
    auto table = state_.table();
    if (!table) return not_found("no configuration applied yet");
    Response r;
    r.msg.set(bhttp::field::content_type, "application/json");
    r.msg.body() = gateway_config_to_json_text(table->config);
    return r;
  }
  if (req.method() == bhttp::verb::put) return put_config(req);
  return method_not_allowed("GET, PUT");
}

Response AdminApi::tracks_route(http::Request& req, const Segments& path) {
  const auto method = req.method();
  if (path.size() == 2) {
    if (method == bhttp::verb::put) return put_track(req, path[1]);
    if (method == bhttp::verb::delete_) return delete_track(path[1]);
    return method_not_allowed("PUT, DELETE");
  }
  if (path.size() == 3 && path[2] == "endpoints") {
    if (method == bhttp::verb::post) return add_endpoint(req, path[1]);
    return method_not_allowed("POST");
  }
  if (path.size() == 4 && path[2] == "endpoints") {
    if (method == bhttp::verb::delete_) return remove_endpoint(path[1], path[3]);
    return method_not_allowed("DELETE");
  }
  return not_found("no such admin route: " + std::string(req.target()));
}

Response AdminApi::endpoints_route(http::Request& req, const Segments& path) {
  if (path.size() == 2) {
    if (req.method() == bhttp::verb::get) return get_endpoint(path[1]);
    return method_not_allowed("GET");
  }
  if (path.size() == 3 && path[2] == "drain") {
    if (req.method() == bhttp::verb::post) return drain_endpoint(path[1]);
    return method_not_allowed("POST");
  }
  return not_found("no such admin route: " + std::string(req.target()));
}

Response AdminApi::stats_route(const http::Request& req, const Segments& path,
                               std::string_view query) {
  const bool histogram = path.size() == 2 && path[1] == "histogram";
  if (path.size() != 1 && !histogram) {
    return not_found("no such admin route: " + std::string(req.target()));
  }
  if (req.method() != bhttp::verb::get) return method_not_allowed("GET");
  auto q = parse_stats_query(query);
  if (!q) return http::error_response(q.error());
  auto table = state_.table();
  if (!table) return not_found("no configuration applied yet");
  if (!histogram) {
    if (q->windows.empty())
      q->windows.assign(std::begin(kDefaultWindows), std::end(kDefaultWindows));
    return json_ok(stats_json(*table, q->windows));
  }
  if (q->track.empty()) return bad_request("track: the query parameter track=NAME is required");
  const Track* track = find_track(*table, q->track);
  if (!track) return not_found("track '" + q->track + "' is not configured");
  const int window = q->windows.empty() ? kDefaultHistogramWindow : q->windows.back();
  return json_ok(histogram_json(*table, *track, window, q->upstream));
}

Response AdminApi::change(const std::function<Status(GatewayConfig&)>& edit,
                          bhttp::status ok_status) {
  std::lock_guard lock(edit_mu_);
  auto table = state_.table();
  if (!table) {
    return http::json_error(bhttp::status::service_unavailable, "unavailable",
                            "no configuration applied yet; try again");
  }
  GatewayConfig next = table->config;
  if (Status st = edit(next); !st) return http::error_response(st.error());
  if (Status st = apply_(next); !st) return http::error_response(st.error());
  return json_ok({{"generation", state_.table()->generation}}, ok_status);
}

Response AdminApi::put_config(const http::Request& req) {
  auto parsed = parse_gateway_config_json(req.body());
  if (!parsed) return http::error_response(parsed.error());
  return change(
      [&](GatewayConfig& c) {
        c = std::move(*parsed);
        return Status::ok();
      },
      bhttp::status::ok);
}

Response AdminApi::put_route(const http::Request& req) {
  auto body = parse_object(req.body(), "route");
  if (!body) return http::error_response(body.error());
  return change(
      [&](GatewayConfig& c) -> Status {
        json::value whole = gateway_config_to_json(c);
        json::object& route = whole.as_object()["route"].as_object();
        json::object next = *body;
        // A weight change keeps the stickiness unless the caller says otherwise.
        if (!next.contains("sticky") && route.contains("sticky")) next["sticky"] = route["sticky"];
        if (auto* s = next.if_contains("sticky"); s && s->is_null()) next.erase("sticky");
        route = std::move(next);
        auto parsed = gateway_config_from_json(whole);
        if (!parsed) return parsed.error();
        c = std::move(*parsed);
        return Status::ok();
      },
      bhttp::status::ok);
}

Response AdminApi::put_track(const http::Request& req, const std::string& name) {
  auto body = parse_object(req.body(), "tracks." + name);
  if (!body) return http::error_response(body.error());
  return change(
      [&](GatewayConfig& c) -> Status {
        json::value whole = gateway_config_to_json(c);
        whole.as_object()["tracks"].as_object()[name] = *body;
        auto parsed = gateway_config_from_json(whole);
        if (!parsed) return parsed.error();
        c = std::move(*parsed);
        return Status::ok();
      },
      bhttp::status::ok);
}

Response AdminApi::delete_track(const std::string& name) {
  return change(
      [&](GatewayConfig& c) -> Status {
        if (!c.tracks.contains(name)) {
          return make_error(ErrorCode::kNotFound, "track '" + name + "' is not configured");
        }
        auto& weights = c.route.weights;
        for (const auto& w : weights) {
          if (w.track == name && w.weight > 0) {
            return invalid("track '" + name + "' still has weight " + std::to_string(w.weight) +
                           " in the route; set it to 0 first (PUT /admin/v1/route)");
          }
        }
        std::erase_if(weights, [&](const TrackWeight& w) { return w.track == name; });
        c.tracks.erase(name);
        return Status::ok();
      },
      bhttp::status::ok);
}

Response AdminApi::add_endpoint(const http::Request& req, const std::string& track) {
  auto body = parse_object(req.body(), "endpoint");
  if (!body) return http::error_response(body.error());
  for (const auto& [key, value] : *body) {
    if (key != "address") return bad_request("endpoint." + std::string(key) + ": unknown key");
  }
  const json::value* address = body->if_contains("address");
  if (!address || !address->is_string()) {
    return bad_request("endpoint.address: required, a string \"HOST:PORT\"");
  }
  const std::string addr(address->as_string());
  return change(
      [&](GatewayConfig& c) -> Status {
        auto it = c.tracks.find(track);
        if (it == c.tracks.end()) {
          return make_error(ErrorCode::kNotFound, "track '" + track + "' is not configured");
        }
        auto& endpoints = it->second.endpoints;
        if (std::find(endpoints.begin(), endpoints.end(), addr) != endpoints.end()) {
          return make_error(ErrorCode::kConflict,
                            "track '" + track + "' already has endpoint '" + addr + "'");
        }
        endpoints.push_back(addr);
        return Status::ok();
      },
      bhttp::status::created);
}

Response AdminApi::remove_endpoint(const std::string& track, const std::string& address) {
  return change(
      [&](GatewayConfig& c) -> Status {
        auto it = c.tracks.find(track);
        if (it == c.tracks.end()) {
          return make_error(ErrorCode::kNotFound, "track '" + track + "' is not configured");
        }
        auto& endpoints = it->second.endpoints;
        auto pos = std::find(endpoints.begin(), endpoints.end(), address);
        if (pos == endpoints.end()) {
          return make_error(ErrorCode::kNotFound,
                            "track '" + track + "' has no endpoint '" + address + "'");
        }
        endpoints.erase(pos);
        return Status::ok();
      },
      bhttp::status::ok);
}

Response AdminApi::drain_endpoint(const std::string& address) {
  auto ep = state_.find_endpoint(address);
  if (!ep) return not_found("endpoint '" + address + "' is not in the current configuration");
  ep->start_drain();
  return json_ok({{"address", address}, {"draining", true}, {"outstanding", ep->outstanding()}},
                 bhttp::status::accepted);
}

Response AdminApi::get_endpoint(const std::string& address) {
  auto ep = state_.find_endpoint(address);
  if (!ep) return not_found("endpoint '" + address + "' is not in the current configuration");
  json::object o = endpoint_state_json(*ep, Clock::now());
  o["address"] = address;
  o["drained"] = ep->drained();
  return json_ok(o);
}

}  // namespace sg::gateway
