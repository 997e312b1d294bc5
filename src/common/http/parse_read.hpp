// Reading an HTTP message through a Beast parser without a scheduler round trip when the
// bytes are already buffered.
//
// Beast's async_read_header / async_read post their completion when the buffer already holds
// what the caller asked for (a pipelined request, a response body that arrived with its head),
// which costs a trip through the io_context per call on the proxy's hot path. read_parsed()
// runs the same loop as Beast's read_some_op (parse what is buffered; read more only when the
// parser needs more; end of stream finishes a body that runs to the close) but returns
// directly when no read was needed.
//
// Limits are the parser's (header_limit, body_limit); a read of at most 64 KiB is prepared
// at a time, as Beast does. The socket under a beast::tcp_stream is read directly: the
// stream's own expiry does NOT apply (it would arm and cancel a timer per read); time the
// reads with a LazyDeadline on the socket.
// Reads go through a DrainAwareBuffer: after a read that emptied the socket the next one waits
// for epoll instead of trying a recvmsg that would fail with EAGAIN.
#pragma once

#include "common/http/drain_aware_buffer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>

namespace sg::http {

// The socket a stream reads from: a beast::tcp_stream's, or the stream itself.
template <class Stream>
auto& socket_of(Stream& stream) {
  if constexpr (requires { stream.socket(); }) {
    return stream.socket();
  } else {
    return stream;
  }
}

// Feeds `parser` from `buffer`, reading from `stream` into `buffer` whenever the parser needs
// more, until the message is complete or `enough()` holds. Returns the parse or read error; a
// clean end of stream before any byte of the message is bhttp::error::end_of_stream, as in
// Beast. A buffer_body whose buffer is full (bhttp::error::need_buffer) ends the read
// without an error.
template <class Stream, bool IsRequest, class Enough>
boost::asio::awaitable<boost::system::error_code> read_parsed(
    Stream& stream, boost::beast::flat_buffer& buffer,
    boost::beast::http::basic_parser<IsRequest>& parser, Enough enough) {
  namespace bhttp = boost::beast::http;
  boost::system::error_code ec;
  for (;;) {
    if (parser.is_done() || enough()) co_return ec;
    if (buffer.size() > 0) {
      // put() (non-eager) takes one step per call: the head, a chunk header, a piece of body.
      const std::size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == bhttp::error::need_buffer) co_return boost::system::error_code{};
      if (ec && ec != bhttp::error::need_more) co_return ec;
      const bool progress = !ec && used > 0;
      ec = {};
      if (progress) continue;
      if (parser.is_done() || enough()) co_return ec;
    }
    const std::size_t size = boost::beast::read_size(buffer, 65536);
    if (size == 0) co_return bhttp::error::buffer_overflow;
    auto [rec, n] = co_await socket_of(stream).async_read_some(
        DrainAwareBuffer(buffer.prepare(size)), boost::asio::as_tuple(boost::asio::use_awaitable));
    buffer.commit(n);
    if (rec == boost::asio::error::eof) {
      if (!parser.got_some()) co_return bhttp::error::end_of_stream;
      parser.put_eof(ec);
      co_return ec;
    }
    if (rec) co_return rec;
  }
}

// Reads until the head of the message is parsed.
template <class Stream, bool IsRequest>
boost::asio::awaitable<boost::system::error_code> read_head(
    Stream& stream, boost::beast::flat_buffer& buffer,
    boost::beast::http::basic_parser<IsRequest>& parser) {
  return read_parsed(stream, buffer, parser, [&parser] { return parser.is_header_done(); });
}

// Reads body bytes into `parser`'s buffer_body (body().data / body().size set by the caller)
// until some arrived, the buffer is full or the message is complete, whichever comes first.
// The bytes received are the decrease of body().size.
template <class Stream, bool IsRequest, class Allocator>
boost::asio::awaitable<boost::system::error_code> read_body_some(
    Stream& stream, boost::beast::flat_buffer& buffer,
    boost::beast::http::parser<IsRequest, boost::beast::http::buffer_body, Allocator>& parser) {
  return read_parsed(stream, buffer, parser, [&parser, before = parser.get().body().size] {
    return parser.get().body().size < before;
  });
}

}  // namespace sg::http
