// The gateway's data plane: an http::ConnectionHandler that routes each client request to a
// track (exact weighted split, optional stickiness), to an endpoint of that track (least
// outstanding or round robin), and relays request and response bodies in both directions with
// bounded memory (64 KiB per direction per exchange).
//
// Failures: a request that failed before any response byte arrived (connect refused, reset,
// stale pooled connection) is retried when its method is idempotent or it carries
// Idempotency-Key: on another endpoint of its track, and when the track has no other
// available endpoint, on another track of the route (at most three attempts). Each failed
// attempt that was retried counts against its track and endpoint
// (streamgate_gateway_failed_attempts_total, WindowStats::failed_attempts); the client's
// answer counts once, on the track that gave it. Otherwise the client gets 502 (upstream
// failed) or 504 (upstream too slow) or 503 (no available endpoint) with the JSON error shape
// and the reason. A refused connect ejects the endpoint at once; other connect errors, resets
// and 5xx count towards passive outlier ejection.
//
// Timing: every answer records the total time (request head to the response's last byte,
// client-paced) and the upstream's time to its response head (from the request wholly sent
// upstream), which is what a client cannot move and what canaries are judged on.
//
// Bodies up to 64 KiB are read before forwarding, so they can be replayed, while the server's
// BodyBudget has room; larger or chunked ones (or any once the budget is spent) stream without
// a retry.
//
// Runs on the HttpServer's worker threads; all shared state is in GatewayState.
#pragma once

#include "common/http/http_server.hpp"
#include "gateway/gateway_metrics.hpp"
#include "gateway/gateway_state.hpp"

namespace sg::gateway {

struct ProxyOptions {
  bool access_log = false;  // one JSON line per request (off by default: the data path is hot)
  // Idle upstream connections one worker keeps pooled over all endpoints (each holds a
  // descriptor; main sizes it from RLIMIT_NOFILE).
  std::int64_t max_pooled_per_worker = 1024;
};

class Proxy final : public http::ConnectionHandler {
 public:
  Proxy(GatewayState& state, GatewayMetrics& metrics, ProxyOptions options = {});

  boost::asio::awaitable<bool> serve(http::ServerConnection& conn, http::HeadParser& parser,
                                     std::chrono::steady_clock::time_point start) override;
  void on_protocol_error(const http::CompletedExchange& exchange) override;

 private:
  struct Exchange;
  struct Attempt;
  boost::asio::awaitable<bool> forward(http::ServerConnection& conn, Exchange& ex,
                                       http::HeadParser* streamed, bool can_retry);
  boost::asio::awaitable<Attempt> attempt(http::ServerConnection& conn, Exchange& ex,
                                          http::HeadParser* streamed, bool allow_pooled);
  boost::asio::awaitable<Attempt> send_streamed(http::ServerConnection& conn, Exchange& ex,
                                                Endpoint::IdleConnection& upstream,
                                                http::HeadParser& head_parser);
  boost::asio::awaitable<Attempt> relay_response(http::ServerConnection& conn, Exchange& ex,
                                                 Endpoint::IdleConnection& upstream);
  void note_ejection(Exchange& ex);
  // Another track of the route for a retry (the schedule's pick among the tracks with an
  // available endpoint, `failed` excluded), or null.
  const Track* fallback_track(const RouteTable& table, const Track* failed,
                              Endpoint::Clock::time_point now);
  void note_failed_attempt(const Track& track, Endpoint& endpoint, Endpoint::Clock::time_point now);
  boost::asio::awaitable<bool> fail(http::ServerConnection& conn, Exchange& ex,
                                    http::bhttp::status status, const char* reason,
                                    std::string message);
  void record(Exchange& ex, unsigned status, double latency_seconds, bool gateway_generated);
  // The metric children of a track (cached in the track) or of "none" (track null).
  metrics::Counter& request_counter(const Track* track, unsigned status);
  metrics::Histogram& duration_histogram(const Track* track);
  metrics::Histogram& upstream_histogram(const Track& track);
  // A CMCD counter of `family` for the track (cached in its TrackMetricCache slot `cached`).
  metrics::Counter& cmcd_counter(metrics::Family<metrics::Counter>& family, const Track* track,
                                 std::atomic<metrics::Counter*> TrackMetricCache::*cached);

  GatewayState& state_;
  GatewayMetrics& metrics_;
  ProxyOptions options_;
};

}  // namespace sg::gateway
