#include "server/content_api.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <random>

#include "common/http/allow.hpp"
#include "common/http/bearer.hpp"
#include "common/http/url.hpp"
#include "common/json_text.hpp"
#include "common/log.hpp"
#include "common/random_hex.hpp"
#include "server/content_json.hpp"
#include "server/routes.hpp"

namespace sg::server {
namespace bhttp = http::bhttp;
namespace json = boost::json;
using http::Response;

namespace {

constexpr std::string_view kRouteHealth = "/health";
constexpr std::string_view kRouteLivez = "/livez";
constexpr std::string_view kRouteReady = "/ready";
constexpr std::string_view kRouteReadyz = "/readyz";
constexpr std::string_view kRouteApiHealth = "/api/v1/health";
constexpr std::string_view kRouteMetrics = "/metrics";
constexpr std::string_view kRouteCollection = "/api/v1/content";
constexpr std::string_view kRouteItem = "/api/v1/content/{id}";
constexpr std::string_view kRouteMedia = "/api/v1/content/{id}/media";
constexpr std::string_view kRouteUnknown = "unknown";
constexpr std::string_view kItemPrefix = "/api/v1/content/";
constexpr std::string_view kRoutePlayback = routes::kPlayback;
constexpr std::string_view kRouteMaster = routes::kMaster;
constexpr std::string_view kRouteMediaPlaylist = routes::kMediaPlaylist;
constexpr std::string_view kRouteHlsFile = routes::kHlsFile;
constexpr std::string_view kRouteWatch = routes::kWatch;
constexpr std::string_view kRouteStatic = routes::kStatic;
using routes::kStaticPrefix;
using routes::kWatchPrefix;
constexpr int kMaxListLimit = 100;
constexpr int kWriteRetries = 3;

bool valid_file_name(std::string_view name) {
  if (name.empty() || name.size() > 200 || name.front() == '.') return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

std::string new_id() {
  std::string id = random_hex(32);
  // Shape it as a UUID v4: 8-4-4-4-12 with version and variant nibbles.
  id[12] = '4';
  id[16] = "89ab"[static_cast<unsigned char>(id[16]) % 4];
  return id.substr(0, 8) + "-" + id.substr(8, 4) + "-" + id.substr(12, 4) + "-" + id.substr(16, 4) +
         "-" + id.substr(20, 12);
}

bool is_write(bhttp::verb v) {
  return v == bhttp::verb::post || v == bhttp::verb::put || v == bhttp::verb::patch ||
         v == bhttp::verb::delete_;
}

// The methods a route answers, as an Allow value.
std::string_view allowed_methods(std::string_view route) {
  if (route == kRouteCollection) return "GET, HEAD, POST";
  if (route == kRouteItem) return "GET, HEAD, PUT, PATCH, DELETE";
  if (route == kRouteMedia) return "GET, HEAD, PUT";
  if (route == kRoutePlayback) return "POST";
  return "GET, HEAD";
}

// The Content-Length of a request head when it has a valid one.
std::optional<std::uint64_t> declared_length(const http::RequestHeader& head) {
  auto cl = head.find(bhttp::field::content_length);
  if (cl == head.end()) return std::nullopt;
  std::uint64_t n = 0;
  auto v = cl->value();
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
  return n;
}

Response method_not_allowed(std::string_view allow) {
  Response r = http::json_error(bhttp::status::method_not_allowed, "method_not_allowed",
                                "method not allowed here; allowed: " + std::string(allow));
  r.msg.set(bhttp::field::allow, allow);
  return r;
}

Response json_ok(std::string body, bhttp::status status = bhttp::status::ok) {
  Response r;
  r.msg.result(status);
  r.msg.set(bhttp::field::content_type, "application/json");
  r.msg.body() = std::move(body);
  return r;
}

// If-Match: nullopt when absent. "*" gives an empty vector with any=true.
struct IfMatch {
  bool any = false;
  std::vector<std::int64_t> revisions;
};
std::optional<IfMatch> parse_if_match(const http::RequestHeader& head) {
  auto it = head.find(bhttp::field::if_match);
  if (it == head.end()) return std::nullopt;
  IfMatch m;
  std::string_view v = it->value();
  while (!v.empty()) {
    const auto comma = v.find(',');
    std::string_view tag = v.substr(0, comma);
    v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag == "*") m.any = true;
    if (tag.size() >= 3 && tag.front() == '"' && tag.back() == '"') {
      std::int64_t rev = 0;
      auto inner = tag.substr(1, tag.size() - 2);
      auto [p, ec] = std::from_chars(inner.data(), inner.data() + inner.size(), rev);
      if (ec == std::errc() && p == inner.data() + inner.size()) m.revisions.push_back(rev);
    }
  }
  return m;
}

bool if_match_allows(const IfMatch& m, std::int64_t revision) {
  if (m.any) return true;
  for (auto r : m.revisions) {
    if (r == revision) return true;
  }
  return false;
}

bool etag_list_contains(std::string_view header, std::string_view etag) {
  if (header == "*") return true;
  while (!header.empty()) {
    const auto comma = header.find(',');
    std::string_view tag = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);  // weak comparison for If-None-Match
    if (tag == etag) return true;
  }
  return false;
}

std::string cache_key(std::string_view id) { return "content:" + std::string(id); }

std::string_view method_label(std::string_view method) {
  static constexpr std::string_view kKnown[] = {"GET",   "HEAD",   "POST",   "PUT",
                                                "PATCH", "DELETE", "OPTIONS"};
  for (auto m : kKnown) {
    if (m == method) return m;
  }
  return "other";
}

}  // namespace

