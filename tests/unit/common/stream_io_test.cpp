// read_head / read_body_some over a real socket pair, with the peer writing in fragments;
// write_direct over loopback TCP, with a reader too slow for the kernel to take it all at once;
// LazyDeadline on a loopback TCP read.
#include "common/http/direct_write.hpp"
#include "common/http/lazy_deadline.hpp"
#include "common/http/parse_read.hpp"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/beast/http.hpp>
#include <string>
#include <vector>

namespace sg::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using Socket = asio::local::stream_protocol::socket;
using error_code = boost::system::error_code;

// Writes `pieces` one by one, yielding to the reader between them, then closes when asked.
asio::awaitable<void> write_pieces(Socket& s, std::vector<std::string> pieces, bool close) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  for (const auto& p : pieces) {
    co_await asio::async_write(s, asio::buffer(p), asio::use_awaitable);
    t.expires_after(std::chrono::milliseconds(1));
    co_await t.async_wait(asio::use_awaitable);
  }
  if (close) s.shutdown(Socket::shutdown_send);
}

// Runs `reader` on one end and the writer on the other until both finish (5 s at most).
template <class Reader>
void run_pair(std::vector<std::string> pieces, bool close, Reader reader) {
  asio::io_context io;
  Socket a(io), b(io);
  asio::local::connect_pair(a, b);
  bool read_done = false;
  asio::co_spawn(io, write_pieces(b, std::move(pieces), close), asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await reader(a);
        read_done = true;
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run_for(std::chrono::seconds(5));
  EXPECT_TRUE(read_done) << "the reader did not finish";
}

std::vector<std::string> bytes_of(const std::string& s) {
  std::vector<std::string> out;
  for (char c : s) out.emplace_back(1, c);
  return out;
}

TEST(ReadParsed, ReadsPipelinedHeadsSentByteByByte) {
  const std::string wire =
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /b HTTP/1.1\r\nHost: y\r\nX-Long: " +
      std::string(300, 'v') + "\r\n\r\n";
  std::vector<std::string> targets;
  run_pair(bytes_of(wire), true, [&](Socket& s) -> asio::awaitable<void> {
    beast::flat_buffer buf;
    for (int i = 0; i < 2; ++i) {
      bhttp::request_parser<bhttp::empty_body> p;
      const error_code ec = co_await read_head(s, buf, p);
      EXPECT_FALSE(ec) << ec.message();
      targets.emplace_back(p.get().target());
      EXPECT_TRUE(p.is_done()) << "no body: the message is complete";
    }
    bhttp::request_parser<bhttp::empty_body> p;
    EXPECT_EQ(co_await read_head(s, buf, p), bhttp::error::end_of_stream);
  });
  EXPECT_EQ(targets, (std::vector<std::string>{"/a", "/b"}));
}

TEST(ReadParsed, LeavesTheNextRequestInTheBufferWhenBothArriveTogether) {
  run_pair({"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"}, false,
           [&](Socket& s) -> asio::awaitable<void> {
             beast::flat_buffer buf;
             bhttp::request_parser<bhttp::empty_body> first;
             EXPECT_FALSE(co_await read_head(s, buf, first));
             EXPECT_EQ(buf.size(), 19u) << "the second request stays buffered";
             // The peer writes nothing more and keeps the connection open: the second head
             // must come from the buffer alone.
             bhttp::request_parser<bhttp::empty_body> second;
             EXPECT_FALSE(co_await read_head(s, buf, second));
             EXPECT_EQ(second.get().target(), "/b");
             EXPECT_EQ(buf.size(), 0u);
           });
}

// Reads a whole body through read_body_some with a `chunk`-byte buffer.
asio::awaitable<std::string> read_body(Socket& s, beast::flat_buffer& buf,
                                       bhttp::response_parser<bhttp::buffer_body>& p,
                                       std::size_t chunk, error_code& ec) {
  std::string body;
  std::vector<char> mem(chunk);
  while (!p.is_done()) {
    p.get().body().data = mem.data();
    p.get().body().size = chunk;
    ec = co_await read_body_some(s, buf, p);
    if (ec) break;
    body.append(mem.data(), chunk - p.get().body().size);
  }
  co_return body;
}

TEST(ReadParsed, DecodesAChunkedBodyInFragmentsIntoASmallBuffer) {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\nHTTP/1.1";
  std::string body;
  run_pair(bytes_of(wire), false, [&](Socket& s) -> asio::awaitable<void> {
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::buffer_body> p;
    EXPECT_FALSE(co_await read_head(s, buf, p));
    error_code ec;
    body = co_await read_body(s, buf, p, 4, ec);
    EXPECT_FALSE(ec) << ec.message();
  });
  EXPECT_EQ(body, "helloabcdefghijklmnopqrstuvwxyz");
}

TEST(ReadParsed, EndsABodyWithoutLengthAtTheClose) {
  std::string body;
  run_pair({"HTTP/1.0 200 OK\r\n\r\nstream", "ed to the end"}, true,
           [&](Socket& s) -> asio::awaitable<void> {
             beast::flat_buffer buf;
             bhttp::response_parser<bhttp::buffer_body> p;
             EXPECT_FALSE(co_await read_head(s, buf, p));
             error_code ec;
             body = co_await read_body(s, buf, p, 64, ec);
             EXPECT_FALSE(ec) << ec.message();
             EXPECT_TRUE(p.is_done());
           });
  EXPECT_EQ(body, "streamed to the end");
}

TEST(ReadParsed, ReportsATruncatedBodyAsPartialMessage) {
  run_pair({"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"}, true,
           [&](Socket& s) -> asio::awaitable<void> {
             beast::flat_buffer buf;
             bhttp::response_parser<bhttp::buffer_body> p;
             EXPECT_FALSE(co_await read_head(s, buf, p));
             error_code ec;
             const std::string body = co_await read_body(s, buf, p, 64, ec);
             EXPECT_EQ(ec, bhttp::error::partial_message) << ec.message();
             EXPECT_EQ(body, "abc");
           });
}

TEST(ReadParsed, EnforcesTheParsersHeaderLimit) {
  run_pair({"GET / HTTP/1.1\r\nX: " + std::string(2000, 'a') + "\r\n\r\n"}, false,
           [&](Socket& s) -> asio::awaitable<void> {
             beast::flat_buffer buf;
             bhttp::request_parser<bhttp::empty_body> p;
             p.header_limit(1024);
             EXPECT_EQ(co_await read_head(s, buf, p), bhttp::error::header_limit);
           });
}

TEST(WriteDirect, DeliversEveryByteWhenTheKernelTakesOnlyPart) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  beast::tcp_stream writer(io);
  asio::ip::tcp::socket reader(io);
  writer.socket().connect(acceptor.local_endpoint());
  acceptor.accept(reader);
  // Far more than a loopback socket buffers: most of it must go through the async fallback.
  std::string payload(16 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  const std::array<asio::const_buffer, 2> pieces{
      asio::buffer(payload.data(), 100), asio::buffer(payload.data() + 100, payload.size() - 100)};
  std::string received;
  bool wrote = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const error_code ec = co_await write_direct(writer, pieces, std::chrono::seconds(5));
        EXPECT_FALSE(ec) << ec.message();
        wrote = true;
        writer.socket().shutdown(asio::ip::tcp::socket::shutdown_send);
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        std::array<char, 4096> buf{};
        asio::steady_timer pause(io);
        for (;;) {
          auto [ec, n] = co_await reader.async_read_some(asio::buffer(buf),
                                                         asio::as_tuple(asio::use_awaitable));
          received.append(buf.data(), n);
          if (ec) break;
          if (received.size() < 256 * 1024) {  // slow at first, so the kernel fills up
            pause.expires_after(std::chrono::microseconds(200));
            co_await pause.async_wait(asio::use_awaitable);
          }
        }
      },
      asio::detached);
  io.run_for(std::chrono::seconds(20));
  EXPECT_TRUE(wrote);
  ASSERT_EQ(received.size(), payload.size());
  EXPECT_TRUE(received == payload) << "the bytes arrived out of order or changed";
}

