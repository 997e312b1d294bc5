// streamgate-gateway against clients that would skew a rollout's analysis, a dead track,
// idle viewers, a low descriptor limit and forged forwarding fields, as a real process in
// front of real streamgate-server replicas (issue 19).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <csignal>
#include <fstream>
#include <future>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "gateway/core/track_schedule.hpp"
#include "integration/gateway_fixture.hpp"
#include "integration/http_client.hpp"
#include "integration/server_process.hpp"
#include "support/services.hpp"

namespace sg::test {
namespace {

namespace json = boost::json;
using boost::beast::http::verb;
using namespace std::chrono_literals;
using GatewayHardeningTest = GatewayFixture;

std::vector<std::pair<std::string, std::string>> auth() {
  return {{"Authorization", std::string("Bearer ") + kToken}};
}


// Reads one response with a Content-Length body from `fd`, at most `chunk` bytes per read and
// `pause` between reads (a slow reader when both are small). Returns the status, 0 on error.
int read_response(int fd, std::size_t chunk = 65536, std::chrono::milliseconds pause = 0ms) {
  std::string head;
  char buf[65536];
  std::size_t body_left = 0;
  int status = 0;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20000) <= 0) return 0;
    const ssize_t n = ::recv(fd, buf, std::min(chunk, sizeof buf), 0);
    if (n <= 0) return 0;
    if (status == 0) {
      head.append(buf, static_cast<std::size_t>(n));
      const auto end = head.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      status = std::stoi(head.substr(9, 3));
      const auto cl = head.find("Content-Length: ");
      body_left = cl == std::string::npos ? 0 : std::stoull(head.substr(cl + 16));
      const std::size_t got = head.size() - end - 4;
      body_left -= std::min(body_left, got);
    } else {
      body_left -= std::min(body_left, static_cast<std::size_t>(n));
    }
    if (body_left == 0) return status;
    if (pause.count() > 0) std::this_thread::sleep_for(pause);
  }
}