RouteMatch match_route(std::string_view path) {
  for (std::string_view fixed : {kRouteHealth, kRouteLivez, kRouteReady, kRouteReadyz,
                                 kRouteApiHealth, kRouteMetrics, kRouteCollection}) {
    if (path == fixed) return {fixed, {}, {}};
  }
  if (path == "/api/v1/content/") return {kRouteCollection, {}, {}};
  if (path.starts_with(kWatchPrefix)) {
    const std::string_view id = path.substr(kWatchPrefix.size());
    return valid_id(id) ? RouteMatch{kRouteWatch, id, {}} : RouteMatch{kRouteUnknown, {}, {}};
  }
  if (path.starts_with(kStaticPrefix)) return {kRouteStatic, {}, path.substr(kStaticPrefix.size())};
  if (!path.starts_with(kItemPrefix)) return {kRouteUnknown, {}, {}};
  std::string_view rest = path.substr(kItemPrefix.size());
  const auto slash = rest.find('/');
  const std::string_view id = rest.substr(0, slash);
  if (!valid_id(id)) return {kRouteUnknown, {}, {}};
  if (slash == std::string_view::npos) return {kRouteItem, id, {}};
  const std::string_view tail = rest.substr(slash);
  if (tail == "/media") return {kRouteMedia, id, {}};
  if (tail == "/playback") return {kRoutePlayback, id, {}};
  if (tail == "/hls/master.m3u8") return {kRouteMaster, id, {}};
  if (tail == "/hls/media.m3u8") return {kRouteMediaPlaylist, id, {}};
  if (tail.starts_with("/hls/") && valid_file_name(tail.substr(5))) {
    return {kRouteHlsFile, id, tail.substr(5)};
  }
  return {kRouteUnknown, {}, {}};
}

std::string_view match_route(std::string_view path, std::string_view& id) {
  const RouteMatch m = match_route(path);
  id = m.id;
  return m.route;
}

std::unique_ptr<media::StreamSessions> own_sessions_if(media::StreamSessions* given,
                                                       const media::SessionLimits& limits) {
  if (given != nullptr) return nullptr;
  return std::make_unique<media::MemorySessions>(limits);
}

ContentApi::ContentApi(ApiOptions options, Storage& storage, Cache& cache, MediaStore& media,
                       ServerMetrics& metrics, media::StreamSessions* sessions)
    : opts_(std::move(options)),
      cors_(opts_.cors_origins, opts_.cors_write_origins),
      storage_(storage),
      cache_(cache),
      media_(media),
      metrics_(metrics),
      owned_sessions_(own_sessions_if(sessions, opts_.sessions)),
      sessions_(sessions != nullptr ? *sessions : *owned_sessions_) {
  if (!opts_.playback_keys.empty()) signer_.emplace(opts_.playback_keys);
}

