#include "gateway/core/stream_stats.hpp"

#include <algorithm>
#include <memory>

namespace sg::gateway {
namespace {

std::int64_t second_of(StreamStats::Clock::time_point t) {
  return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::size_t slot_of(std::int64_t second) {
  constexpr std::int64_t kSlots = StreamStats::kMaxWindow + 1;
  return static_cast<std::size_t>(((second % kSlots) + kSlots) % kSlots);
}

void add_into(StreamSnapshot& to, const StreamSnapshot& from) {
  to.playlist_requests += from.playlist_requests;
  to.segment_requests += from.segment_requests;
  to.segment_5xx += from.segment_5xx;
  to.segment_ttfb_count += from.segment_ttfb_count;
  to.segment_ttfb_sum_seconds += from.segment_ttfb_sum_seconds;
  to.sessions_started += from.sessions_started;
  to.startup_count += from.startup_count;
  to.startup_sum_seconds += from.startup_sum_seconds;
  for (std::size_t i = 0; i < kLatencyBucketCount; ++i) {
    to.segment_ttfb_buckets[i] += from.segment_ttfb_buckets[i];
    to.startup_buckets[i] += from.startup_buckets[i];
  }
  to.session_minutes += from.session_minutes;
  to.rebuffer_reports += from.rebuffer_reports;
  to.throughput_reports += from.throughput_reports;
  to.throughput_sum_kbps += from.throughput_sum_kbps;
}

void count_into(StreamSnapshot& c, const StreamEvent& e) {
  if (e.kind == HlsKind::kPlaylist) ++c.playlist_requests;
  if (e.kind == HlsKind::kSegment || e.kind == HlsKind::kInit) {
    ++c.segment_requests;
    if (e.status >= 500 && e.status < 600) ++c.segment_5xx;
    if (e.ttfb_seconds) {
      const double t = *e.ttfb_seconds > 0 ? *e.ttfb_seconds : 0.0;
      ++c.segment_ttfb_count;
      c.segment_ttfb_sum_seconds += t;
      ++c.segment_ttfb_buckets[latency_bucket(t)];
    }
  }
  if (e.session_started) ++c.sessions_started;
  if (e.startup_seconds) {
    const double t = *e.startup_seconds > 0 ? *e.startup_seconds : 0.0;
    ++c.startup_count;
    c.startup_sum_seconds += t;
    ++c.startup_buckets[latency_bucket(t)];
  }
  if (e.session_minute) ++c.session_minutes;
  if (e.starved) ++c.rebuffer_reports;
  if (e.throughput_kbps) {
    ++c.throughput_reports;
    c.throughput_sum_kbps += static_cast<double>(*e.throughput_kbps);
  }
}

}  // namespace

double StreamSnapshot::segment_error_rate() const {
  if (segment_requests == 0) return 0;
  return static_cast<double>(segment_5xx) / static_cast<double>(segment_requests);
}

double StreamSnapshot::segment_ttfb_quantile(double q) const {
  return latency_quantile(segment_ttfb_buckets, q);
}

double StreamSnapshot::startup_quantile(double q) const {
  return latency_quantile(startup_buckets, q);
}

double StreamSnapshot::rebuffer_per_session_minute() const {
  if (session_minutes == 0) return 0;
  return static_cast<double>(rebuffer_reports) / static_cast<double>(session_minutes);
}

double StreamSnapshot::mean_throughput_kbps() const {
  if (throughput_reports == 0) return 0;
  return throughput_sum_kbps / static_cast<double>(throughput_reports);
}

StreamStats::StreamStats() = default;

StreamStats::~StreamStats() {
  for (auto& s : shards_) delete s.load(std::memory_order_acquire);
}

StreamStats::Shard& StreamStats::this_shard() {
  auto& slot = shards_[this_thread_shard()];
  Shard* s = slot.load(std::memory_order_acquire);
  if (s) return *s;
  auto fresh = std::make_unique<Shard>();
  if (slot.compare_exchange_strong(s, fresh.get(), std::memory_order_acq_rel))
    return *fresh.release();
  return *s;
}

void StreamStats::record(Clock::time_point now, const StreamEvent& event) {
  const std::int64_t second = second_of(now);
  Shard& shard = this_shard();
  std::lock_guard lock(shard.mu);
  Bucket& b = shard.ring[slot_of(second)];
  if (b.second > second) return;  // older than the ring
  if (b.second < second) {
    b.second = second;
    b.counts = StreamSnapshot{};
  }
  count_into(b.counts, event);
}

StreamSnapshot StreamStats::snapshot(Clock::time_point now, std::chrono::seconds window) const {
  const std::int64_t last = second_of(now);
  const std::int64_t span = std::clamp<std::int64_t>(window.count(), 0, kMaxWindow);
  StreamSnapshot sum;
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
