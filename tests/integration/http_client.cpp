#include "integration/http_client.hpp"

#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>

namespace sg::test {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

void set_timeouts(tcp::socket& s, std::chrono::milliseconds t) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(t.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((t.count() % 1000) * 1000);
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

HttpReply http_call(std::uint16_t port, const HttpCall& call) {
  HttpReply reply;
  try {
    asio::io_context io;
    tcp::socket sock(io);
    sock.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    set_timeouts(sock, call.timeout);
    http::request<http::string_body> req{call.method, call.target, 11};
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [k, v] : call.headers) req.set(k, v);
    req.body() = call.body;
    if (!call.body.empty() || call.method == http::verb::post || call.method == http::verb::put ||
        call.method == http::verb::patch) {
      req.prepare_payload();
    }
    http::write(sock, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256 * 1024 * 1024);
    if (call.method == http::verb::head) parser.skip(true);
    http::read(sock, buf, parser);
    auto res = parser.release();
    reply.status = res.result_int();
    reply.body = std::move(res.body());
    reply.headers = std::move(res.base());
  } catch (const std::exception& e) {
    reply.status = 0;
    reply.error = e.what();
  }
  return reply;
}

std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds timeout) {
  std::string out;
  try {
    asio::io_context io;
    tcp::socket sock(io);
    sock.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    set_timeouts(sock, timeout);
    asio::write(sock, asio::buffer(bytes));
    char buf[4096];
    boost::system::error_code ec;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::size_t n = sock.read_some(asio::buffer(buf), ec);
      if (ec) break;
      out.append(buf, n);
    }
  } catch (const std::exception& e) {
    out += std::string("<client error: ") + e.what() + ">";
  }
  return out;
}

}  // namespace sg::test