TEST(WriteDirect, ReportsAPeerThatIsGone) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  beast::tcp_stream writer(io);
  writer.socket().connect(acceptor.local_endpoint());
  {
    asio::ip::tcp::socket peer(io);
    acceptor.accept(peer);
    peer.set_option(asio::socket_base::linger(true, 0));  // close with a reset
  }
  const std::string payload(4 * 1024 * 1024, 'x');
  error_code result;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        result = co_await write_direct(writer, asio::buffer(payload), std::chrono::seconds(5));
      },
      asio::detached);
  io.run_for(std::chrono::seconds(10));
  EXPECT_TRUE(result) << "a write to a reset connection must fail";
}

TEST(WriteDirect, TimesOutWhenThePeerStopsReadingAndLeavesNoExpiryBehind) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  beast::tcp_stream writer(io);
  asio::ip::tcp::socket reader(io);  // never read
  writer.socket().connect(acceptor.local_endpoint());
  acceptor.accept(reader);
  const std::string payload(32 * 1024 * 1024, 'x');  // more than loopback buffers hold
  error_code result;
  std::chrono::steady_clock::duration took{};
  error_code later;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const auto start = std::chrono::steady_clock::now();
        result =
            co_await write_direct(writer, asio::buffer(payload), std::chrono::milliseconds(300));
        took = std::chrono::steady_clock::now() - start;
      },
      asio::detached);
  io.run_for(std::chrono::seconds(10));
  EXPECT_EQ(result, beast::error::timeout) << result.message();
  EXPECT_GE(took, std::chrono::milliseconds(290));
  EXPECT_LT(took, std::chrono::seconds(3));

  // A write that the kernel takes at once arms nothing: a later read through the stream is
  // not cut off after the write's 100 ms.
  io.restart();
  beast::tcp_stream writer2(io);
  asio::ip::tcp::socket reader2(io);
  writer2.socket().connect(acceptor.local_endpoint());
  acceptor.accept(reader2);
  bool waited = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        (void)co_await write_direct(writer2, asio::buffer(payload.data(), 100),
                                    std::chrono::milliseconds(100));
        // A read through the stream with no expiry of its own: waits for the peer's bytes.
        std::array<char, 16> buf{};
        auto [ec, n] = co_await writer2.async_read_some(asio::buffer(buf),
                                                        asio::as_tuple(asio::use_awaitable));
        later = ec;
        waited = n == 4;
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer t(io, std::chrono::milliseconds(400));
        co_await t.async_wait(asio::use_awaitable);
        co_await asio::async_write(reader2, asio::buffer("pong", 4), asio::use_awaitable);
      },
      asio::detached);
  io.run_for(std::chrono::seconds(10));
  EXPECT_FALSE(later) << later.message();
  EXPECT_TRUE(waited);
}