bool send_all(int fd, const std::string& bytes) {
  return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

// The value of a sample line "name{labels} value" in a Prometheus text body (-1 if absent).
double sample(const std::string& metrics, const std::string& series) {
  const auto at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(metrics.substr(at + series.size() + 2));
}

std::string two_tracks(const std::string& stable, const std::string& canary, int canary_weight,
                       const std::string& route_extra = {}) {
  return "tracks:\n  stable: { endpoints: [" + stable + "] }\n  canary: { endpoints: [" + canary +
         "] }\nroute: { weights: { stable: " + std::to_string(100 - canary_weight) +
         ", canary: " + std::to_string(canary_weight) + " }" + route_extra + " }\n";
}

// Item 2: total time is client-paced; the judge's input is the upstream's time to its head.
TEST_F(GatewayHardeningTest, SlowReadersOnTheCanaryDoNotMoveTheUpstreamP95) {
  ASSERT_NO_FATAL_FAILURE(start_replicas("v-stable", 1));
  ASSERT_NO_FATAL_FAILURE(start_replicas("v-canary", 1));
  ASSERT_NO_FATAL_FAILURE(
      start_gateway(two_tracks(endpoints("v-stable"), endpoints("v-canary"), 100)));
  auto created = http_call(port_, {verb::post, "/api/v1/content", R"({"title":"m"})", auth()});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id(json::parse(created.body).at("id").as_string());
  std::string media(16 << 20, 'm');
  auto put = http_call(port_, {verb::put, "/api/v1/content/" + id + "/media", media, auth()});
  ASSERT_EQ(put.status, 200) << put.body;
  // 10 viewers reading 16 MiB at ~4 MiB/s, and 40 quick reads beside them.
  std::vector<std::future<int>> slow;
  for (int i = 0; i < 10; ++i) {
    slow.push_back(std::async(std::launch::async, [&] {
      const int fd = connect_loopback(port_, 16384);
      if (fd < 0) return 0;
      send_all(fd, "GET /api/v1/content/" + id + "/media HTTP/1.1\r\nHost: x\r\n\r\n");
      const int status = read_response(fd, 16384, 4ms);
      ::close(fd);
      return status;
    }));
  }
  int quick_ok = 0;
  for (int i = 0; i < 40; ++i) quick_ok += http_get(port_, "/api/v1/content/" + id).status == 200;
  int slow_ok = 0;
  for (auto& f : slow) slow_ok += f.get() == 200;
  ASSERT_EQ(quick_ok, 40);
  ASSERT_EQ(slow_ok, 10);
  auto stats = json::parse(admin(verb::get, "/admin/v1/stats?window=60").body);
  const auto& w = stats.at("tracks").at("canary").at("windows").at("60s");
  const double total_p95 = w.at("p95_ms").as_double();
  const double upstream_p95 = w.at("upstream_p95_ms").as_double();
  std::cout << "[ measure  ] canary P95: total " << total_p95 << " ms (client-paced), upstream "
            << upstream_p95 << " ms\n";
  EXPECT_GT(total_p95, 1000) << "the slow readers did not slow the total: the test is void";
  EXPECT_LT(upstream_p95, 250) << "the judge's latency moved with the clients' reading";
  // The same from the Prometheus histogram the control plane reads.
  const std::string m = http_get(admin_port_, "/metrics").body;
  const std::string series =
      "streamgate_gateway_upstream_response_seconds_bucket{route=\"default\","
      "track=\"canary\",le=";
  const double under_250ms = sample(m, series + "\"0.25\"}");
  const double all = sample(m, series + "\"+Inf\"}");
  EXPECT_GE(all, 51) << m.substr(0, 500);
  EXPECT_GE(under_250ms / all, 0.95) << under_250ms << " of " << all;
}

// Item 11: with 95/5 and the canary's only replica killed, no client sees the canary fail.
TEST_F(GatewayHardeningTest, ADeadCanaryFailsNoneOfTheNext400Gets) {
  // Health checks slow enough that they cannot be what saves the requests.
  health_ = "{ interval_ms: 10000, timeout_ms: 1000, rise: 1, fall: 3 }";
  ASSERT_NO_FATAL_FAILURE(start_replicas("v-stable", 1));
  ASSERT_NO_FATAL_FAILURE(start_replicas("v-canary", 1));
  ASSERT_NO_FATAL_FAILURE(
      start_gateway(two_tracks(endpoints("v-stable"), endpoints("v-canary"), 5)));
  // Pooled connections to the canary exist when it dies.
  for (int i = 0; i < 100; ++i) ASSERT_EQ(http_get(port_, "/api/v1/health").status, 200);
  auto& canary = replicas_["v-canary"][0]->process();
  ASSERT_TRUE(canary.signal(SIGKILL));
  ASSERT_TRUE(canary.wait_exit(5s));
  int failed = 0;
  std::map<std::string, int> tracks;
  std::string first_failure;
  for (int i = 0; i < 400; ++i) {
    auto r = http_get(port_, "/api/v1/health");
    if (r.status != 200) {
      ++failed;
      if (first_failure.empty()) first_failure = std::to_string(r.status) + " " + r.body + r.error;
    }
    ++tracks[r.header("X-StreamGate-Track")];
  }
  EXPECT_EQ(failed, 0) << "first failure: " << first_failure;
  const std::string m = http_get(admin_port_, "/metrics").body;
  const double failed_attempts =
      sample(m, "streamgate_gateway_failed_attempts_total{route=\"default\",track=\"canary\"}");
  EXPECT_GE(failed_attempts, 1) << "the canary's failure must still count against it";
  std::cout << "[ measure  ] 400 GETs after SIGKILL of the canary: " << failed << " failed, "
            << tracks["stable"] << " on stable, " << failed_attempts
            << " failed attempts counted on the canary\n";
}

// Item 2: values computed offline with the public hash no longer choose the canary.
TEST_F(GatewayHardeningTest, ClientsCannotChooseTheCanaryThroughStickyValues) {
  gateway_env_ = {{"STREAMGATE_STICKY_KEY", "integration-sticky-key-0123456789"}};
  ASSERT_NO_FATAL_FAILURE(start_replicas("v-stable", 1));
  ASSERT_NO_FATAL_FAILURE(start_replicas("v-canary", 1));
  ASSERT_NO_FATAL_FAILURE(start_gateway(two_tracks(endpoints("v-stable"), endpoints("v-canary"), 5,
                                                   ", sticky: { header: X-Viewer-Id }")));
  auto route = gateway::TrackSchedule::create({{"stable", 95}, {"canary", 5}});
  ASSERT_TRUE(route);
  std::vector<std::string> chosen;
  for (int i = 0; chosen.size() < 100; ++i) {
    const std::string v = "viewer-" + std::to_string(i);
    if (route->pick_sticky(v, {true, true}) == 1u) chosen.push_back(v);
  }
  int on_canary = 0;
  for (const auto& v : chosen) {
    auto r = http_get(port_, "/health", {{"X-Viewer-Id", v}});
    ASSERT_EQ(r.status, 200);
    on_canary += r.header("X-StreamGate-Track") == "canary";
    // Still sticky: the same value, the same track.
    EXPECT_EQ(http_get(port_, "/health", {{"X-Viewer-Id", v}}).header("X-StreamGate-Track"),
              r.header("X-StreamGate-Track"));
  }
  EXPECT_LE(on_canary, 20) << on_canary << " of 100 values chosen for the canary reached it";
}

// A fake upstream that records the request heads it gets and answers 200.
class RecordingUpstream {
 public:
  RecordingUpstream() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 64);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~RecordingUpstream() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  std::uint16_t port() const { return port_; }
  std::vector<std::string> heads() {
    std::lock_guard lock(mu_);
    return heads_;
  }

 private:
  void serve() {
    while (!stop_) {
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      std::string head;
      char buf[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        pollfd p{c, POLLIN, 0};
        if (::poll(&p, 1, 2000) <= 0) break;
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        head.append(buf, static_cast<std::size_t>(n));
      }
      {
        std::lock_guard lock(mu_);
        heads_.push_back(head);
      }
      send_all(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
      ::close(c);
    }
  }
  int fd_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> heads_;
  std::thread thread_;
};

// Item 9: RFC 9112 3.2 Host rules, and no forged X-Forwarded-For reaches an upstream.
TEST_F(GatewayHardeningTest, Http11WithoutHostIs400AndAClientsForwardedForIsReplaced) {
  RecordingUpstream upstream;
  ASSERT_NO_FATAL_FAILURE(start_gateway(
      "tracks:\n  stable: { endpoints: [127.0.0.1:" + std::to_string(upstream.port()) +
      "] }\nroute: { weights: { stable: 100 } }\n"));
  const std::string no_host = raw_exchange(port_, "GET / HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(no_host.starts_with("HTTP/1.1 400")) << no_host;
  EXPECT_NE(no_host.find("X-Content-Type-Options: nosniff"), std::string::npos) << no_host;
  const std::string two = raw_exchange(port_, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  EXPECT_TRUE(two.starts_with("HTTP/1.1 400")) << two;
  auto r = http_get(port_, "/forged", {{"X-Forwarded-For", "6.6.6.6"}, {"X-Real-IP", "6.6.6.6"}});
  ASSERT_EQ(r.status, 200) << r.body << r.error;
  EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
  std::string seen;
  for (const auto& h : upstream.heads()) {
    if (h.starts_with("GET /forged")) seen = h;
  }
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.find("6.6.6.6"), std::string::npos) << seen;
  EXPECT_NE(seen.find("X-Forwarded-For: 127.0.0.1\r\n"), std::string::npos) << seen;
}

// Item 1 on the admin API: refused from the head, nothing of the body read.
TEST_F(GatewayHardeningTest, AnAdminWriteWithoutTokenIsRefusedFromItsHead) {
  ASSERT_NO_FATAL_FAILURE(start_replicas("v-stable", 1));
  ASSERT_NO_FATAL_FAILURE(start_gateway("tracks:\n  stable: { endpoints: [" +
                                        endpoints("v-stable") +
                                        "] }\nroute: { weights: { stable: 100 } }\n"));
  const std::string got =
      raw_exchange(admin_port_,
                   "PUT /admin/v1/config HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n"
                   "Expect: 100-continue\r\n\r\n",
                   3s);
  EXPECT_TRUE(got.starts_with("HTTP/1.1 401")) << got;
  EXPECT_EQ(got.find("100 Continue"), std::string::npos) << got;
}

// Item 3: the descriptor limit is raised at start, and max_connections fits what it allows.
TEST_F(GatewayHardeningTest, TheDescriptorLimitIsRaisedAndBoundsMaxConnections) {
  ASSERT_NO_FATAL_FAILURE(start_replicas("v-stable", 1));
  gateway_prefix_ = {"prlimit", "--nofile=256:4096", "--"};
  ASSERT_NO_FATAL_FAILURE(start_gateway("tracks:\n  stable: { endpoints: [" +
                                        endpoints("v-stable") +
                                        "] }\nroute: { weights: { stable: 100 } }\n"));
  std::ifstream limits("/proc/" + std::to_string(gateway_->pid()) + "/limits");
  std::string line, files;
  while (std::getline(limits, line)) {
    if (line.starts_with("Max open files")) files = line;
  }
  std::istringstream fields(files.substr(std::string("Max open files").size()));
  std::uint64_t soft = 0, hard = 0;
  fields >> soft >> hard;
  EXPECT_EQ(soft, 4096u) << files;
  EXPECT_EQ(hard, 4096u) << files;
  const std::string m = http_get(admin_port_, "/metrics").body;
  const double max = sample(m, "streamgate_gateway_max_connections");
  EXPECT_GT(max, 1000) << m.substr(0, 300);
  EXPECT_LT(max, 2048) << "two descriptors per proxied request cannot exceed the limit";
}

TEST_F(GatewayHardeningTest, AtALowHardLimitSurplusConnectionsAreRefusedAndCounted) {
  ASSERT_NO_FATAL_FAILURE(start_replicas("v-stable", 1));
  gateway_prefix_ = {"prlimit", "--nofile=256:256", "--"};
  ASSERT_NO_FATAL_FAILURE(start_gateway("tracks:\n  stable: { endpoints: [" +
                                        endpoints("v-stable") +
                                        "] }\nroute: { weights: { stable: 100 } }\n"));
  const double max =
      sample(http_get(admin_port_, "/metrics").body, "streamgate_gateway_max_connections");
  ASSERT_GT(max, 0);
  ASSERT_LT(max, 128);
  std::vector<int> held;
  for (int i = 0; i < static_cast<int>(max) + 20; ++i) {
    const int fd = connect_loopback(port_);
    if (fd >= 0) held.push_back(fd);
  }
  std::this_thread::sleep_for(300ms);
  const std::string m = http_get(admin_port_, "/metrics").body;
  EXPECT_GE(sample(m, "streamgate_gateway_connections_rejected_total"), 20) << m.substr(0, 400);
  EXPECT_EQ(sample(m, "streamgate_gateway_accept_errors_total"), 0)
      << "clamped, the gateway never runs out of descriptors";
  for (int fd : held) ::close(fd);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(http_get(port_, "/api/v1/health").status, 200);
}

// Item 4: a keep-alive client between requests costs a parked socket, not a session.
TEST_F(GatewayHardeningTest, IdleKeepAliveClientsCostLittleAndAreServedWhenTheyComeBack) {
  ASSERT_NO_FATAL_FAILURE(start_replicas("v-stable", 1));
  ASSERT_NO_FATAL_FAILURE(start_gateway("tracks:\n  stable: { endpoints: [" +
                                        endpoints("v-stable") +
                                        "] }\nroute: { weights: { stable: 100 } }\n"));
  const std::string get = "GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 0; i < 50; ++i) ASSERT_EQ(http_get(port_, "/api/v1/health").status, 200);
  std::this_thread::sleep_for(500ms);
  const auto rss_kb = [&] {
    std::ifstream in("/proc/" + std::to_string(gateway_->pid()) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.starts_with("VmRSS:")) return std::stod(line.substr(6));
    }
    return 0.0;
  };
  const double before = rss_kb();
  constexpr int kClients = 2000;
  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) {
    const int fd = connect_loopback(port_);
    ASSERT_GE(fd, 0) << i;
    ASSERT_TRUE(send_all(fd, get));
    ASSERT_EQ(read_response(fd), 200) << i;
    clients.push_back(fd);
  }
  std::this_thread::sleep_for(1s);  // past park_after
  const double per_client_kb = (rss_kb() - before) / kClients;
  std::cout << "[ measure  ] " << kClients << " idle keep-alive clients: " << per_client_kb
            << " KB each (gateway RSS)\n";
  EXPECT_LT(per_client_kb, 3.0);
  // Every parked client is served when it asks again.
  int ok = 0;
  for (int i = 0; i < kClients; i += 10)
    ok += send_all(clients[i], get) && read_response(clients[i]) == 200;
  EXPECT_EQ(ok, kClients / 10);
  for (int fd : clients) ::close(fd);
}

}  // namespace
}  // namespace sg::test
