#include "common/http/lazy_deadline.hpp"

#include <algorithm>

namespace sg::http {

LazyDeadline::LazyDeadline(const boost::asio::any_io_executor& executor,
                           boost::asio::ip::tcp::socket& socket, Clock::duration period)
    : state_(std::make_shared<State>(executor, socket, std::max(period, Clock::duration(1)))) {}

LazyDeadline::~LazyDeadline() {
  state_->socket = nullptr;
  state_->timer.cancel();
}

void LazyDeadline::expires_after(Clock::duration timeout) {
  const auto now = Clock::now();
  state_->deadline = now + timeout;
  state_->timed_out = false;
  // A pending wait that ends after the new deadline would time out late: set it again.
  if (!state_->armed || state_->wait_ends > state_->deadline) arm(state_, now);
}

void LazyDeadline::disarm() { state_->deadline = Clock::time_point::max(); }

void LazyDeadline::arm(const std::shared_ptr<State>& state, Clock::time_point now) {
  state->armed = true;
  state->wait_ends = std::min(state->deadline, now + state->period);
  const std::uint64_t id = ++state->wait_id;
  state->timer.expires_at(state->wait_ends);  // cancels a pending wait, whose handler is stale
  state->timer.async_wait([state, id](const boost::system::error_code& ec) {
    if (id != state->wait_id) return;  // replaced by a newer wait
    state->armed = false;
    if (ec || state->socket == nullptr) return;
    if (state->deadline == Clock::time_point::max()) return;  // disarmed: wait for the next use
    const auto now = Clock::now();
    if (now < state->deadline) {
      arm(state, now);  // the deadline moved on since the wait was set
      return;
    }
    state->timed_out = true;
    boost::system::error_code ignored;
    state->socket->close(ignored);
  });
}

}  // namespace sg::http