std::optional<Response> ContentApi::admit(const http::RequestHeader& head,
                                          const http::RequestContext&) {
  const std::string_view path = http::split_target(head.target()).path;
  std::string_view id;
  const std::string_view route = match_route(path, id);
  auto refuse = [this, route, &head](Response r) {
    r.route = route;
    cors_.decorate(head, r);  // a browser page may read why it was refused
    return std::optional<Response>(std::move(r));
  };
  if (route == kRouteUnknown) {
    return refuse(http::json_error(bhttp::status::not_found, "not_found",
                                   "no route for " + std::string(path)));
  }
  const auto method = head.method();
  if (method == bhttp::verb::options) return std::nullopt;  // Allow, or a CORS preflight
  if (is_write(method) && route != kRoutePlayback) {
    if (auto denied = check_write_auth(head)) return refuse(std::move(*denied));
  }
  const std::string_view allow = allowed_methods(route);
  if (!http::method_in(method, allow)) return refuse(method_not_allowed(allow));
  if (route == kRouteMedia && method == bhttp::verb::put) {
    if (auto cl = declared_length(head); cl && *cl > opts_.max_media_bytes) {
      return refuse(http::json_error(bhttp::status::payload_too_large, "too_large",
                                     "media of " + std::to_string(*cl) +
                                         " bytes exceeds the limit of " +
                                         std::to_string(opts_.max_media_bytes)));
    }
  }
  return std::nullopt;
}

http::BodyPlan ContentApi::plan_body(const http::RequestHeader& head) {
  std::string_view id;
  auto route = match_route(http::split_target(head.target()).path, id);
  const auto method = head.method();
  if (route == kRouteMedia && method == bhttp::verb::put) {
    return {http::BodyPlan::Mode::kStream, opts_.max_media_bytes};
  }
  // Reads, deletes and POST .../playback carry no body: one announced is refused (413) unread.
  const bool takes_body =
      route != kRoutePlayback &&
      (method == bhttp::verb::post || method == bhttp::verb::put || method == bhttp::verb::patch);
  return {http::BodyPlan::Mode::kBuffered, takes_body ? opts_.max_body_bytes : 0};
}

std::optional<Response> ContentApi::handle_nonblocking(http::Request& req,
                                                       const http::RequestContext& ctx) {
  const auto target = http::split_target(req.target());
  std::string_view id;
  const std::string_view route = match_route(target.path, id);
  if (route == kRouteHealth || route == kRouteLivez || route == kRouteMetrics ||
      req.method() == bhttp::verb::options) {
    return handle(req, ctx);  // no storage, no cache: never blocks
  }
  const bool read = req.method() == bhttp::verb::get || req.method() == bhttp::verb::head;
  if (route != kRouteItem || !read || cache_.may_block() || opts_.chaos_error_rate > 0) {
    return std::nullopt;
  }
  auto hit = cached_item(req, id);
  if (!hit) return std::nullopt;
  Response r = finish(std::move(*hit), target.path, route);
  cors_.decorate(req, r);
  return r;
}

Response ContentApi::handle(http::Request& req, const http::RequestContext& ctx) {
  auto target = http::split_target(req.target());
  std::string_view id;
  const std::string_view route = match_route(target.path, id);
  const bool api = target.path.starts_with("/api/");
  thread_local std::mt19937_64 rng{std::random_device{}()};
  if (api && opts_.chaos_error_rate > 0 &&
      std::uniform_real_distribution<double>(0, 1)(rng) < opts_.chaos_error_rate) {
    Response r = finish(http::json_error(bhttp::status::internal_server_error, "injected_fault",
                                         "fault injected by --chaos-error-rate (drill)"),
                        target.path, route);
    cors_.decorate(req, r);
    return r;
  }
  if (route == kRouteHlsFile && opts_.chaos_segment_error_rate > 0 &&
      std::uniform_real_distribution<double>(0, 1)(rng) < opts_.chaos_segment_error_rate) {
    metrics_.hls_requests.with({"segment", "error"}).inc();
    Response r = finish(http::json_error(bhttp::status::internal_server_error, "injected_fault",
                                         "fault injected by --chaos-segment-error-rate (drill)"),
                        target.path, route);
    cors_.decorate(req, r);
    return r;
  }
  Response r = finish(dispatch(req, target.path, target.query, ctx), target.path, route);
  cors_.decorate(req, r);
  return r;
}

