// Writing to a socket without a trip through the io_context when the kernel takes the bytes
// at once.
//
// An async write costs an operation object, arming and cancelling the stream's timeout timer,
// and a suspension of the coroutine until the io_context runs the completion; for the small
// messages a proxy mostly sends, the socket almost always has room and a plain non-blocking
// send would have finished the job. write_direct() tries that first and falls back to
// async_write only for what the kernel did not take; `timeout` (the stream's expiry, see
// beast::tcp_stream::expires_after) is armed for that rest only and cleared after it, so a
// write the kernel takes at once costs no timer work at all.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>

namespace sg::http {

// Writes all of `buffers` to `stream`, failing with beast::error::timeout when what the kernel
// did not take at once is not written within `timeout`. Returns the first error.
template <class ConstBufferSequence>
boost::asio::awaitable<boost::system::error_code> write_direct(
    boost::beast::tcp_stream& stream, const ConstBufferSequence& buffers,
    std::chrono::steady_clock::duration timeout) {
  boost::system::error_code ec;
  auto& socket = stream.socket();
  // Once set, Asio's synchronous operations answer would_block instead of waiting, and its
  // asynchronous ones are unaffected.
  if (!socket.non_blocking()) socket.non_blocking(true, ec);
  std::size_t sent = 0;
  if (!ec) sent = socket.write_some(buffers, ec);
  if (ec && ec != boost::asio::error::would_block && ec != boost::asio::error::try_again)
    co_return ec;
  if (sent == boost::asio::buffer_size(buffers)) co_return boost::system::error_code{};
  boost::beast::buffers_suffix<ConstBufferSequence> rest(buffers);
  rest.consume(sent);
  stream.expires_after(timeout);
  auto [wec, n] = co_await boost::asio::async_write(
      stream, rest, boost::asio::as_tuple(boost::asio::use_awaitable));
  stream.expires_never();
  co_return wec;
}

}  // namespace sg::http
