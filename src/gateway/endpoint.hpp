// One upstream endpoint (a streamgate-server replica) and its live state: health from the
// active checker, passive outlier ejection, draining, requests in flight, statistics, and a
// pool of idle keep-alive connections per gateway worker thread.
//
// An Endpoint outlives configuration changes while its address stays in some track, so its
// health, ejection and statistics carry over; it is shared (std::shared_ptr) by every route
// table that names it and by the requests in flight on it.
//
// Thread-safety: health, ejection, draining and counters are atomics; idle_pool(w) may only
// be touched by gateway worker thread w.
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/http/lazy_deadline.hpp"
#include "gateway/core/gateway_config.hpp"
#include "gateway/core/window_stats.hpp"

namespace sg::gateway {

class Endpoint {
 public:
  using Clock = std::chrono::steady_clock;

  Endpoint(std::string address, boost::asio::ip::tcp::endpoint ep, unsigned workers);

  const std::string& address() const { return address_; }
  const boost::asio::ip::tcp::endpoint& tcp_endpoint() const { return ep_; }

  // Active health (GET health_check.path). Starts healthy so traffic flows at once; the
  // checker's first probe corrects that within one interval.
  bool healthy() const { return healthy_.load(std::memory_order_relaxed); }
  void set_healthy(bool healthy) { healthy_.store(healthy, std::memory_order_relaxed); }

  // Passive outlier detection: `consecutive_failures` connect errors or 5xx in a row eject
  // the endpoint for base_ejection_ms, doubling with each ejection up to max_ejection_ms.
  // Returns true when this failure ejected it.
  bool record_failure(Clock::time_point now, const OutlierConfig& outlier);
  // Ejects the endpoint now, whatever the run of failures (a refused connect: nothing
  // listens there), for the same doubling time out. True unless it was ejected already.
  bool eject_now(Clock::time_point now, const OutlierConfig& outlier);
  void record_success(Clock::time_point now);
  bool ejected(Clock::time_point now) const;
  std::uint64_t ejections() const { return ejections_.load(std::memory_order_relaxed); }

  // Draining: no new requests; in-flight ones finish. drained() once none is left.
  void start_drain() { draining_.store(true); }
  bool draining() const { return draining_.load(); }
  bool drained() const { return draining() && outstanding() == 0; }

  // Eligible for new requests now.
  bool available(Clock::time_point now) const { return healthy() && !draining() && !ejected(now); }

  std::int64_t outstanding() const { return outstanding_.load(std::memory_order_relaxed); }
  void begin_request() { outstanding_.fetch_add(1, std::memory_order_relaxed); }
  void end_request() { outstanding_.fetch_sub(1, std::memory_order_relaxed); }

  WindowStats& stats() { return stats_; }

  // An idle keep-alive connection to the endpoint and when it went idle. The stream and its
  // (empty) read buffer are kept whole, so reusing them allocates nothing.
  struct IdleConnection {
    // `period`: the shortest read timeout the connection is used with (see LazyDeadline).
    IdleConnection(boost::beast::tcp_stream s, std::chrono::steady_clock::duration period)
        : stream(std::move(s)), read_deadline(stream.get_executor(), stream.socket(), period) {}
    ~IdleConnection() {
      if (pooled_in) pooled_in->fetch_sub(1, std::memory_order_relaxed);
    }
    IdleConnection(const IdleConnection&) = delete;
    IdleConnection& operator=(const IdleConnection&) = delete;
    boost::beast::tcp_stream stream;
    // Timeouts of reads from the upstream (the stream's own timer is used for writes).
    http::LazyDeadline read_deadline;
    boost::beast::flat_buffer buffer;
    Clock::time_point since;
    // While pooled: the count of its worker's pooled connections (GatewayState), which it
    // leaves when taken out or destroyed.
    std::atomic<std::int64_t>* pooled_in = nullptr;
  };
  // Idle upstream connections of worker `w`, most recently used last.
  std::vector<std::unique_ptr<IdleConnection>>& idle_pool(unsigned w) { return pools_[w].sockets; }
  // Closes all pooled connections (only while no worker thread runs).
  void close_idle_connections() {
    for (auto& p : pools_) p.sockets.clear();
  }

 private:
  struct alignas(64) Pool {
    std::vector<std::unique_ptr<IdleConnection>> sockets;
  };
  std::string address_;
  boost::asio::ip::tcp::endpoint ep_;
  // Read by every worker on every pick, written only when health, draining or ejection
  // change (record_success() writes only after failures): the line stays in every core's cache.
  std::atomic<bool> healthy_{true};
  std::atomic<bool> draining_{false};
  std::atomic<int> consecutive_failures_{0};
  std::atomic<std::int64_t> ejected_until_ns_{0};
  std::atomic<int> ejection_streak_{0};
  std::atomic<std::uint64_t> ejections_{0};
  // Written twice per request by whichever worker runs it: a cache line of its own.
  alignas(64) std::atomic<std::int64_t> outstanding_{0};
  alignas(64) WindowStats stats_;
  std::vector<Pool> pools_;
};

}  // namespace sg::gateway