Response ContentApi::finish(Response r, std::string_view path, std::string_view route) {
  r.route = route;
  if (path.starts_with("/api/")) r.delay = opts_.chaos_latency;
  if (route == kRouteHlsFile) r.delay += opts_.chaos_segment_delay;
  return r;
}

Response ContentApi::dispatch(http::Request& req, std::string_view path, std::string_view query,
                              const http::RequestContext& ctx) {
  std::string_view id;
  const std::string_view route = match_route(path, id);
  const auto method = req.method();
  const bool read = method == bhttp::verb::get || method == bhttp::verb::head;
  if (route == kRouteUnknown) {
    return http::json_error(bhttp::status::not_found, "not_found",
                            "no route for " + std::string(path));
  }
  if (method == bhttp::verb::options) return cors_.options(req.base(), allowed_methods(route));
  // POST .../playback issues a session and writes nothing: public like reads.
  if (is_write(method) && route != kRoutePlayback) {
    if (auto denied = check_write_auth(req.base())) return std::move(*denied);
  }
  if (route == kRouteHealth || route == kRouteLivez) {
    return read ? json_ok("{\"status\":\"ok\"}\n") : method_not_allowed("GET, HEAD");
  }
  if (route == kRouteReady || route == kRouteReadyz) {
    return read ? readiness(ctx) : method_not_allowed("GET, HEAD");
  }
  if (route == kRouteApiHealth) return read ? api_health(ctx) : method_not_allowed("GET, HEAD");
  if (route == kRouteMetrics) {
    if (!read) return method_not_allowed("GET, HEAD");
    Response r;
    r.msg.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    r.msg.body() = metrics_.registry.render();
    return r;
  }
  if (route == kRouteCollection) {
    if (read) return list(query, ctx);
    if (method == bhttp::verb::post) return create(req, ctx);
    return method_not_allowed("GET, HEAD, POST");
  }
  if (route == kRouteItem) {
    if (read) return get(req, id, ctx);
    if (method == bhttp::verb::put) return replace(req, id, false, ctx);
    if (method == bhttp::verb::patch) return replace(req, id, true, ctx);
    if (method == bhttp::verb::delete_) return remove(req, id, ctx);
    return method_not_allowed("GET, HEAD, PUT, PATCH, DELETE");
  }
  if (route == kRoutePlayback) {
    return method == bhttp::verb::post ? playback_start(id, ctx) : method_not_allowed("POST");
  }
  if (route == kRouteMaster || route == kRouteMediaPlaylist || route == kRouteHlsFile) {
    return read ? hls_get(req, match_route(path), query, ctx) : method_not_allowed("GET, HEAD");
  }
  if (route == kRouteWatch) return read ? watch_page(id, ctx) : method_not_allowed("GET, HEAD");
  if (route == kRouteStatic)
    return read ? static_asset(match_route(path)) : method_not_allowed("GET, HEAD");
  // kRouteMedia; PUT arrives through open_sink.
  if (read) return media_get(req, id, ctx);
  return method_not_allowed("GET, HEAD, PUT");
}

