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
//   POST /api/v1/content/{id}/playback               a playback session: signed HLS URLs
//   GET  /api/v1/content/{id}/hls/master.m3u8        multivariant playlist   } ?token=... when
//   GET  /api/v1/content/{id}/hls/media.m3u8         media playlist          } playback is
//   GET  /api/v1/content/{id}/hls/{file}             the fMP4 (Range)        } signed
//   GET  /watch/{id}                                  the web player page
//   GET  /static/hls.js/{version}/hls.min.js          the pinned hls.js the page loads
//   OPTIONS on any route                             Allow, or a CORS preflight (cors.hpp)
// Writes need "Authorization: Bearer TOKEN" with a configured token (401 without, 403 with a
// wrong one); POST .../playback writes nothing and is public like reads. With playback keys
// configured, every playlist and segment request needs a valid token for its content (403
// missing/bad, 410 expired) and a session slot (503 stream_limit_reached with Retry-After).
// 5xx answers name the request id and nothing else (no file paths, driver messages or URLs:
// those go to the log under that id). Route (404), method (405), token (401/403) and the
// announced body size (413) are decided from the head alone (admit()), before any byte of a
// body is read; methods that take no body (GET, HEAD, DELETE, POST .../playback) accept none.
//
// Threads: admit(), plan_body() and handle_nonblocking() run on the HTTP server's I/O threads
// and never block: they answer /health, /livez, /metrics and item reads found in an
// in-process cache. Everything that touches storage, a remote cache or the media disk runs in
// handle() / open_sink() / the upload sink (an upload's probe and remux included), which the
// server calls on its blocking pool. All state is thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/http/http_types.hpp"
#include "server/cache/cache.hpp"
#include "server/cors.hpp"
#include "server/media/media_analysis.hpp"
#include "server/media/playback_token.hpp"
#include "server/media/stream_sessions.hpp"
#include "server/media_store.hpp"
#include "server/server_metrics.hpp"
#include "server/storage/storage.hpp"

namespace sg::server {

struct ApiOptions {
  std::string version_label = SG_VERSION;
  std::vector<std::string> api_tokens;
  double chaos_error_rate = 0;                 // fraction of /api/ requests answered 500
  std::chrono::milliseconds chaos_latency{0};  // added to every /api/ request
  double chaos_segment_error_rate = 0;         // fraction of HLS segment requests answered 500
  std::chrono::milliseconds chaos_segment_delay{0};  // added to every HLS segment response
  std::uint64_t max_body_bytes = 1024 * 1024;        // JSON request bodies
  std::uint64_t max_media_bytes = 8ULL << 30;        // media uploads
  std::chrono::seconds cache_ttl{5};
  bool access_log = true;
  // Origins a browser page may read from (cors.hpp; "*" for any) and write from.
  std::vector<std::string> cors_origins{};
  std::vector<std::string> cors_write_origins{};
  // Playback: signing keys (empty = unsigned, public HLS), token lifetime, what an upload's
  // analysis may cost, and the session cap used when no StreamSessions is given.
  std::vector<media::PlaybackKey> playback_keys;
  std::chrono::seconds playback_ttl{1800};
  media::AnalysisLimits analysis;
  media::SessionLimits sessions;
};

// What a path is: its route template (static storage; "unknown" when nothing matches), the
// {id} and, for the HLS file route, the {file} name.
struct RouteMatch {
  std::string_view route;
  std::string_view id;
  std::string_view file;
};

class ContentApi final : public http::Handler {
 public:
  // `sessions` counts playback sessions (across replicas with Redis); without one, the API
  // keeps its own per-process MemorySessions with options.sessions.
  ContentApi(ApiOptions options, Storage& storage, Cache& cache, MediaStore& media,
             ServerMetrics& metrics, media::StreamSessions* sessions = nullptr);

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
  http::Response playback_start(std::string_view id, const http::RequestContext& ctx);
  http::Response hls_get(const http::Request& req, const RouteMatch& m, std::string_view query,
                         const http::RequestContext& ctx);
  http::Response hls_file(const http::Request& req, const MediaInfo& media, std::string_view file,
                          const std::optional<media::PlaybackClaims>& claims,
                          const http::RequestContext& ctx);
  // nullopt when the request may proceed (claims set when signed); otherwise the answer.
  std::optional<http::Response> admit_playback(std::string_view id, std::string_view query,
                                               std::string_view kind,
                                               std::optional<media::PlaybackClaims>& claims);
  http::Response watch_page(std::string_view id, const http::RequestContext& ctx);
  http::Response static_asset(const RouteMatch& m);
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
  std::optional<media::PlaybackSigner> signer_;
  std::unique_ptr<media::StreamSessions> owned_sessions_;
  media::StreamSessions& sessions_;
  std::atomic<bool> draining_{false};
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

RouteMatch match_route(std::string_view path);
// Route template for a path ("unknown" when no route matches); `id` receives the {id}.
std::string_view match_route(std::string_view path, std::string_view& id);

}  // namespace sg::server
