// streamgate-gateway relaying responses it does not get from a streamgate-server: a raw
// upstream on loopback answers with a chunked body written in pieces of assorted sizes, so
// the gateway's re-chunking (pieces sent behind the head or a chunk size, and pieces sent
// from where they were read) is checked byte for byte, for HTTP/1.1 and HTTP/1.0 clients.
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "integration/gateway_fixture.hpp"
#include "integration/http_client.hpp"

namespace sg::test {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// Answers every request on every connection with a 200 whose chunked body is `chunks`, each
// chunk written separately with a short pause, so the gateway reads them one by one. Runs
// on its own thread until destroyed.
class ChunkedUpstream {
 public:
  explicit ChunkedUpstream(std::vector<std::string> chunks)
      : chunks_(std::move(chunks)), acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run_for(std::chrono::minutes(2)); });
  }
  ~ChunkedUpstream() {
    io_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, s] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(io_, serve(std::move(s)), asio::detached);
    }
  }

  asio::awaitable<void> serve(tcp::socket s) {
    constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
    asio::streambuf in(64 * 1024);
    asio::steady_timer pause(io_);
    for (;;) {
      auto [rec, n] = co_await asio::async_read_until(s, in, "\r\n\r\n", kTuple);
      if (rec) co_return;
      in.consume(n);  // requests without a body: the head is all there is
      std::string head =
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
          "X-StreamGate-Version: raw-1\r\nTransfer-Encoding: chunked\r\n\r\n";
      if (auto [wec, w] = co_await asio::async_write(s, asio::buffer(head), kTuple); wec) {
        co_return;
      }
      for (const auto& c : chunks_) {
        char size[32];
        const int len = std::snprintf(size, sizeof size, "%zx\r\n", c.size());
        const std::string piece = std::string(size, static_cast<std::size_t>(len)) + c + "\r\n";
        if (auto [wec, w] = co_await asio::async_write(s, asio::buffer(piece), kTuple); wec) {
          co_return;
        }
        pause.expires_after(std::chrono::milliseconds(5));
        co_await pause.async_wait(kTuple);
      }
      if (auto [wec, w] = co_await asio::async_write(s, asio::buffer("0\r\n\r\n", 5), kTuple);
          wec) {
        co_return;
      }
    }
  }

  std::vector<std::string> chunks_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

std::string pattern(std::size_t n, char first) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(first + i % 23);
  return s;
}

class GatewayRelayTest : public GatewayFixture {};

TEST_F(GatewayRelayTest, ChunkedUpstreamBodiesArriveWholeForHttp11AndHttp10Clients) {
  // Sizes around the gateway's 1 KiB "send with the head" limit and its 512-byte small buffer.
  const std::vector<std::string> chunks{
      "hello", pattern(511, 'a'), pattern(1024, 'b'), pattern(1025, 'c'), pattern(70 * 1024, 'd'),
      "end"};
  std::string whole;
  for (const auto& c : chunks) whole += c;
  ChunkedUpstream upstream(chunks);
  health_ = "{ interval_ms: 60000, timeout_ms: 500, rise: 1, fall: 100 }";
  ASSERT_NO_FATAL_FAILURE(
      start_gateway("tracks:\n  raw: { endpoints: [127.0.0.1:" + std::to_string(upstream.port()) +
                    "] }\nroute: { weights: { raw: 100 } }\n"));
  // Several requests, so pooled upstream connections carry more than one response.
  for (int i = 0; i < 4; ++i) {
    auto r = http_get(port_, "/whatever");
    ASSERT_EQ(r.status, 200) << "request " << i << ": " << r.error << r.body;
    EXPECT_EQ(r.header("X-StreamGate-Track"), "raw");
    EXPECT_EQ(r.header("X-StreamGate-Version"), "raw-1");
    EXPECT_EQ(r.header("Transfer-Encoding"), "chunked");
    ASSERT_EQ(r.body.size(), whole.size()) << "request " << i;
    EXPECT_TRUE(r.body == whole) << "request " << i << ": the body changed on the way";
  }
  // HTTP/1.0 knows no chunked coding: the gateway sends the bytes as they are and closes.
  const std::string raw = raw_exchange(port_, "GET /old HTTP/1.0\r\nHost: x\r\n\r\n");
  const auto split = raw.find("\r\n\r\n");
  ASSERT_NE(split, std::string::npos) << raw.substr(0, 200);
  EXPECT_EQ(raw.rfind("HTTP/1.0 200", 0), 0u) << raw.substr(0, 200);
  EXPECT_EQ(raw.find("Transfer-Encoding"), std::string::npos) << raw.substr(0, split);
  const std::string body = raw.substr(split + 4);
  ASSERT_EQ(body.size(), whole.size());
  EXPECT_TRUE(body == whole) << "the HTTP/1.0 body changed on the way";
}

}  // namespace
}  // namespace sg::test
