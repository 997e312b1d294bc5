#include "gateway/health_checker.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <exception>
#include <set>

#include "common/cpu_affinity.hpp"
#include "common/log.hpp"

namespace sg::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using Clock = std::chrono::steady_clock;
using error_code = boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

ProbeResult failure(std::string_view stage, const error_code& ec,
                    std::chrono::milliseconds timeout) {
  if (ec == beast::error::timeout) {
    return {false, "timeout after " + std::to_string(timeout.count()) + " ms (" +
                       std::string(stage) + ")"};
  }
  return {false, std::string(stage) + ": " + ec.message()};
}

void log_failure(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log::error("health checker stopped by an unexpected error", {{"error", ex.what()}});
  }
}

}  // namespace

asio::awaitable<ProbeResult> probe_endpoint(const Endpoint& endpoint, std::string path,
                                            std::chrono::milliseconds timeout) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  // One deadline for the whole probe: a replica that accepts but never answers fails too.
  stream.expires_after(timeout);
  auto [connect_ec] = co_await stream.async_connect(endpoint.tcp_endpoint(), kTuple);
  if (connect_ec) co_return failure("connect", connect_ec, timeout);

  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, path, 11};
  req.set(bhttp::field::host, endpoint.address());
  req.set(bhttp::field::user_agent, "streamgate-gateway-health-check");
  req.set(bhttp::field::connection, "close");
  auto [write_ec, written] = co_await bhttp::async_write(stream, req, kTuple);
  if (write_ec) co_return failure("send", write_ec, timeout);

  // Only the status matters; the body is never read and the connection is closed.
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::empty_body> parser;
  auto [read_ec, read] = co_await bhttp::async_read_header(stream, buffer, parser, kTuple);
  if (read_ec) co_return failure("response", read_ec, timeout);
  error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  const unsigned status = parser.get().result_int();
  if (status >= 200 && status < 300) co_return ProbeResult{true, {}};
  co_return ProbeResult{false, "status " + std::to_string(status)};
}

HealthChecker::HealthChecker(GatewayState& state) : state_(state) {}

HealthChecker::~HealthChecker() { stop(); }

void HealthChecker::start() {
  std::lock_guard lock(lifecycle_mu_);
  if (started_ || stopped_) return;
  started_ = true;
  asio::co_spawn(ioc_, run(), log_failure);
  thread_ = std::thread([this] {
    name_this_thread("sg-health");
    auto guard = asio::make_work_guard(ioc_);
    ioc_.run();
  });
}

void HealthChecker::stop() {
  std::lock_guard lock(lifecycle_mu_);
  if (stopped_) return;
  stopped_ = true;
  // Probes in flight are abandoned: their frames are destroyed with the io_context, and
  // they only ever wrote atomics, so nothing is left half done.
  ioc_.stop();
  if (thread_.joinable()) thread_.join();
}

asio::awaitable<void> HealthChecker::run() {
  for (;;) {
    const auto now = Clock::now();
    start_due_probes(now);
    // Wake for the next due probe, a finished probe (it cancels the timer), or to look for
    // new endpoints in the table.
    auto wake = now + kTablePoll;
    for (const auto& [address, check] : checks_) {
      if (!check.in_flight) wake = std::min(wake, check.next_due);
    }
    wake_timer_.expires_at(wake);
    co_await wake_timer_.async_wait(kTuple);
  }
}

void HealthChecker::start_due_probes(Clock::time_point now) {
  const auto table = state_.table();
  if (!table) return;
  const HealthCheckConfig& hc = table->config.health_check;
  std::set<std::string, std::less<>> present;
  for (const auto& track : table->tracks) {
    for (const auto& endpoint : track.endpoints) {
      if (!present.insert(endpoint->address()).second) continue;
      EndpointCheck& check = checks_[endpoint->address()];
      if (check.endpoint != endpoint) {
        // New address, or the address left the table and came back as a new Endpoint.
        check = EndpointCheck{endpoint, 0, 0, false, now};
      }
      if (check.in_flight || check.next_due > now) continue;
      check.in_flight = true;
      check.next_due = now + std::chrono::milliseconds(hc.interval_ms);
      asio::co_spawn(ioc_, probe_one(endpoint->address(), endpoint, hc), log_failure);
    }
  }
  std::erase_if(checks_, [&](const auto& entry) { return !present.contains(entry.first); });
}

asio::awaitable<void> HealthChecker::probe_one(std::string address,
                                               std::shared_ptr<Endpoint> endpoint,
                                               HealthCheckConfig hc) {
  ProbeResult result;
  try {
    result = co_await probe_endpoint(*endpoint, hc.path, std::chrono::milliseconds(hc.timeout_ms));
  } catch (const std::exception& e) {
    result = {false, std::string("probe error: ") + e.what()};
  }
  auto it = checks_.find(address);
  // The endpoint may have left the table while the probe ran; its verdict no longer matters.
  if (it != checks_.end() && it->second.endpoint == endpoint) {
    it->second.in_flight = false;
    record(it->second, result, hc);
  }
  wake_timer_.cancel();
}

void HealthChecker::record(EndpointCheck& check, const ProbeResult& result,
                           const HealthCheckConfig& hc) {
  Endpoint& endpoint = *check.endpoint;
  if (result.ok) {
    check.failures = 0;
    ++check.successes;
    if (!endpoint.healthy() && check.successes >= hc.rise) {
      endpoint.set_healthy(true);
      log::info("upstream endpoint is healthy again", {{"endpoint", endpoint.address()},
                                                       {"healthy", true},
                                                       {"reason", "passed health checks"},
                                                       {"successes", check.successes}});
    }
    return;
  }
  check.successes = 0;
  ++check.failures;
  if (endpoint.healthy() && check.failures >= hc.fall) {
    endpoint.set_healthy(false);
    log::warn("upstream endpoint failed its health checks", {{"endpoint", endpoint.address()},
                                                             {"healthy", false},
                                                             {"reason", result.reason},
                                                             {"failures", check.failures},
                                                             {"path", hc.path}});
  }
}

}  // namespace sg::gateway
