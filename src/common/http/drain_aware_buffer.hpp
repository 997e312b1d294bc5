// A receive buffer whose reads, when they empty the socket, tell Asio's epoll reactor so.
//
// Asio 1.81 starts every socket read with a speculative recvmsg(). On a request/response
// connection the next read almost always comes before the peer has answered, so that call
// fails with EAGAIN and another runs when epoll reports the data: ~3.7 receive calls per
// proxied request where 2 carry data (measured with `perf stat` on the gateway; HAProxy makes
// exactly 2). The reactor already knows how to skip the speculative attempt: an operation
// that reports `done_and_exhausted` clears the descriptor's try_speculative_ flag until the
// next epoll event for it, and the next read is queued without a syscall. Asio 1.81 reports
// it only for a zero-byte read (end of stream).
//
// A read into a DrainAwareBuffer also reports it when the kernel says nothing is left to
// read: on a TCP socket with TCP_INQ enabled (enable_drain_aware_reads()), recvmsg() returns
// the bytes still queued, and that count is non-zero while a received FIN is unread too
// (tcp_inq_hint()). A short read alone would not do: data and FIN arriving together raise one
// epoll event, and the end of stream behind a short read would then never be reported.
// Anything that arrives after the call raises a new edge-triggered event, which turns
// speculation back on and performs the queued read, so no byte and no end of stream is
// missed. Without the TCP_INQ answer (not TCP, option not set) the read is a plain one.
//
// This is an explicit specialisation of Asio's internal receive operation for our buffer type
// (Debian 12's Boost 1.81, epoll). With any other Boost version or reactor it is not compiled,
// and a DrainAwareBuffer is read exactly like the buffer it wraps (kDrainAwareReads says
// which). Use it wherever a stream socket is read through async_read_some, directly or through
// beast::tcp_stream.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/detail/config.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_prefix.hpp>
#include <boost/version.hpp>

#if BOOST_VERSION == 108100 && defined(BOOST_ASIO_HAS_EPOLL) && \
    !defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT) && !defined(BOOST_ASIO_WINDOWS)
#define SG_DRAIN_AWARE_READS 1
#include <boost/asio/socket_base.hpp>  // before the detail header, which needs it
// clang-format off
#include <boost/asio/detail/reactive_socket_recv_op.hpp>
// clang-format on
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/detail/socket_ops.hpp>
#include <cerrno>
#include <cstring>
#else
#define SG_DRAIN_AWARE_READS 0
#endif

namespace sg::http {

// One mutable buffer, as a buffer sequence of one element.
class DrainAwareBuffer {
 public:
  using value_type = boost::asio::mutable_buffer;
  using const_iterator = const boost::asio::mutable_buffer*;

  explicit DrainAwareBuffer(boost::asio::mutable_buffer b) : buffer_(b) {}
  const_iterator begin() const { return &buffer_; }
  const_iterator end() const { return &buffer_ + 1; }

 private:
  boost::asio::mutable_buffer buffer_;
};

// Whether reads into a DrainAwareBuffer can skip the next speculative recvmsg here.
inline constexpr bool kDrainAwareReads = SG_DRAIN_AWARE_READS != 0;

// Asks the kernel to report, with each read, how many bytes are still queued (TCP_INQ).
// Returns false where it cannot (reads then stay plain ones).
template <class Executor>
bool enable_drain_aware_reads(
    boost::asio::basic_stream_socket<boost::asio::ip::tcp, Executor>& socket) {
  if (!kDrainAwareReads) return false;
  const int on = 1;
  return ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_INQ, &on, sizeof on) == 0;
}

#if SG_DRAIN_AWARE_READS
namespace detail {

// Asio's reactive_socket_recv_op_base (same constructor, same members), whose perform step
// also reports a read that left nothing queued (TCP_INQ answer 0) as done_and_exhausted.
template <class Buffers>
class DrainAwareRecvOpBase : public boost::asio::detail::reactor_op {
 public:
  DrainAwareRecvOpBase(const boost::system::error_code& success_ec,
                       boost::asio::detail::socket_type socket,
                       boost::asio::detail::socket_ops::state_type state, const Buffers& buffers,
                       boost::asio::socket_base::message_flags flags, func_type complete_func)
      : reactor_op(success_ec, &DrainAwareRecvOpBase::do_perform, complete_func),
        socket_(socket),
        state_(state),
        buffers_(buffers),
        flags_(flags) {}

  static status do_perform(reactor_op* base) {
    auto* o = static_cast<DrainAwareRecvOpBase*>(base);
    // The first buffer is the whole buffer: one DrainAwareBuffer, or a prefix view of it.
    const boost::asio::mutable_buffer b = *boost::asio::buffer_sequence_begin(o->buffers_);
    iovec iov{b.data(), b.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    for (;;) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      const ssize_t n = ::recvmsg(o->socket_, &msg, o->flags_);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return not_done;  // wait for epoll
        o->ec_ = boost::system::error_code(errno, boost::asio::error::get_system_category());
        o->bytes_transferred_ = 0;
        return done;
      }
      const bool stream = (o->state_ & boost::asio::detail::socket_ops::stream_oriented) != 0;
      if (stream && n == 0) {  // as Asio: the end of the stream, and nothing more to read
        o->ec_ = boost::asio::error::eof;
        return done_and_exhausted;
      }
      o->bytes_transferred_ = static_cast<std::size_t>(n);
      return stream && nothing_queued(msg) ? done_and_exhausted : done;
    }
  }

 private:
  // True when the read's TCP_INQ answer says no byte and no end of stream is left to read.
  static bool nothing_queued(msghdr& msg) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_TCP && c->cmsg_type == TCP_CM_INQ &&
          c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        int queued = 0;
        std::memcpy(&queued, CMSG_DATA(c), sizeof queued);
        return queued == 0;
      }
    }
    return false;  // no answer: the option is off or this is not TCP
  }

  boost::asio::detail::socket_type socket_;
  boost::asio::detail::socket_ops::state_type state_;
  Buffers buffers_;
  boost::asio::socket_base::message_flags flags_;
};

}  // namespace detail
#endif

}  // namespace sg::http

#if SG_DRAIN_AWARE_READS
namespace boost::asio::detail {

// socket.async_read_some(DrainAwareBuffer{...})
template <>
class reactive_socket_recv_op_base<sg::http::DrainAwareBuffer>
    : public sg::http::detail::DrainAwareRecvOpBase<sg::http::DrainAwareBuffer> {
 public:
  using DrainAwareRecvOpBase::DrainAwareRecvOpBase;
};

// beast::tcp_stream::async_read_some(DrainAwareBuffer{...}) reads a prefix view of it.
template <>
class reactive_socket_recv_op_base<boost::beast::buffers_prefix_view<sg::http::DrainAwareBuffer>>
    : public sg::http::detail::DrainAwareRecvOpBase<
          boost::beast::buffers_prefix_view<sg::http::DrainAwareBuffer>> {
 public:
  using DrainAwareRecvOpBase::DrainAwareRecvOpBase;
};

}  // namespace boost::asio::detail
#endif
