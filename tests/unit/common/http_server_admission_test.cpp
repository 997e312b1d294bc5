// What the common HTTP server decides before and around a Handler: refusals from the head
// alone (no body byte read, no 100 Continue), the budget of buffered body bytes, the Host
// rules of RFC 9112 3.2, the security headers, and handlers kept off the I/O threads by the
// blocking pool. Real sockets on loopback.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "common/http/blocking_client.hpp"
#include "common/http/host_rules.hpp"
#include "common/http/http_server.hpp"

namespace sg::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// A raw client connection with a receive timeout, for exchanges a normal client cannot make
// (a head without its body, no Host).
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    timeval tv{2, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void send(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  // Everything until the peer closes or 2 s pass without a byte.
  std::string read_all() {
    std::string out;
    char buf[4096];
    for (;;) {
      boost::system::error_code ec;
      const std::size_t n = socket_.read_some(asio::buffer(buf), ec);
      if (ec) return out;
      out.append(buf, n);
    }
  }
  // True when the peer closed; false after the receive timeout (2 s) without a byte.
  bool closed() {
    char buf[64];
    boost::system::error_code ec;
    socket_.read_some(asio::buffer(buf), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }
  // What arrives within the receive timeout's first read (one response head, say).
  std::string read_some() {
    char buf[4096];
    boost::system::error_code ec;
    const std::size_t n = socket_.read_some(asio::buffer(buf), ec);
    return ec ? std::string() : std::string(buf, n);
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
};

// Seconds until the peer closed (or `limit` if it did not).
double seconds_until_closed(RawClient& c, std::chrono::seconds limit) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  while (elapsed() < static_cast<double>(limit.count())) {
    if (c.closed()) return elapsed();
  }
  return static_cast<double>(limit.count());
}

// Writes need "Authorization: Bearer ok"; counts the body bytes it was handed.
class Guarded final : public Handler {
 public:
  std::optional<Response> admit(const RequestHeader& head, const RequestContext&) override {
    if (head.method() == bhttp::verb::post && head[bhttp::field::authorization] != "Bearer ok") {
      return json_error(bhttp::status::unauthorized, "unauthenticated", "token required");
    }
    return std::nullopt;
  }
  BodyPlan plan_body(const RequestHeader&) override {
    return {BodyPlan::Mode::kBuffered, 4 * 1024 * 1024};
  }
  Response handle(Request& req, const RequestContext&) override {
    bodies_read += req.body().size();
    Response r;
    r.msg.body() = "got " + std::to_string(req.body().size());
    if (req.target() == "/own-csp") r.msg.set("Content-Security-Policy", "default-src 'self'");
    return r;
  }
  std::atomic<std::uint64_t> bodies_read{0};
};

ServerOptions options() {
  ServerOptions o;
  o.port = 0;
  o.threads = 1;
  o.header_timeout = std::chrono::seconds(2);
  return o;
}

TEST(HttpServerAdmission, AWriteWithoutTokenIsAnswered401FromItsHeadWithout100Continue) {
  Guarded handler;
  HttpServer server(options(), handler);
  ASSERT_TRUE(server.start().is_ok());
  RawClient c(server.port());
  c.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\nExpect: 100-continue\r\n\r\n");
  const std::string got = c.read_all();  // the server closes: the body stays unread
  server.stop();
  EXPECT_TRUE(got.starts_with("HTTP/1.1 401")) << got;
  EXPECT_EQ(got.find("100 Continue"), std::string::npos) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
  EXPECT_EQ(handler.bodies_read.load(), 0u);
}

TEST(HttpServerAdmission, AnAdmittedWriteGets100ContinueAndItsBody) {
  Guarded handler;
  HttpServer server(options(), handler);
  ASSERT_TRUE(server.start().is_ok());
  RawClient c(server.port());
  c.send(
      "POST /x HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ok\r\nContent-Length: 5\r\n"
      "Expect: 100-continue\r\n\r\n");
  const std::string cont = c.read_some();
  EXPECT_TRUE(cont.starts_with("HTTP/1.1 100 Continue")) << cont;
  c.send("hello");
  const std::string got = cont + c.read_some();
  server.stop();
  EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos) << got;
  EXPECT_NE(got.find("got 5"), std::string::npos) << got;
}

TEST(HttpServerAdmission, BodiesBeyondTheBufferedBudgetAre503FromTheHead) {
  Guarded handler;
  ServerOptions o = options();
  o.max_buffered_body_bytes = 100 * 1024;
  HttpServer server(o, handler);
  ASSERT_TRUE(server.start().is_ok());
  const std::string head =
      "POST /x HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ok\r\nContent-Length: 81920\r\n\r\n";
  RawClient holder(server.port());
  holder.send(head + "x");  // takes 80 KiB of the 100 KiB budget, then waits
  std::this_thread::sleep_for(200ms);
  RawClient refused(server.port());
  refused.send(head);
  const std::string got = refused.read_all();
  EXPECT_TRUE(got.starts_with("HTTP/1.1 503")) << got;
  EXPECT_NE(got.find("\"overloaded\""), std::string::npos) << got;
  EXPECT_EQ(server.body_budget().in_use(), 81920u);
  holder.send(std::string(81919, 'y'));
  const std::string done = holder.read_some();
  EXPECT_NE(done.find("got 81920"), std::string::npos) << done.substr(0, 200);
  // Given back once the exchange ended: the next body fits again.
  RawClient later(server.port());
  later.send(head + std::string(81920, 'z'));
  const std::string again = later.read_some();
  server.stop();
  EXPECT_NE(again.find("got 81920"), std::string::npos) << again.substr(0, 200);
}

TEST(HttpServerAdmission, AChunkedBodyIsRefusedOnceItOutgrowsTheBudget) {
  Guarded handler;
  ServerOptions o = options();
  o.max_buffered_body_bytes = 16 * 1024;
  HttpServer server(o, handler);
  ASSERT_TRUE(server.start().is_ok());
  RawClient c(server.port());
  c.send(
      "POST /x HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ok\r\nTransfer-Encoding: chunked\r\n"
      "\r\n");
  const std::string chunk(8192, 'a');
  std::string body;
  for (int i = 0; i < 4; ++i) body += "2000\r\n" + chunk + "\r\n";
  c.send(body);
  const std::string got = c.read_all();
  server.stop();
  EXPECT_TRUE(got.starts_with("HTTP/1.1 503")) << got.substr(0, 200);
  EXPECT_EQ(handler.bodies_read.load(), 0u);
}

TEST(HttpServerHost, Http11WithoutHostOrWithTwoOrABadOneIs400) {
  Guarded handler;
  HttpServer server(options(), handler);
  ASSERT_TRUE(server.start().is_ok());
  auto exchange = [&](const std::string& head) {
    RawClient c(server.port());
    c.send(head);
    return c.read_all();
  };
  const std::string missing = exchange("GET / HTTP/1.1\r\n\r\n");
  const std::string twice = exchange("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  const std::string bad = exchange("GET / HTTP/1.1\r\nHost: a b\r\n\r\n");
  const std::string http10 = exchange("GET / HTTP/1.0\r\n\r\n");
  const std::string empty = exchange("GET / HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n");
  server.stop();
  EXPECT_TRUE(missing.starts_with("HTTP/1.1 400")) << missing;
  EXPECT_NE(missing.find("Host"), std::string::npos) << missing;
  EXPECT_TRUE(twice.starts_with("HTTP/1.1 400")) << twice;
  EXPECT_TRUE(bad.starts_with("HTTP/1.1 400")) << bad;
  EXPECT_TRUE(http10.starts_with("HTTP/1.0 200")) << http10;
  EXPECT_TRUE(empty.starts_with("HTTP/1.1 200")) << empty;
}

TEST(HostRules, ValuesFollowRfc3986Authority) {
  for (const char* ok : {"example.com", "example.com:8080", "127.0.0.1:9", "[::1]", "[::1]:443", "",
                         "a.b-c_d~e", "%41b", "host:"}) {
    EXPECT_TRUE(valid_host_value(ok)) << ok;
  }
  for (const char* bad :
       {"a b", "a/b", "[::1", "[::1]x", "h:80:80", "h:8a", "%4", "a@b", "[]", "h\t"}) {
    EXPECT_FALSE(valid_host_value(bad)) << bad;
  }
}

TEST(HttpServerSecurityHeaders, EveryResponseGetsThemAndAHandlersOwnPolicyStays) {
  Guarded handler;
  HttpServer server(options(), handler);
  ASSERT_TRUE(server.start().is_ok());
  auto plain = blocking_call("127.0.0.1", server.port(), {bhttp::verb::get, "/"});
  auto own = blocking_call("127.0.0.1", server.port(), {bhttp::verb::get, "/own-csp"});
  auto refused = blocking_call("127.0.0.1", server.port(), {bhttp::verb::post, "/", "x"});
  server.stop();
  for (const auto* r : {&plain, &own, &refused}) {
    EXPECT_EQ(r->header("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(r->header("Referrer-Policy"), "no-referrer");
    EXPECT_EQ(r->header("X-Frame-Options"), "DENY");
  }
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(plain.header("Content-Security-Policy"), "default-src 'none'; frame-ancestors 'none'");
  EXPECT_EQ(own.header("Content-Security-Policy"), "default-src 'self'");
}

TEST(HttpServerParking, AnIdleConnectionParksIsServedAgainAndClosesAtTheIdleTimeout) {
  Guarded handler;
  ServerOptions o = options();
  o.park_after = std::chrono::milliseconds(50);
  o.idle_timeout = std::chrono::seconds(2);
  HttpServer server(o, handler);
  ASSERT_TRUE(server.start().is_ok());
  RawClient c(server.port());
  const std::string get = "GET /a HTTP/1.1\r\nHost: t\r\n\r\n";
  c.send(get);
  EXPECT_NE(c.read_some().find("200 OK"), std::string::npos);
  std::this_thread::sleep_for(400ms);  // parked by now
  EXPECT_EQ(server.connections(), 1) << "a parked connection is still open";
  c.send(get);
  EXPECT_NE(c.read_some().find("200 OK"), std::string::npos) << "not served after parking";
  std::this_thread::sleep_for(400ms);
  const double closed_after = seconds_until_closed(c, std::chrono::seconds(4));
  server.stop();
  // 2 s idle timeout from the last answer, 0.4 s of which passed before the wait began.
  EXPECT_GT(closed_after, 1.2);
  EXPECT_LT(closed_after, 2.2) << "a parked connection outlived its idle timeout";
}

TEST(HttpServerParking, ASilentNewConnectionClosesAtTheHeaderTimeout) {
  Guarded handler;
  ServerOptions o = options();  // header timeout 2 s
  o.park_after = std::chrono::milliseconds(50);
  HttpServer server(o, handler);
  ASSERT_TRUE(server.start().is_ok());
  RawClient c(server.port());
  const double closed_after = seconds_until_closed(c, std::chrono::seconds(5));
  server.stop();
  EXPECT_GT(closed_after, 1.8);
  EXPECT_LT(closed_after, 2.6);
}

TEST(HttpServerParking, StopAcceptingClosesParkedConnections) {
  Guarded handler;
  ServerOptions o = options();
  o.park_after = std::chrono::milliseconds(50);
  HttpServer server(o, handler);
  ASSERT_TRUE(server.start().is_ok());
  RawClient c(server.port());
  c.send("GET /a HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_NE(c.read_some().find("200 OK"), std::string::npos);
  std::this_thread::sleep_for(300ms);
  server.stop_accepting();
  EXPECT_TRUE(server.wait_idle(std::chrono::steady_clock::now() + 2s));
  EXPECT_TRUE(c.closed());
  server.stop();
}

// handle() waits until released; handle_nonblocking() answers "/fast" at once.
class Stalling final : public Handler {
 public:
  std::optional<Response> handle_nonblocking(Request& req, const RequestContext&) override {
    if (req.target() != "/fast") return std::nullopt;
    Response r;
    r.msg.body() = "fast";
    return r;
  }
  Response handle(Request&, const RequestContext&) override {
    std::unique_lock lock(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
    Response r;
    r.msg.body() = "slow";
    return r;
  }
  void wait_for_waiting(int n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 5s, [&] { return waiting_ >= n; });
  }
  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0;
  bool released_ = false;
};

TEST(HttpServerBlockingPool, AStalledHandlerDelaysNoProbeAndAFullQueueIs503) {
  Stalling handler;
  ServerOptions o = options();  // one I/O thread
  o.blocking_threads = 1;
  o.blocking_queue = 2;
  HttpServer server(o, handler);
  ASSERT_TRUE(server.start().is_ok());
  auto slow = [&] {
    return std::async(std::launch::async, [&] {
      return blocking_call("127.0.0.1", server.port(), {bhttp::verb::get, "/slow"});
    });
  };
  auto first = slow();
  handler.wait_for_waiting(1);
  auto second = slow();  // queued behind the first: the queue (2) is now full
  std::this_thread::sleep_for(100ms);
  const auto t0 = std::chrono::steady_clock::now();
  auto fast = blocking_call("127.0.0.1", server.port(), {bhttp::verb::get, "/fast"});
  const auto fast_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  auto refused = blocking_call("127.0.0.1", server.port(), {bhttp::verb::get, "/slow"});
  handler.release();
  const auto a = first.get();
  const auto b = second.get();
  server.stop();
  EXPECT_EQ(fast.status, 200);
  EXPECT_EQ(fast.body, "fast");
  EXPECT_LT(fast_ms, 50) << "the probe waited for the stalled handler";
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.header("Retry-After"), "1");
  EXPECT_EQ(a.body, "slow");
  EXPECT_EQ(b.body, "slow");
}

}  // namespace
}  // namespace sg::http
