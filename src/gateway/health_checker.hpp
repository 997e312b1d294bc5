// HealthChecker: the gateway's active health checks. Every health_check.interval_ms it sends
// `GET health_check.path` over a fresh TCP connection ("Connection: close") to every endpoint
// of the current route table, all endpoints concurrently, and marks an endpoint unhealthy
// after `fall` failures in a row and healthy again after `rise` successes in a row
// (Endpoint::set_healthy). A 2xx status is a success; any other status, a connect error, a
// reset or no complete response head within health_check.timeout_ms is a failure.
//
// The checker reads the health_check settings and the endpoint list from
// GatewayState::table() on every round, so a configuration change applies without a restart.
// It looks at the table every kTablePoll (100 ms): an endpoint it has not seen yet is probed
// at once, not after a full interval. An endpoint that leaves the table is forgotten, so
// adding it again starts its counters afresh. Each endpoint has at most one probe in flight.
//
// Threading: the checker owns one thread running its own io_context; the per-endpoint
// counters live on that thread only. It never runs anything on the gateway's worker threads;
// it only writes the endpoints' atomic health flag. start() and stop() may be called from any
// thread other than the checker's own.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "gateway/endpoint.hpp"
#include "gateway/gateway_state.hpp"

namespace sg::gateway {

// The outcome of one probe: success, or the reason it failed ("status 503", "timeout",
// "connect: Connection refused", ...).
struct ProbeResult {
  bool ok = false;
  std::string reason;
};

// Sends one `GET path` to `endpoint` over a fresh connection on the calling coroutine's
// executor, giving up after `timeout` in total (connect, send and response head).
boost::asio::awaitable<ProbeResult> probe_endpoint(const Endpoint& endpoint, std::string path,
                                                   std::chrono::milliseconds timeout);

class HealthChecker {
 public:
  // How often the checker looks for endpoints it has not probed yet.
  static constexpr std::chrono::milliseconds kTablePoll{100};

  // `state` must outlive the checker.
  explicit HealthChecker(GatewayState& state);
  // Stops the checker (see stop()).
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Starts the checker thread. Calling it again, or after stop(), does nothing.
  void start();
  // Abandons the probes in flight and joins the thread. Idempotent.
  void stop();

 private:
  // What the checker knows of one endpoint; lives on the checker thread.
  struct EndpointCheck {
    std::shared_ptr<Endpoint> endpoint;
    int successes = 0;  // in a row
    int failures = 0;   // in a row
    bool in_flight = false;
    std::chrono::steady_clock::time_point next_due{};
  };

  boost::asio::awaitable<void> run();
  // Starts the probes that are due for the endpoints of the current table.
  void start_due_probes(std::chrono::steady_clock::time_point now);
  boost::asio::awaitable<void> probe_one(std::string address, std::shared_ptr<Endpoint> endpoint,
                                         HealthCheckConfig hc);
  void record(EndpointCheck& check, const ProbeResult& result, const HealthCheckConfig& hc);

  GatewayState& state_;
  std::map<std::string, EndpointCheck> checks_;  // by address; checker thread only
  boost::asio::io_context ioc_;
  boost::asio::steady_timer wake_timer_{ioc_};  // run() sleeps on it; checker thread only
  std::thread thread_;
  std::mutex lifecycle_mu_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace sg::gateway
