// A read timeout that costs a clock read per use instead of a timer operation.
//
// beast::tcp_stream arms and cancels a timer around every read: an operation object, a
// timer-queue insert and removal, and one more handler run per read. LazyDeadline keeps one
// timer per socket that is armed only when none is pending; moving the deadline later is a
// store. When the timer fires before the current deadline it re-arms for it; when the
// deadline has passed it closes the socket, so the pending read fails and timed_out() tells
// why (as beast::tcp_stream does on its timeouts).
//
// Use: expires_after() before a read (with the stream's own expiry at never), disarm() when
// the socket is not being read under this deadline. Lives on the socket's executor thread;
// the socket must outlive it.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>

namespace sg::http {

class LazyDeadline {
 public:
  using Clock = std::chrono::steady_clock;

  LazyDeadline(const boost::asio::any_io_executor& executor, boost::asio::ip::tcp::socket& socket);
  ~LazyDeadline();
  LazyDeadline(const LazyDeadline&) = delete;
  LazyDeadline& operator=(const LazyDeadline&) = delete;

  // The socket is closed if still read under this deadline `timeout` from now.
  void expires_after(Clock::duration timeout);
  // No deadline until the next expires_after().
  void disarm();
  // True once the deadline closed the socket.
  bool timed_out() const { return state_->timed_out; }

 private:
  struct State {
    State(const boost::asio::any_io_executor& executor, boost::asio::ip::tcp::socket& s)
        : timer(executor), socket(&s) {}
    boost::asio::steady_timer timer;
    boost::asio::ip::tcp::socket* socket;  // null once the owner is gone
    Clock::time_point deadline = Clock::time_point::max();
    bool armed = false;
    bool timed_out = false;
  };
  static void arm(const std::shared_ptr<State>& state);

  // Shared with the pending timer handler, which may run after the owner is destroyed.
  std::shared_ptr<State> state_;
};

}  // namespace sg::http
