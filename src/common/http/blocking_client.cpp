#include "common/http/blocking_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/host_port.hpp"

namespace sg::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

ClientReply blocking_call(const std::string& host, std::uint16_t port,
                          const ClientRequest& request) {
  ClientReply reply;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) {
    reply.error = "'" + host + "' is not an IP address";
    return reply;
  }
  bhttp::request<bhttp::string_body> req{request.method, request.target, 11};
  req.set(bhttp::field::host, host + ":" + std::to_string(port));
  for (const auto& [k, v] : request.headers) req.set(k, v);
  req.body() = request.body;
  if (!request.body.empty() || request.method == bhttp::verb::post ||
      request.method == bhttp::verb::put || request.method == bhttp::verb::patch) {
    req.prepare_payload();
  }
  // Asynchronous operations on a private io_context, each with a deadline (tcp_stream closes
  // the socket when it passes): a peer that accepts and never answers cannot hang the caller.
  asio::io_context io;
  beast::tcp_stream stream(io);
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(request.body_limit);
  if (request.method == bhttp::verb::head) parser.skip(true);
  boost::system::error_code result;
  std::string stage = "connect";
  stream.expires_after(request.timeout);
  stream.async_connect(tcp::endpoint(address, port), [&](boost::system::error_code e) {
    if (e) {
      result = e;
      return;
    }
    stage = "send";
    stream.expires_after(request.timeout);
    bhttp::async_write(stream, req, [&](boost::system::error_code e2, std::size_t) {
      if (e2) {
        result = e2;
        return;
      }
      stage = "receive";
      stream.expires_after(request.timeout);
      bhttp::async_read(stream, buf, parser,
                        [&](boost::system::error_code e3, std::size_t) { result = e3; });
    });
  });
  io.run();
  if (result) {
    reply.error = host + ":" + std::to_string(port) + ": " + stage + ": " + result.message();
    return reply;
  }
  auto res = parser.release();
  reply.status = res.result_int();
  reply.body = std::move(res.body());
  reply.headers = std::move(res.base());
  return reply;
}

ClientReply blocking_call(std::string_view host_port, const ClientRequest& request) {
  auto hp = parse_host_port(host_port);
  if (!hp) return {.error = hp.error().message};
  return blocking_call(hp->host, hp->port, request);
}

}  // namespace sg::http
