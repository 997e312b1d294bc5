// A read timeout that costs a clock read per use instead of a timer operation.
//
// beast::tcp_stream arms and cancels a timer around every read: an operation object, a
// timer-queue insert and removal, and one more handler run per read. LazyDeadline keeps one
// timer per socket whose pending wait ends at most `period` from when it was set and never
// after the current deadline; moving the deadline is a store. When the wait ends before the
// deadline it is set again; when the deadline has passed the socket is closed, so the pending
// read fails and timed_out() tells why (as beast::tcp_stream does on its timeouts).
//
// With `period` no longer than the shortest timeout the socket uses, a deadline set by
// expires_after() is never before the pending wait ends, so moving it costs nothing and it
// is honoured exactly; a shorter timeout re-sets the wait (correct, just not free). An idle
// socket costs one timer wake-up per period.
//
// Use: expires_after() before a read (with the stream's own expiry at never), disarm() when
// the socket is not being read under this deadline. Lives on the socket's executor thread;
// the socket must outlive it.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

namespace sg::http {

class LazyDeadline {
 public:
  using Clock = std::chrono::steady_clock;

  LazyDeadline(const boost::asio::any_io_executor& executor, boost::asio::ip::tcp::socket& socket,
               Clock::duration period);
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
    State(const boost::asio::any_io_executor& executor, boost::asio::ip::tcp::socket& s,
          Clock::duration p)
        : timer(executor), socket(&s), period(p) {}
    boost::asio::steady_timer timer;
    boost::asio::ip::tcp::socket* socket;  // null once the owner is gone
    Clock::duration period;
    Clock::time_point deadline = Clock::time_point::max();
    Clock::time_point wait_ends = Clock::time_point::max();  // of the pending wait
    std::uint64_t wait_id = 0;  // the pending wait; older handlers are stale
    bool armed = false;
    bool timed_out = false;
  };
  static void arm(const std::shared_ptr<State>& state, Clock::time_point now);

  // Shared with the pending timer handler, which may run after the owner is destroyed.
  std::shared_ptr<State> state_;
};

}  // namespace sg::http
