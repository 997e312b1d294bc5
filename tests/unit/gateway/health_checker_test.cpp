#include "gateway/health_checker.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/http/http_server.hpp"

namespace sg::gateway {
namespace {

namespace bhttp = http::bhttp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A replica's readiness endpoint: 200 while `ready`, 503 otherwise; counts the probes.
class ReadinessHandler final : public http::Handler {
 public:
  http::Response handle(http::Request& req, const http::RequestContext&) override {
    {
      std::lock_guard lock(mu);
      last_target = std::string(req.target());
    }
    ++probes;
    if (ready.load()) return http::Response{};
    return http::json_error(bhttp::status::service_unavailable, "not_ready", "not ready");
  }
  std::atomic<bool> ready{true};
  std::atomic<int> probes{0};
  std::string target() {
    std::lock_guard lock(mu);
    return last_target;
  }
  std::mutex mu;
  std::string last_target;  // guarded by mu
};

// A loopback port with nothing listening on it (bound once, then closed).
std::uint16_t closed_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

std::string address(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

GatewayConfig config_with(const std::vector<std::string>& endpoints, int interval_ms, int fall) {
  GatewayConfig c;
  c.tracks["stable"].endpoints = endpoints;
  c.route.weights = {{"stable", 100}};
  c.health_check = {"/ready", interval_ms, std::min(interval_ms, 300), 2, fall};
  return c;
}

// Waits until `ep.healthy() == want`; the time it took, or nullopt after `limit`.
std::optional<milliseconds> wait_health(const Endpoint& ep, bool want, milliseconds limit) {
  const auto start = Clock::now();
  while (Clock::now() - start < limit) {
    if (ep.healthy() == want) {
      return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  return std::nullopt;
}

class HealthCheckerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http::ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 1;
    server_ = std::make_unique<http::HttpServer>(options, handler_);
    ASSERT_TRUE(server_->start().is_ok());
  }
  void TearDown() override { server_->stop(); }

  ReadinessHandler handler_;
  std::unique_ptr<http::HttpServer> server_;
  GatewayState state_{1};
};

TEST_F(HealthCheckerTest, EndpointFollowsItsReadinessWithRiseAndFall) {
  const std::string addr = address(server_->port());
  ASSERT_TRUE(state_.apply(config_with({addr}, 100, 2)).is_ok());
  auto ep = state_.find_endpoint(addr);
  ASSERT_NE(ep, nullptr);
  HealthChecker checker(state_);
  checker.start();

  std::this_thread::sleep_for(milliseconds(350));
  EXPECT_TRUE(ep->healthy());
  EXPECT_GE(handler_.probes.load(), 3) << "one probe per 100 ms interval, the first at once";
  EXPECT_EQ(handler_.target(), "/ready");

  handler_.ready = false;
  auto down = wait_health(*ep, false, milliseconds(2000));
  ASSERT_TRUE(down.has_value()) << "still healthy 2 s after the endpoint started failing";
  EXPECT_LT(down->count(), 400) << "fall=2 at 100 ms intervals took " << down->count() << " ms";

  handler_.ready = true;
  auto up = wait_health(*ep, true, milliseconds(2000));
  ASSERT_TRUE(up.has_value()) << "still unhealthy 2 s after the endpoint recovered";
  EXPECT_LT(up->count(), 400) << "rise=2 at 100 ms intervals took " << up->count() << " ms";
}

TEST_F(HealthCheckerTest, ClosedPortBecomesUnhealthy) {
  const std::string addr = address(closed_port());
  ASSERT_TRUE(state_.apply(config_with({addr}, 100, 2)).is_ok());
  auto ep = state_.find_endpoint(addr);
  ASSERT_TRUE(ep->healthy()) << "endpoints start healthy";
  HealthChecker checker(state_);
  checker.start();
  auto down = wait_health(*ep, false, milliseconds(2000));
  ASSERT_TRUE(down.has_value()) << "a refused connection must count as a failure";
  EXPECT_LT(down->count(), 400) << "took " << down->count() << " ms";
}

TEST_F(HealthCheckerTest, EndpointThatNeverAnswersTimesOut) {
  // The kernel completes the handshake into the backlog, but nobody ever reads or answers.
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor silent(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const std::string addr = address(silent.local_endpoint().port());
  GatewayConfig config = config_with({addr}, 100, 2);
  config.health_check.timeout_ms = 50;
  ASSERT_TRUE(state_.apply(config).is_ok());
  auto ep = state_.find_endpoint(addr);
  HealthChecker checker(state_);
  checker.start();
  auto down = wait_health(*ep, false, milliseconds(2000));
  ASSERT_TRUE(down.has_value()) << "a probe without an answer must time out and count as failed";
  EXPECT_LT(down->count(), 500) << "took " << down->count() << " ms";
}

TEST_F(HealthCheckerTest, NewEndpointIsProbedAtOnceNotAfterAnInterval) {
  const std::string live = address(server_->port());
  ASSERT_TRUE(state_.apply(config_with({live}, 60000, 1)).is_ok());
  HealthChecker checker(state_);
  checker.start();
  std::this_thread::sleep_for(milliseconds(150));
  EXPECT_EQ(handler_.probes.load(), 1) << "the first probe runs at once, the next after 60 s";

  const std::string dead = address(closed_port());
  ASSERT_TRUE(state_.apply(config_with({live, dead}, 60000, 1)).is_ok());
  auto ep = state_.find_endpoint(dead);
  auto down = wait_health(*ep, false, milliseconds(2000));
  ASSERT_TRUE(down.has_value()) << "the added endpoint was not probed within 2 s";
  EXPECT_LT(down->count(), 500) << "took " << down->count() << " ms with a 60 s interval";
  EXPECT_EQ(handler_.probes.load(), 1) << "the config change must not re-probe known endpoints";
}

TEST_F(HealthCheckerTest, StopIsIdempotentAndEndsProbing) {
  const std::string addr = address(server_->port());
  ASSERT_TRUE(state_.apply(config_with({addr}, 100, 1)).is_ok());
  auto ep = state_.find_endpoint(addr);
  HealthChecker checker(state_);
  checker.start();
  std::this_thread::sleep_for(milliseconds(150));
  checker.stop();
  checker.stop();
  const int probes = handler_.probes.load();
  EXPECT_GE(probes, 1);

  handler_.ready = false;
  std::this_thread::sleep_for(milliseconds(400));
  EXPECT_EQ(handler_.probes.load(), probes) << "no probe after stop()";
  EXPECT_TRUE(ep->healthy());
  checker.start();
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(handler_.probes.load(), probes) << "start() after stop() does nothing";
}

}  // namespace
}  // namespace sg::gateway
