#include "server/media/stream_sessions.hpp"

#include <algorithm>

namespace sg::server::media {

MemorySessions::MemorySessions(SessionLimits limits, Clock clock)
    : limits_(limits), clock_(clock ? std::move(clock) : [] { return std::chrono::steady_clock::now(); }) {}

void MemorySessions::expire(std::chrono::steady_clock::time_point now) {
  while (!order_.empty() && now - order_.front().last_seen >= limits_.window) {
    index_.erase(order_.front().session);
    order_.pop_front();
  }
}

Admission MemorySessions::refused(std::chrono::steady_clock::time_point now) const {
  Admission a;
  const auto left = order_.empty() ? std::chrono::steady_clock::duration::zero()
                                   : order_.front().last_seen + limits_.window - now;
  a.retry_after = std::max<std::chrono::seconds>(
      std::chrono::seconds(1), std::chrono::ceil<std::chrono::seconds>(left));
  return a;
}

Admission MemorySessions::touch(std::string_view session) {
  const auto now = clock_();
  std::lock_guard lock(mu_);
  expire(now);
  const std::string key(session);
  if (auto it = index_.find(key); it != index_.end()) {
    it->second->last_seen = now;
    order_.splice(order_.end(), order_, it->second);
    return Admission{true, false, {}};
  }
  if (order_.size() >= limits_.max_sessions) return refused(now);
  order_.push_back(Entry{key, now});
  index_.emplace(key, std::prev(order_.end()));
  return Admission{true, true, {}};
}

Admission MemorySessions::would_admit() {
  const auto now = clock_();
  std::lock_guard lock(mu_);
  expire(now);
  if (order_.size() >= limits_.max_sessions) return refused(now);
  return Admission{true, true, {}};
}

std::size_t MemorySessions::active() {
  const auto now = clock_();
  std::lock_guard lock(mu_);
  expire(now);
  return order_.size();
}

}  // namespace sg::server::media
