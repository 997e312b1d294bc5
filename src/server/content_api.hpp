// streamgate-server's HTTP surface: health, readiness, metrics and the content API.
//
// Routes (templates are the `route` label of metrics and logs):
//   GET  /health /livez               liveness
//   GET  /ready /readyz               readiness: storage answers and not draining
//   GET  /api/v1/health               JSON status, version, uptime_seconds, checks
//   GET  /metrics                     Prometheus text format 0.0.4
//   GET  /api/v1/content              list: ?limit=1..100 (20) &cursor=OPAQUE &tag=TAG
//   POST /api/v1/content              create
//   GET|PUT|PATCH|DELETE /api/v1/content/{id}        (If-Match -> 412 on a stale ETag)
//   GET|PUT /api/v1/content/{id}/media               (GET honours Range: 206 / 416)
//   OPTIONS on any route                   Allow, or a CORS preflight (cors.hpp)
// Writes need "Authorization: Bearer TOKEN" with a configured token (401 without, 403 with a
// wrong one). 5xx answers name the request id and nothing else (no file paths, driver messages
// or URLs: those go to the log under that id). Route (404), method (405), token (401/403) and the
// announced body size (413) are decided from the head alone (admit()), before any byte of a body is
// read; methods that take no body (GET, HEAD, DELETE) accept none.
//
// Threads: admit(), plan_body() and handle_nonblocking() run on the HTTP server's I/O threads
// and never block: they answer /health, /livez, /metrics and item reads found in an
// in-process cache. Everything that touches storage, a remote cache or the media disk runs in
// handle() / open_sink() / the upload sink, which the server calls on its blocking pool. All
// state is thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/http/http_types.hpp"
#include "server/cache/cache.hpp"
#include "server/cors.hpp"
#include "server/media_store.hpp"
#include "server/server_metrics.hpp"
#include "server/storage/storage.hpp"

namespace sg::server {

struct ApiOptions {
  std::string version_label = SG_VERSION;
  std::vector<std::string> api_tokens;
  double chaos_error_rate = 0;                 // fraction of /api/ requests answered 500
  std::chrono::milliseconds chaos_latency{0};  // added to every /api/ request
  std::uint64_t max_body_bytes = 1024 * 1024;  // JSON request bodies
  std::uint64_t max_media_bytes = 8ULL << 30;  // media uploads
  std::chrono::seconds cache_ttl{5};
  bool access_log = true;
  // Origins a browser page may read from (cors.hpp; "*" for any) and write from.
  std::vector<std::string> cors_origins{};
  std::vector<std::string> cors_write_origins{};
};

class ContentApi final : public http::Handler {
 public:
  ContentApi(ApiOptions options, Storage& storage, Cache& cache, MediaStore& media,
             ServerMetrics& metrics);

  std::optional<http::Response> admit(const http::RequestHeader& head,
                                      const http::RequestContext& ctx) override;
  http::BodyPlan plan_body(const http::RequestHeader& head) override;
  std::optional<http::Response> handle_nonblocking(http::Request& req,
                                                   const http::RequestContext& ctx) override;
  http::Response handle(http::Request& req, const http::RequestContext& ctx) override;
  std::variant<std::unique_ptr<http::BodySink>, http::Response> open_sink(
      const http::RequestHeader& head, const http::RequestContext& ctx) override;
  void on_complete(const http::CompletedExchange& exchange) override;

  // Readiness turns false at once when draining starts (SIGTERM).
  void set_draining(bool draining) { draining_ = draining; }

 private:
  friend class MediaUploadSink;
  http::Response dispatch(http::Request& req, std::string_view path, std::string_view query,
                          const http::RequestContext& ctx);
  http::Response readiness(const http::RequestContext& ctx);
  http::Response api_health(const http::RequestContext& ctx);
  http::Response list(std::string_view query, const http::RequestContext& ctx);
  http::Response create(const http::Request& req, const http::RequestContext& ctx);
  http::Response get(const http::Request& req, std::string_view id,
                     const http::RequestContext& ctx);
  // The item from the cache (counted as a hit), or nullopt on a miss or a cache error.
  std::optional<http::Response> cached_item(const http::Request& req, std::string_view id);
  // Fault injection and the route label, for every /api/ answer.
  http::Response finish(http::Response r, std::string_view path, std::string_view route);
  http::Response replace(const http::Request& req, std::string_view id, bool patch,
                         const http::RequestContext& ctx);
  http::Response remove(const http::Request& req, std::string_view id,
                        const http::RequestContext& ctx);
  http::Response media_get(const http::Request& req, std::string_view id,
                           const http::RequestContext& ctx);
  // The answer to a failed storage, cache or media call: 4xx as the error says; 5xx with a
  // generic message naming the request id, the error itself (driver messages, file paths)
  // logged under that id and never sent.
  http::Response failed(const Error& error, const http::RequestContext& ctx) const;
  // nullopt when the request may write; otherwise the 401/403 answer.
  std::optional<http::Response> check_write_auth(const http::RequestHeader& head) const;
  http::Response item_response(const Content& item, http::bhttp::status status);
  void invalidate(std::string_view id);

  ApiOptions opts_;
  CorsPolicy cors_;
  Storage& storage_;
  Cache& cache_;
  MediaStore& media_;
  ServerMetrics& metrics_;
  std::atomic<bool> draining_{false};
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

// Route template for a path ("unknown" when no route matches); `id` receives the {id}.
std::string_view match_route(std::string_view path, std::string_view& id);

}  // namespace sg::server
