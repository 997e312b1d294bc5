// The gateway's live routing state: an immutable RouteTable built from a GatewayConfig and
// swapped atomically when the configuration changes (admin API, SIGHUP). A request takes the
// table once when it starts and keeps it, so a change applies to new requests while requests
// in flight finish where they started.
//
// Endpoints and per-track statistics outlive tables: a new table reuses the Endpoint of an
// address that stays configured (its health, ejection, pools and stats carry over).
//
// Thread-safety: every method may be called from any thread; apply() calls are serialised.
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/metrics.hpp"
#include "common/result.hpp"
#include "gateway/core/gateway_config.hpp"
#include "gateway/core/session_table.hpp"
#include "gateway/core/sticky_key.hpp"
#include "gateway/core/stream_stats.hpp"
#include "gateway/core/track_schedule.hpp"
#include "gateway/core/window_stats.hpp"
#include "gateway/endpoint.hpp"

namespace sg::gateway {

// The name of the single route this gateway serves (label of route metrics).
inline constexpr const char* kRouteName = "default";

// The metric children a track's requests update, looked up once (Family::with() builds a key
// and takes a mutex) and then read lock-free. Filled lazily by the proxy; the children never
// go away, so a pointer stays valid.
// The streaming metrics' children of a track (stream_recorder.hpp).
struct StreamMetricCache {
  std::atomic<metrics::Counter*> playlist{nullptr};
  std::atomic<metrics::Counter*> segment{nullptr};
  std::atomic<metrics::Counter*> segment_errors{nullptr};
  std::atomic<metrics::Histogram*> segment_ttfb{nullptr};
  std::atomic<metrics::Counter*> started{nullptr};
  std::atomic<metrics::Histogram*> startup{nullptr};
  std::atomic<metrics::Counter*> minutes{nullptr};
  std::atomic<metrics::Counter*> rebuffer{nullptr};
  std::atomic<metrics::Counter*> throughput_reports{nullptr};
  std::atomic<metrics::Counter*> throughput_sum{nullptr};
};

struct TrackMetricCache {
  static constexpr std::size_t kCodes = 600;  // HTTP status codes 0..599
  std::array<std::atomic<metrics::Counter*>, kCodes> requests{};
  std::atomic<metrics::Histogram*> duration{nullptr};
  std::atomic<metrics::Histogram*> upstream{nullptr};
  std::atomic<metrics::Counter*> cmcd_requests{nullptr};
  std::atomic<metrics::Counter*> cmcd_malformed{nullptr};
  StreamMetricCache stream;
};

struct Track {
  std::string name;
  Balance balance = Balance::kLeastOutstanding;
  int weight = 0;
  std::vector<std::shared_ptr<Endpoint>> endpoints;
  std::shared_ptr<WindowStats> stats;              // survives config changes
  std::shared_ptr<StreamStats> stream;             // HLS signals; survives config changes
  std::shared_ptr<std::atomic<std::uint64_t>> rr;  // round-robin cursor
  std::shared_ptr<TrackMetricCache> metrics;       // per table, filled on first use
};

// An endpoint of `track` for a new request: one that is available (healthy, not draining,
// not ejected) and not `exclude` (the one a retry failed on). round_robin takes them in turn;
// least_outstanding the one with the fewest requests in flight, ties in turn, so equal
// endpoints share the load evenly. nullptr when none is available. The endpoint lives as long
// as the table that holds the track (a request keeps its table): a raw pointer, so picking
// one touches no reference count shared with other threads.
Endpoint* choose_endpoint(const Track& track, const Endpoint* exclude,
                          Endpoint::Clock::time_point now);

struct RouteTable {
  GatewayConfig config;
  std::vector<Track> tracks;                // every configured track, in name order
  TrackSchedule schedule;                   // over the tracks named in route.weights
  std::vector<std::size_t> schedule_track;  // schedule index -> tracks index
  std::uint64_t generation = 0;             // 1 for the first table, +1 per change
  // The sticky hash's key (with route.sticky): from the variable route.sticky.key_env names,
  // or, when that is unset or shorter than StickyKey::kMinKeyBytes, this GatewayState's
  // random one (sticky_key_from_env false).
  std::shared_ptr<const StickyKey> sticky_key{};
  bool sticky_key_from_env = false;
  // config.trusted_proxies, parsed.
  std::vector<IpNetwork> trusted_proxies{};
};

class GatewayState {
 public:
  // `workers`: gateway worker threads (sizes each endpoint's connection pools).
  explicit GatewayState(unsigned workers);

  // Validates `config`, resolves its endpoints and swaps in a new table. On error nothing
  // changes and the message says what was wrong.
  Status apply(const GatewayConfig& config);

  // The current table (never null after the first successful apply()). Each thread keeps
  // its own reference-counted handle on the table and swaps it when the generation changes,
  // so the per-request copy counts on a thread-private counter, not on one every worker
  // thread writes (a cache line that would bounce between cores on every request). A thread
  // thus keeps the last table it saw (and the endpoints only that table names, with their
  // idle pooled connections) until its next call or its exit.
  std::shared_ptr<const RouteTable> table() const;

  // How many idle upstream connections worker `w` holds in the pools of all endpoints
  // (Endpoint::IdleConnection::pooled_in); the proxy keeps it under its descriptor budget.
  std::atomic<std::int64_t>& pooled_connections(unsigned w) { return pooled_[w].count; }

  // A fresh ticket for TrackSchedule::pick (exact split across all threads).
  std::uint64_t next_ticket() { return ticket_.fetch_add(1, std::memory_order_relaxed); }

  // Closes every pooled upstream connection. Call after the data plane's workers stopped and
  // before its HttpServer is destroyed: pooled sockets belong to the workers' io_contexts.
  void close_idle_connections();

  // The viewing sessions seen (stream_recorder.hpp), shared by all workers.
  SessionTable& sessions() { return sessions_; }
  const SessionTable& sessions() const { return sessions_; }

  // The endpoint with this address in the current table, if any.
  std::shared_ptr<Endpoint> find_endpoint(std::string_view address) const;

 private:
  Result<std::shared_ptr<Endpoint>> endpoint_for(
      const std::string& address, std::map<std::string, std::shared_ptr<Endpoint>>& building);

  unsigned workers_;
  std::mutex apply_mu_;
  std::atomic<std::shared_ptr<const RouteTable>> table_;
  // Bumped after each table_ store; with id_, what a thread's cached handle is checked against.
  std::atomic<std::uint64_t> table_version_{0};
  const std::uint64_t id_;  // unique per GatewayState of the process
  std::map<std::string, std::shared_ptr<WindowStats>, std::less<>> track_stats_;  // apply_mu_
  std::map<std::string, std::shared_ptr<StreamStats>, std::less<>> stream_stats_;  // apply_mu_
  SessionTable sessions_;
  // Every Endpoint ever created, so close_idle_connections() also reaches endpoints that
  // left the table but are still held by requests in flight (apply_mu_).
  std::vector<std::weak_ptr<Endpoint>> created_;
  std::atomic<std::uint64_t> ticket_{0};
  std::shared_ptr<const StickyKey> random_sticky_key_;  // made on first need (apply_mu_)
  struct alignas(64) PooledCount {
    std::atomic<std::int64_t> count{0};
  };
  std::unique_ptr<PooledCount[]> pooled_;  // one per worker
};

// Resolves "HOST:PORT" (an IP literal, or a name resolved once now) to a TCP endpoint.
Result<boost::asio::ip::tcp::endpoint> resolve_host_port(const std::string& text);

}  // namespace sg::gateway
