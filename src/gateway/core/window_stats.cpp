#include "gateway/core/window_stats.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

namespace sg::gateway {
namespace {

constexpr double kFirstBound = 0.0005;  // 0.5 ms
constexpr double kLastBound = 60.0;     // 60 s

std::array<double, kLatencyBoundCount> make_bounds() {
  std::array<double, kLatencyBoundCount> bounds{};
  const double ratio = std::log(kLastBound / kFirstBound) / (kLatencyBoundCount - 1);
  for (std::size_t i = 0; i < kLatencyBoundCount; ++i) {
    bounds[i] = kFirstBound * std::exp(ratio * static_cast<double>(i));
  }
  // Pin the ends exactly so "60 s" is 60 s despite rounding in exp().
  bounds.front() = kFirstBound;
  bounds.back() = kLastBound;
  return bounds;
}

// Whole seconds since the clock's epoch, rounded down so negative offsets stay ordered.
std::int64_t second_of(WindowStats::Clock::time_point t) {
  return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

// The ring slot of a second; the ring holds kMaxWindow + 1 consecutive seconds.
std::size_t slot_of(std::int64_t second) {
  constexpr std::int64_t kSlots = WindowStats::kMaxWindow + 1;
  return static_cast<std::size_t>(((second % kSlots) + kSlots) % kSlots);
}

void add_into(WindowSnapshot& to, const WindowSnapshot& from) {
  to.requests += from.requests;
  to.status_2xx += from.status_2xx;
  to.status_3xx += from.status_3xx;
  to.status_4xx += from.status_4xx;
  to.status_5xx += from.status_5xx;
  to.gateway_errors += from.gateway_errors;
  to.latency_sum_seconds += from.latency_sum_seconds;
  for (std::size_t i = 0; i < kLatencyBucketCount; ++i) {
    to.latency_buckets[i] += from.latency_buckets[i];
    to.upstream_buckets[i] += from.upstream_buckets[i];
  }
  to.upstream_responses += from.upstream_responses;
  to.upstream_sum_seconds += from.upstream_sum_seconds;
  to.failed_attempts += from.failed_attempts;
}

}  // namespace

std::span<const double> latency_bounds() {
  static const std::array<double, kLatencyBoundCount> bounds = make_bounds();
  return bounds;
}

std::size_t latency_bucket(double latency_seconds) {
  if (!(latency_seconds > 0)) return 0;  // also catches NaN
  const auto bounds = latency_bounds();
  return static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), latency_seconds) -
                                  bounds.begin());
}

double WindowSnapshot::error_rate() const {
  if (requests == 0) return 0;
  return static_cast<double>(status_5xx) / static_cast<double>(requests);
}

double WindowSnapshot::mean_latency() const {
  if (requests == 0) return 0;
  return latency_sum_seconds / static_cast<double>(requests);
}

double WindowSnapshot::quantile(double q) const { return latency_quantile(latency_buckets, q); }

double WindowSnapshot::upstream_quantile(double q) const {
  return latency_quantile(upstream_buckets, q);
}

double latency_quantile(const std::array<std::uint64_t, kLatencyBucketCount>& buckets, double q) {
  const auto& latency_buckets = buckets;
  std::uint64_t total = 0;
  for (auto c : latency_buckets) total += c;
  if (total == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const auto bounds = latency_bounds();
  const double rank = q * static_cast<double>(total);
  std::uint64_t below = 0;
  for (std::size_t i = 0; i < kLatencyBucketCount; ++i) {
    const std::uint64_t count = latency_buckets[i];
    if (count == 0) continue;
    if (static_cast<double>(below + count) >= rank) {
      if (i == kLatencyBoundCount) return bounds.back();  // overflow: no upper edge
      const double lower = i == 0 ? 0.0 : bounds[i - 1];
      const double fraction = (rank - static_cast<double>(below)) / static_cast<double>(count);
      return lower + (bounds[i] - lower) * std::clamp(fraction, 0.0, 1.0);
    }
    below += count;
  }
  return bounds.back();
}

WindowStats::WindowStats() = default;

WindowStats::~WindowStats() {
  for (auto& s : shards_) delete s.load(std::memory_order_acquire);
}

WindowStats::Shard& WindowStats::this_shard() {
  auto& slot = shards_[this_thread_shard()];
  Shard* s = slot.load(std::memory_order_acquire);
  if (s) return *s;
  auto fresh = std::make_unique<Shard>();
  // Another thread of the same shard may have installed one first: use that one.
  if (slot.compare_exchange_strong(s, fresh.get(), std::memory_order_acq_rel))
    return *fresh.release();
  return *s;
}

WindowSnapshot* WindowStats::counts_for(Shard& shard, Clock::time_point now) {
  const std::int64_t second = second_of(now);
  Bucket& b = shard.ring[slot_of(second)];
  // A slot holding a later second means this record is older than the ring: drop it.
  if (b.second > second) return nullptr;
  if (b.second < second) {
    b.second = second;
    b.counts = WindowSnapshot{};
  }
  return &b.counts;
}

void WindowStats::record_failed_attempt(Clock::time_point now) {
  Shard& shard = this_shard();
  std::lock_guard lock(shard.mu);
  if (WindowSnapshot* c = counts_for(shard, now)) ++c->failed_attempts;
}

void WindowStats::record(Clock::time_point now, int status, double latency_seconds,
                         bool gateway_generated, std::optional<double> upstream_seconds) {
  const std::size_t bucket = latency_bucket(latency_seconds);
  const double latency = latency_seconds > 0 ? latency_seconds : 0.0;
  Shard& shard = this_shard();
  std::lock_guard lock(shard.mu);
  WindowSnapshot* counts = counts_for(shard, now);
  if (!counts) return;
  WindowSnapshot& c = *counts;
  if (upstream_seconds) {
    ++c.upstream_responses;
    c.upstream_sum_seconds += *upstream_seconds > 0 ? *upstream_seconds : 0.0;
    ++c.upstream_buckets[latency_bucket(*upstream_seconds)];
  }
  ++c.requests;
  if (status >= 200 && status < 300) ++c.status_2xx;
  if (status >= 300 && status < 400) ++c.status_3xx;
  if (status >= 400 && status < 500) ++c.status_4xx;
  if (status >= 500 && status < 600) ++c.status_5xx;
  if (gateway_generated) ++c.gateway_errors;
  c.latency_sum_seconds += latency;
  ++c.latency_buckets[bucket];
}

WindowSnapshot WindowStats::snapshot(Clock::time_point now, std::chrono::seconds window) const {
  const std::int64_t last = second_of(now);
  const std::int64_t span = std::clamp<std::int64_t>(window.count(), 0, kMaxWindow);
  WindowSnapshot sum;
  for (const auto& slot_ptr : shards_) {
    Shard* shard = slot_ptr.load(std::memory_order_acquire);
    if (!shard) continue;
    std::lock_guard lock(shard->mu);
    for (std::int64_t s = last - span; s <= last; ++s) {
      const Bucket& b = shard->ring[slot_of(s)];
      if (b.second == s) add_into(sum, b.counts);
    }
  }
  return sum;
}

}  // namespace sg::gateway