// kAfterQueuedHandlers: a handler queued before the write runs before its bytes leave; kNow
// sends first. Each send is seen (or not) by the peer's FIONREAD inside that handler.
TEST(WriteDirect, SendsAfterTheHandlersAlreadyQueuedWhenAsked) {
  for (const SendTiming timing : {SendTiming::kNow, SendTiming::kAfterQueuedHandlers}) {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    beast::tcp_stream writer(io);
    asio::ip::tcp::socket reader(io);
    writer.socket().connect(acceptor.local_endpoint());
    acceptor.accept(reader);
    std::vector<std::string> events;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          // Queued while this coroutine runs, as the other ready sockets of a reactor batch are.
          asio::post(io, [&] {
            events.push_back(reader.available() == 0 ? "handler saw nothing" : "handler saw bytes");
          });
          const error_code ec = co_await write_direct(writer, asio::buffer("ping", 4),
                                                      std::chrono::seconds(1), timing);
          events.push_back(ec ? "write failed: " + ec.message() : "write done");
        },
        asio::detached);
    io.run_for(std::chrono::seconds(5));
    const std::vector<std::string> expected =
        timing == SendTiming::kNow ? std::vector<std::string>{"write done", "handler saw bytes"}
                                   : std::vector<std::string>{"handler saw nothing", "write done"};
    EXPECT_EQ(events, expected) << (timing == SendTiming::kNow ? "kNow" : "kAfterQueuedHandlers");
    EXPECT_EQ(reader.available(), 4u);
  }
}

// A connected loopback TCP pair.
struct TcpPair {
  explicit TcpPair(asio::io_context& io) : reader(io), writer(io) {
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    writer.connect(acceptor.local_endpoint());
    acceptor.accept(reader);
  }
  asio::ip::tcp::socket reader;
  asio::ip::tcp::socket writer;
};

using SteadyClock = std::chrono::steady_clock;

