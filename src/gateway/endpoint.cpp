#include "gateway/endpoint.hpp"

#include <algorithm>

namespace sg::gateway {
namespace {

std::int64_t to_ns(Endpoint::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

Endpoint::Endpoint(std::string address, boost::asio::ip::tcp::endpoint ep, unsigned workers)
    : address_(std::move(address)), ep_(ep), pools_(std::max(1u, workers)) {}

bool Endpoint::record_failure(Clock::time_point now, const OutlierConfig& outlier) {
  const int failures = consecutive_failures_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (failures < outlier.consecutive_failures) return false;
  return eject_now(now, outlier);
}

bool Endpoint::eject_now(Clock::time_point now, const OutlierConfig& outlier) {
  if (ejected(now)) return false;
  // Each ejection in a row doubles the time out, as a flapping replica deserves.
  const int streak = std::min(ejection_streak_.fetch_add(1), 20);
  const std::int64_t ms = std::min<std::int64_t>(
      static_cast<std::int64_t>(outlier.base_ejection_ms) << streak, outlier.max_ejection_ms);
  ejected_until_ns_.store(to_ns(now) + ms * 1'000'000);
  consecutive_failures_.store(0, std::memory_order_relaxed);
  ejections_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void Endpoint::record_success(Clock::time_point now) {
  // Load first: a store of the same 0 on every request would still take the cache line away
  // from every other worker.
  if (consecutive_failures_.load(std::memory_order_relaxed) != 0) {
    consecutive_failures_.store(0, std::memory_order_relaxed);
  }
  // Five quiet minutes after the last ejection ended forgive the backoff; a replica that
  // flaps sooner keeps doubling its time out.
  const std::int64_t until = ejected_until_ns_.load(std::memory_order_relaxed);
  if (until != 0 && to_ns(now) > until + 300'000'000'000LL) ejection_streak_.store(0);
}

bool Endpoint::ejected(Clock::time_point now) const {
  return to_ns(now) < ejected_until_ns_.load(std::memory_order_relaxed);
}

}  // namespace sg::gateway
