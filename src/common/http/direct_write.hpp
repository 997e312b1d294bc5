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
//
// SendTiming::kAfterQueuedHandlers first lets the handlers already queued on the calling
// thread's io_context run (the rest of the batch of sockets the reactor found ready): a proxy
// thread then reads and parses everything that arrived before it sends, and its sends leave
// in a burst. A peer woken by the first send of a burst finds the others queued when it runs,
// instead of being woken (and preempting the proxy) once per send; bench/README.md has the
// numbers. It costs one trip through the io_context's queue, no system call.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>

namespace sg::http {

// When write_direct() makes its first send: at once, or after the handlers already queued on
// the calling thread's io_context (see the top of this file).
enum class SendTiming { kNow, kAfterQueuedHandlers };

// Writes all of `buffers` to `stream`, failing with beast::error::timeout when what the kernel
// did not take at once is not written within `timeout`. Returns the first error. `buffers`
// must stay valid until the returned awaitable completes, as for any asynchronous write.
template <class ConstBufferSequence>
boost::asio::awaitable<boost::system::error_code> write_direct(
    boost::beast::tcp_stream& stream, const ConstBufferSequence& buffers,
    std::chrono::steady_clock::duration timeout, SendTiming timing = SendTiming::kNow) {
  if (timing == SendTiming::kAfterQueuedHandlers) {
    // Without an executor, defer() queues on the coroutine's own; `deferred` saves the
    // coroutine frame that use_awaitable would add.
    co_await boost::asio::defer(boost::asio::deferred);
  }
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