std::optional<Response> ContentApi::check_write_auth(const http::RequestHeader& head) const {
  auto it = head.find(bhttp::field::authorization);
  std::string_view given;
  if (it != head.end()) given = it->value();
  const http::BearerCheck check = http::check_bearer(given, opts_.api_tokens);
  if (check == http::BearerCheck::kAccepted) return std::nullopt;
  if (check == http::BearerCheck::kMissing) {
    Response r = http::json_error(bhttp::status::unauthorized, "unauthenticated",
                                  "writes need an 'Authorization: Bearer TOKEN' header");
    r.msg.set(bhttp::field::www_authenticate, "Bearer");
    return r;
  }
  if (opts_.api_tokens.empty()) {
    return http::json_error(bhttp::status::forbidden, "permission_denied",
                            "writes are disabled: no API token is configured (--api-token)");
  }
  return http::json_error(bhttp::status::forbidden, "permission_denied",
                          "the bearer token is not valid");
}

Response ContentApi::failed(const Error& error, const http::RequestContext& ctx) const {
  const bhttp::status status = http::status_for(error.code);
  if (static_cast<unsigned>(status) < 500) return http::error_response(error);
  // Driver messages, file paths and URLs stay in the log, under the request id.
  log::error("request failed", {{"request_id", ctx.request_id},
                                {"code", error_code_name(error.code)},
                                {"error", error.message}});
  std::string message = error.code == ErrorCode::kUnavailable
                            ? "a dependency of the service is unavailable; retry later"
                        : error.code == ErrorCode::kTimeout
                            ? "a dependency of the service timed out"
                            : "internal error";
  return http::json_error(status, error_code_name(error.code),
                          message + " (request id " + ctx.request_id + ")");
}

Response ContentApi::readiness(const http::RequestContext& ctx) {
  if (draining_) return json_ok("{\"status\":\"draining\"}\n", bhttp::status::service_unavailable);
  Status st = storage_.ping();
  if (!st) {
    log::warn("not ready: storage is not reachable",
              {{"request_id", ctx.request_id}, {"error", st.error().message}});
    return http::json_error(bhttp::status::service_unavailable, "storage_unavailable",
                            "storage is not reachable (request id " + ctx.request_id + ")");
  }
  // A failing cache degrades performance, not correctness: still ready.
  return json_ok(cache_.ping() ? "{\"status\":\"ok\"}\n"
                               : "{\"status\":\"ok\",\"cache\":\"degraded\"}\n");
}

Response ContentApi::api_health(const http::RequestContext& ctx) {
  auto check = [&ctx](auto&& ping, std::string_view backend, bool optional) {
    const auto start = std::chrono::steady_clock::now();
    Status st = ping();
    json::object c;
    c["status"] = st ? "ok" : (optional ? "degraded" : "unavailable");
    c["backend"] = backend;
    c["latency_ms"] =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (!st) {
      log::warn(
          "health check failed",
          {{"request_id", ctx.request_id}, {"backend", backend}, {"error", st.error().message}});
    }
    return std::make_pair(st.is_ok(), std::move(c));
  };
  auto [storage_ok, storage] = check([&] { return storage_.ping(); }, storage_.backend(), false);
  auto [cache_ok, cache] = check([&] { return cache_.ping(); }, cache_.backend(), true);
  json::object o;
  o["status"] = !storage_ok ? "unavailable" : draining_ ? "draining" : cache_ok ? "ok" : "degraded";
  o["version"] = opts_.version_label;
  o["uptime_seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  o["checks"] = json::object{{"storage", std::move(storage)}, {"cache", std::move(cache)}};
  return json_ok(json_text(o) + "\n",
                 storage_ok ? bhttp::status::ok : bhttp::status::service_unavailable);
}

Response ContentApi::item_response(const Content& item, bhttp::status status) {
  Response r = json_ok(content_to_json(item), status);
  r.msg.set(bhttp::field::etag, etag_for_revision(item.revision));
  return r;
}

void ContentApi::invalidate(std::string_view id) {
  if (Status st = cache_.erase(cache_key(id)); !st) {
    log::warn("cache invalidation failed; entry may be stale until its TTL",
              {{"id", id}, {"error", st.error().message}});
  }
}

Response ContentApi::list(std::string_view query, const http::RequestContext& ctx) {
  auto params = http::parse_query(query);
  if (!params)
    return http::json_error(bhttp::status::bad_request, "invalid_argument",
                            "malformed query string");
  ListQuery q;
  for (const auto& [k, v] : *params) {
    if (k == "limit") {
      int limit = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), limit);
      if (ec != std::errc() || p != v.data() + v.size() || limit < 1 || limit > kMaxListLimit) {
        return http::json_error(bhttp::status::bad_request, "invalid_argument",
                                "query parameter 'limit' must be an integer 1..100");
      }
      q.limit = limit;
    } else if (k == "cursor") {
      std::int64_t seq = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), seq);
      if (ec != std::errc() || p != v.data() + v.size() || seq < 0) {
        return http::json_error(bhttp::status::bad_request, "invalid_argument",
                                "query parameter 'cursor' is not a cursor this API returned");
      }
      q.after_seq = seq;
    } else if (k == "tag") {
      if (v.empty() || v.size() > 64) {
        return http::json_error(bhttp::status::bad_request, "invalid_argument",
                                "query parameter 'tag' must be 1..64 bytes");
      }
      q.tag = v;
    } else {
      return http::json_error(bhttp::status::bad_request, "invalid_argument",
                              "unknown query parameter '" + k + "' (expected limit, cursor, tag)");
    }
  }
  auto page = storage_.list(q);
  if (!page) return failed(page.error(), ctx);
  std::string body = "{\"items\":[";
  for (std::size_t i = 0; i < page->items.size(); ++i) {
    if (i) body += ',';
    body += content_to_json(page->items[i]);
  }
  body += "],\"next_cursor\":";
  body += page->next_after_seq ? "\"" + std::to_string(*page->next_after_seq) + "\"" : "null";
  body += "}\n";
  return json_ok(std::move(body));
}

