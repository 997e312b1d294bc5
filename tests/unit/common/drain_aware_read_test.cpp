// DrainAwareBuffer: reads still see every byte and every end of stream (data arriving between
// reads, data and FIN arriving together, more data than the buffer), and on Debian 12's Boost
// a read that emptied the socket spares the next read's speculative receive call. Receive
// calls are counted per socket by linking this test with -Wl,--wrap=recv,--wrap=recvmsg (see
// tests/unit/CMakeLists.txt).
#include "common/http/drain_aware_buffer.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <string>

namespace {
std::atomic<int> g_counted_fd{-1};
std::atomic<int> g_recv_calls{0};
}  // namespace

extern "C" ssize_t __real_recv(int fd, void* buf, size_t len, int flags);
extern "C" ssize_t __wrap_recv(int fd, void* buf, size_t len, int flags) {
  if (fd == g_counted_fd.load()) g_recv_calls.fetch_add(1);
  return __real_recv(fd, buf, len, flags);
}
extern "C" ssize_t __real_recvmsg(int fd, msghdr* msg, int flags);
extern "C" ssize_t __wrap_recvmsg(int fd, msghdr* msg, int flags) {
  if (fd == g_counted_fd.load()) g_recv_calls.fetch_add(1);
  return __real_recvmsg(fd, msg, flags);
}

namespace sg::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Pair {
  asio::io_context io;
  tcp::socket a{io}, b{io};
  Pair() {
    tcp::acceptor acc(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    b.connect(acc.local_endpoint());
    acc.accept(a);
    enable_drain_aware_reads(a);
  }
  // Runs `f` on the io_context for at most 5 s; false if it did not finish.
  template <class F>
  bool run(F f) {
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await f();
          done = true;
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io.run_for(std::chrono::seconds(5));
    return done;
  }
};

// `rounds` request/answer exchanges where `a` reads each request into `Buffer` before the
// peer has sent it (the usual case for a server or a proxy waiting on its upstream), and
// answers it; returns how many receive calls were made on `a`.
template <class MakeBuffer>
int recv_calls_for_exchanges(int rounds, MakeBuffer make_buffer) {
  Pair p;
  g_recv_calls = 0;
  g_counted_fd = p.a.native_handle();
  const bool finished = p.run([&]() -> asio::awaitable<void> {
    auto server = [&]() -> asio::awaitable<void> {
      std::array<char, 256> buf{};
      for (int i = 0; i < rounds; ++i) {
        auto [ec, n] = co_await p.a.async_read_some(make_buffer(asio::buffer(buf)), kTuple);
        EXPECT_FALSE(ec) << ec.message();
        EXPECT_EQ(std::string(buf.data(), n), "ping");
        co_await asio::async_write(p.a, asio::buffer("pong", 4), kTuple);
      }
    };
    auto client = [&]() -> asio::awaitable<void> {
      std::array<char, 4> answer{};
      for (int i = 0; i < rounds; ++i) {
        co_await asio::async_write(p.b, asio::buffer("ping", 4), kTuple);
        auto [ec, n] = co_await asio::async_read(p.b, asio::buffer(answer), kTuple);
        EXPECT_FALSE(ec) << ec.message();
      }
    };
    using namespace asio::experimental::awaitable_operators;
    co_await (server() && client());
  });
  g_counted_fd = -1;
  EXPECT_TRUE(finished) << "the exchanges did not finish";
  return g_recv_calls.load();
}

TEST(DrainAwareRead, AShortReadSparesTheNextReadsSpeculativeRecv) {
  constexpr int kRounds = 200;
  // A plain buffer: every read first tries a recv that fails (nothing sent yet), then reads.
  const int plain = recv_calls_for_exchanges(kRounds, [](asio::mutable_buffer b) { return b; });
  EXPECT_GE(plain, kRounds * 3 / 2) << "the counting does not see Asio's speculative recv";
  const int aware =
      recv_calls_for_exchanges(kRounds, [](asio::mutable_buffer b) { return DrainAwareBuffer(b); });
  if (!kDrainAwareReads) GTEST_SKIP() << "not Boost 1.81 with epoll: plain reads (" << aware << ")";
  // One receive call per request; a few more when an epoll event came for bytes already read.
  EXPECT_LE(aware, kRounds + kRounds / 10) << "plain: " << plain;
}

TEST(DrainAwareRead, BytesSentBetweenAShortReadAndTheNextReadAreRead) {
  Pair p;
  const bool finished = p.run([&]() -> asio::awaitable<void> {
    std::array<char, 64> buf{};
    asio::write(p.b, asio::buffer("one", 3));
    auto [ec1, n1] = co_await p.a.async_read_some(DrainAwareBuffer(asio::buffer(buf)), kTuple);
    EXPECT_EQ(std::string(buf.data(), n1), "one");
    // Short read: the socket counts as drained. These bytes arrive before the next read
    // is started, so only epoll's event can bring them.
    asio::write(p.b, asio::buffer("two", 3));
    auto [ec2, n2] = co_await p.a.async_read_some(DrainAwareBuffer(asio::buffer(buf)), kTuple);
    EXPECT_FALSE(ec2) << ec2.message();
    EXPECT_EQ(std::string(buf.data(), n2), "two");
    p.b.shutdown(tcp::socket::shutdown_send);
    auto [ec3, n3] = co_await p.a.async_read_some(DrainAwareBuffer(asio::buffer(buf)), kTuple);
    EXPECT_EQ(ec3, asio::error::eof);
    EXPECT_EQ(n3, 0u);
  });
  EXPECT_TRUE(finished) << "a read waited for bytes that had already arrived";
}

TEST(DrainAwareRead, AnEndOfStreamThatCameWithTheLastBytesIsRead) {
  Pair p;
  const bool finished = p.run([&]() -> asio::awaitable<void> {
    asio::write(p.b, asio::buffer("last", 4));
    p.b.shutdown(tcp::socket::shutdown_send);
    // Let the reactor take the one epoll event for both before anything reads.
    asio::steady_timer t(p.io, std::chrono::milliseconds(20));
    co_await t.async_wait(kTuple);
    std::array<char, 64> buf{};
    auto [ec1, n1] = co_await p.a.async_read_some(DrainAwareBuffer(asio::buffer(buf)), kTuple);
    EXPECT_EQ(std::string(buf.data(), n1), "last");
    auto [ec2, n2] = co_await p.a.async_read_some(DrainAwareBuffer(asio::buffer(buf)), kTuple);
    EXPECT_EQ(ec2, asio::error::eof);
  });
  EXPECT_TRUE(finished) << "the end of stream behind the last bytes was never reported";
}

TEST(DrainAwareRead, MoreBytesThanTheBufferAreReadInFullReadsThroughATcpStream) {
  Pair p;
  boost::beast::tcp_stream stream(std::move(p.a));
  const std::string sent = "0123456789abcdefghij";  // 20 bytes, read 8 at a time
  std::string got;
  const bool finished = p.run([&]() -> asio::awaitable<void> {
    asio::write(p.b, asio::buffer(sent));
    p.b.shutdown(tcp::socket::shutdown_send);
    std::array<char, 8> buf{};
    for (;;) {
      auto [ec, n] = co_await stream.async_read_some(DrainAwareBuffer(asio::buffer(buf)), kTuple);
      got.append(buf.data(), n);
      if (ec) {
        EXPECT_EQ(ec, asio::error::eof);
        break;
      }
    }
  });
  EXPECT_TRUE(finished);
  EXPECT_EQ(got, sent);
}

}  // namespace
}  // namespace sg::http
