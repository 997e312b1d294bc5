#include "common/http/lazy_deadline.hpp"

namespace sg::http {

LazyDeadline::LazyDeadline(const boost::asio::any_io_executor& executor,
                           boost::asio::ip::tcp::socket& socket)
    : state_(std::make_shared<State>(executor, socket)) {}

LazyDeadline::~LazyDeadline() {
  state_->socket = nullptr;
  state_->timer.cancel();
}

void LazyDeadline::expires_after(Clock::duration timeout) {
  state_->deadline = Clock::now() + timeout;
  state_->timed_out = false;
  if (!state_->armed) arm(state_);
}

void LazyDeadline::disarm() { state_->deadline = Clock::time_point::max(); }

void LazyDeadline::arm(const std::shared_ptr<State>& state) {
  state->armed = true;
  state->timer.expires_at(state->deadline);
  state->timer.async_wait([state](const boost::system::error_code& ec) {
    state->armed = false;
    if (ec || state->socket == nullptr) return;
    if (state->deadline == Clock::time_point::max()) return;  // disarmed: wait for the next use
    if (Clock::now() < state->deadline) {
      arm(state);  // the deadline moved on since the timer was set
      return;
    }
    state->timed_out = true;
    boost::system::error_code ignored;
    state->socket->close(ignored);
  });
}

}  // namespace sg::http