Response ContentApi::create(const http::Request& req, const http::RequestContext& ctx) {
  auto fields = parse_content_fields(req.body());
  if (!fields) return http::error_response(fields.error());
  Content item;
  item.id = new_id();
  item.fields = std::move(*fields);
  item.created_at = item.updated_at = log::now_rfc3339();
  auto created = storage_.create(item);
  if (!created) return failed(created.error(), ctx);
  Response r = item_response(*created, bhttp::status::created);
  r.msg.set(bhttp::field::location, "/api/v1/content/" + created->id);
  return r;
}

namespace {

// The answer to a read of an item whose ETag and JSON are known: 304 when If-None-Match
// names the ETag, else 200 with the JSON.
Response item_read(const http::Request& req, std::string etag, std::string body) {
  if (auto inm = req.find(bhttp::field::if_none_match);
      inm != req.end() && etag_list_contains(inm->value(), etag)) {
    Response r;
    r.msg.result(bhttp::status::not_modified);
    r.msg.set(bhttp::field::etag, etag);
    return r;
  }
  Response r = json_ok(std::move(body));
  r.msg.set(bhttp::field::etag, etag);
  return r;
}

}  // namespace

std::optional<Response> ContentApi::cached_item(const http::Request& req, std::string_view id) {
  CacheLookup hit = cache_.get(cache_key(id));
  if (hit.outcome != CacheLookup::Outcome::kHit) return std::nullopt;
  metrics_.cache_hit.inc();
  const auto nl = hit.value.find('\n');
  std::string etag = hit.value.substr(0, nl);
  std::string body = hit.value.substr(nl == std::string::npos ? hit.value.size() : nl + 1);
  return item_read(req, std::move(etag), std::move(body));
}

Response ContentApi::get(const http::Request& req, std::string_view id,
                         const http::RequestContext& ctx) {
  const std::string key = cache_key(id);
  CacheLookup hit = cache_.get(key);
  if (hit.outcome == CacheLookup::Outcome::kHit) {
    metrics_.cache_hit.inc();
    const auto nl = hit.value.find('\n');
    return item_read(req, hit.value.substr(0, nl),
                     hit.value.substr(nl == std::string::npos ? hit.value.size() : nl + 1));
  }
  (hit.outcome == CacheLookup::Outcome::kMiss ? metrics_.cache_miss : metrics_.cache_error).inc();
  auto item = storage_.get(id);
  if (!item) return failed(item.error(), ctx);
  std::string etag = etag_for_revision(item->revision);
  std::string body = content_to_json(*item);
  cache_.set(key, etag + "\n" + body, opts_.cache_ttl);
  return item_read(req, std::move(etag), std::move(body));
}

