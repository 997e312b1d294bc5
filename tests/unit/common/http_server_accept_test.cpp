// HttpServer out of descriptors: accept(2) failures back off and are counted instead of
// retried (and logged) every 50 ms; max_connections closes the surplus at accept; and the
// descriptor limit helpers size max_connections.
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "common/fd_limits.hpp"
#include "common/http/blocking_client.hpp"
#include "common/http/http_server.hpp"
#include "support/services.hpp"

namespace sg::http {
namespace {

using namespace std::chrono_literals;

class Ok final : public Handler {
 public:
  Response handle(Request&, const RequestContext&) override { return Response{}; }
};

int open_fds() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n - 1;  // the iterator's own
}

// Lowers the soft descriptor limit while alive.
class FdLimitFor {
 public:
  explicit FdLimitFor(rlim_t soft) {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit lower = saved_;
    lower.rlim_cur = soft;
    ::setrlimit(RLIMIT_NOFILE, &lower);
  }
  ~FdLimitFor() { ::setrlimit(RLIMIT_NOFILE, &saved_); }

 private:
  rlimit saved_{};
};


TEST(HttpServerAccept, FailuresForWantOfDescriptorsBackOffAndAreCounted) {
#if defined(__SANITIZE_ADDRESS__)
  // With no descriptor left, the sanitizers' own checks (they open a pipe to probe memory)
  // fail and report false errors; the release build runs this test.
  GTEST_SKIP() << "needs an exhausted descriptor table, which the sanitizers cannot work in";
#endif
  Ok handler;
  ServerOptions o;
  o.port = 0;
  o.threads = 1;
  HttpServer server(o, handler);
  ASSERT_TRUE(server.start().is_ok());
  std::vector<int> clients;
  std::uint64_t errors_in_window = 0;
  {
    FdLimitFor limit(static_cast<rlim_t>(open_fds() + 6));
    // Connect until this process has no descriptor left: the server's accept then fails
    // while connections wait in its backlog.
    for (int i = 0; i < 20; ++i) {
      const int fd = test::connect_loopback(server.port());
      if (fd < 0) break;
      clients.push_back(fd);
    }
    std::this_thread::sleep_for(300ms);
    const std::uint64_t start = server.accept_errors();
    std::this_thread::sleep_for(1500ms);
    errors_in_window = server.accept_errors() - start;
  }
  EXPECT_GT(server.accept_errors(), 0u) << "accept never failed: the test did not run out";
  // Backing off (doubling from 10 ms up to 1 s), 1.5 s hold only a handful of attempts; at a
  // fixed 50 ms they would be 30.
  EXPECT_LE(errors_in_window, 8u) << "accept retried " << errors_in_window << " times in 1.5 s";
  for (int fd : clients) ::close(fd);
  clients.clear();
  // Descriptors back: the server serves again.
  std::this_thread::sleep_for(1200ms);
  auto r = blocking_call("127.0.0.1", server.port(), {bhttp::verb::get, "/"});
  server.stop();
  EXPECT_EQ(r.status, 200) << r.error;
}

TEST(HttpServerAccept, ConnectionsBeyondTheMaximumAreClosedAndCounted) {
  Ok handler;
  ServerOptions o;
  o.port = 0;
  o.threads = 1;
  o.max_connections = 2;
  HttpServer server(o, handler);
  ASSERT_TRUE(server.start().is_ok());
  std::vector<int> held;
  for (int i = 0; i < 4; ++i) held.push_back(test::connect_loopback(server.port()));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.connections_rejected(), 2u);
  for (int fd : held) ::close(fd);
  server.stop();
}

TEST(FdLimits, RaiseLiftsTheSoftLimitToTheHardOne) {
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_max < 512) GTEST_SKIP() << "hard limit too low to lower the soft one";
  rlimit low = saved;
  low.rlim_cur = 256;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  const FdLimit got = raise_fd_limit();
  rlimit now{};
  ::getrlimit(RLIMIT_NOFILE, &now);
  ::setrlimit(RLIMIT_NOFILE, &saved);
  EXPECT_EQ(got.before, 256u);
  EXPECT_EQ(got.soft, std::min<rlim_t>(saved.rlim_max, 1 << 20));
  EXPECT_EQ(now.rlim_cur, got.soft);
}

TEST(FdLimits, ConnectionsAreWhatTheDescriptorsAllow) {
  EXPECT_EQ(connections_for(1024, 2, 200, 10000), 412u);
  EXPECT_EQ(connections_for(1 << 20, 2, 200, 10000), 10000u) << "never above the wish";
  EXPECT_EQ(connections_for(100, 2, 200, 10000), 1u) << "never zero";
}

}  // namespace
}  // namespace sg::http