// Sets `deadline` to `after` from now and runs `io` (5 s at most) with a read pending on
// `pair.reader`, which nobody writes to: the deadline must end the read, no sooner than
// `after` and within a second.
void expect_read_cut_off_after(asio::io_context& io, TcpPair& pair, LazyDeadline& deadline,
                               std::chrono::milliseconds after) {
  const auto start = SteadyClock::now();
  deadline.expires_after(after);
  SteadyClock::duration took{};
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        std::array<char, 16> buf{};
        auto [ec, n] = co_await pair.reader.async_read_some(asio::buffer(buf),
                                                            asio::as_tuple(asio::use_awaitable));
        EXPECT_TRUE(ec) << "nobody writes: the read can only fail (" << n << " bytes)";
        took = SteadyClock::now() - start;
      },
      asio::detached);
  io.run_for(std::chrono::seconds(5));
  EXPECT_TRUE(deadline.timed_out());
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
  EXPECT_GE(ms, after.count());
  EXPECT_LT(ms, 1000) << "a " << after.count() << " ms deadline";
}

TEST(LazyDeadline, ClosesASocketNobodyWritesToAtTheDeadline) {
  asio::io_context io;
  TcpPair pair(io);
  LazyDeadline deadline(io.get_executor(), pair.reader, std::chrono::milliseconds(100));
  expect_read_cut_off_after(io, pair, deadline, std::chrono::milliseconds(100));
  EXPECT_FALSE(pair.reader.is_open());
}

TEST(LazyDeadline, MovingTheDeadlineKeepsABusySocketOpen) {
  asio::io_context io;
  TcpPair pair(io);
  LazyDeadline deadline(io.get_executor(), pair.reader, std::chrono::milliseconds(100));
  int reads = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer t(io);
        for (int i = 0; i < 10; ++i) {  // 10 x 40 ms, each under the 100 ms deadline
          t.expires_after(std::chrono::milliseconds(40));
          co_await t.async_wait(asio::use_awaitable);
          co_await asio::async_write(pair.writer, asio::buffer("x", 1), asio::use_awaitable);
        }
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        std::array<char, 16> buf{};
        for (int i = 0; i < 10; ++i) {
          deadline.expires_after(std::chrono::milliseconds(100));
          auto [ec, n] = co_await pair.reader.async_read_some(asio::buffer(buf),
                                                              asio::as_tuple(asio::use_awaitable));
          if (ec) break;
          reads += static_cast<int>(n);
        }
        deadline.disarm();
      },
      asio::detached);
  io.run_for(std::chrono::seconds(5));
  EXPECT_EQ(reads, 10) << "400 ms of steady traffic under a 100 ms deadline";
  EXPECT_FALSE(deadline.timed_out());
  EXPECT_TRUE(pair.reader.is_open());
}

TEST(LazyDeadline, ADeadlineMovedEarlierIsStillOnTime) {
  asio::io_context io;
  TcpPair pair(io);
  // A long period and a long first deadline: the second, short one must re-set the wait.
  LazyDeadline deadline(io.get_executor(), pair.reader, std::chrono::seconds(30));
  deadline.expires_after(std::chrono::seconds(30));
  expect_read_cut_off_after(io, pair, deadline, std::chrono::milliseconds(100));
}

TEST(LazyDeadline, AnIdleSocketWakesOncePerPeriodAndTimesOutOnTime) {
  asio::io_context io;
  TcpPair pair(io);
  // Deadline 350 ms, period 100 ms: the wait ends at 100, 200, 300 and 350 ms.
  LazyDeadline deadline(io.get_executor(), pair.reader, std::chrono::milliseconds(100));
  expect_read_cut_off_after(io, pair, deadline, std::chrono::milliseconds(350));
}

TEST(LazyDeadline, DisarmedOrDestroyedItLeavesTheSocketAlone) {
  asio::io_context io;
  TcpPair pair(io);
  LazyDeadline disarmed(io.get_executor(), pair.reader, std::chrono::milliseconds(20));
  disarmed.expires_after(std::chrono::milliseconds(20));
  disarmed.disarm();
  {
    auto gone = std::make_unique<LazyDeadline>(io.get_executor(), pair.reader,
                                               std::chrono::milliseconds(20));
    gone->expires_after(std::chrono::milliseconds(20));
  }  // destroyed with its timer pending
  io.run_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(disarmed.timed_out());
  EXPECT_TRUE(pair.reader.is_open());
}

}  // namespace
}  // namespace sg::http