Response ContentApi::replace(const http::Request& req, std::string_view id, bool patch,
                             const http::RequestContext& ctx) {
  const auto if_match = parse_if_match(req.base());
  std::optional<ContentFields> full;
  if (!patch) {
    auto parsed = parse_content_fields(req.body());
    if (!parsed) return http::error_response(parsed.error());
    full = std::move(*parsed);
  }
  // Read-modify-write with the revision as the guard. With If-Match the client's view must
  // still be current; without it we retry a few times when another writer slips in.
  for (int attempt = 0; attempt < kWriteRetries; ++attempt) {
    auto current = storage_.get(id);
    if (!current) return failed(current.error(), ctx);
    if (if_match && !if_match_allows(*if_match, current->revision)) {
      return http::json_error(
          bhttp::status::precondition_failed, "precondition_failed",
          "If-Match does not match the current ETag " + etag_for_revision(current->revision));
    }
    ContentFields fields;
    if (patch) {
      auto merged = apply_content_patch(req.body(), current->fields);
      if (!merged) return http::error_response(merged.error());
      fields = std::move(*merged);
    } else {
      fields = *full;
    }
    auto updated = storage_.update(id, current->revision, fields, log::now_rfc3339());
    if (updated) {
      invalidate(id);
      return item_response(*updated, bhttp::status::ok);
    }
    if (updated.error().code != ErrorCode::kPreconditionFailed || if_match) {
      if (updated.error().code == ErrorCode::kPreconditionFailed) invalidate(id);
      return failed(updated.error(), ctx);
    }
  }
  return http::json_error(bhttp::status::conflict, "conflict",
                          "the item kept changing during the update; retry");
}

Response ContentApi::remove(const http::Request& req, std::string_view id,
                            const http::RequestContext& ctx) {
  const auto if_match = parse_if_match(req.base());
  std::optional<std::int64_t> expected;
  if (if_match && !if_match->any) {
    auto current = storage_.get(id);
    if (!current) return failed(current.error(), ctx);
    if (!if_match_allows(*if_match, current->revision)) {
      return http::json_error(
          bhttp::status::precondition_failed, "precondition_failed",
          "If-Match does not match the current ETag " + etag_for_revision(current->revision));
    }
    expected = current->revision;
  }
  auto removed = storage_.remove(id, expected);
  if (!removed) return failed(removed.error(), ctx);
  invalidate(id);
  if (removed->media) {
    media_.remove(removed->media->file);
    if (!removed->media->hls_file.empty()) media_.remove(removed->media->hls_file);
  }
  Response r;
  r.msg.result(bhttp::status::no_content);
  return r;
}

void ContentApi::on_complete(const http::CompletedExchange& e) {
  const std::string_view method =
      e.method.empty() ? std::string_view("other") : method_label(e.method);
  char code[8];
  auto [end, ec] = std::to_chars(code, code + sizeof code, e.status);
  const std::string_view code_sv(code, static_cast<std::size_t>(end - code));
  metrics_.requests.with({method, e.route, code_sv}).inc();
  metrics_.duration.with({method, e.route}).observe(e.latency_seconds);
  if (e.route == kRouteMedia) metrics_.media_bytes_sent.inc(e.body_bytes_sent);
  if (e.route == kRouteHlsFile) metrics_.hls_segment_bytes.inc(e.body_bytes_sent);
  if (!opts_.access_log) return;
  const log::Level level = e.status >= 500 || !e.completed ? log::Level::kError : log::Level::kInfo;
  log::write(level, "request",
             {{"method", e.method},
              {"path", http::split_target(e.target).path},
              {"route", e.route},
              {"status", e.status},
              {"latency_ms", e.latency_seconds * 1000.0},
              {"bytes", e.body_bytes_sent},
              {"completed", e.completed},
              {"request_id", e.request_id},
              {"version", opts_.version_label}});
}

}  // namespace sg::server
