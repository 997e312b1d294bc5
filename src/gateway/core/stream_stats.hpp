// StreamStats: per-track streaming signals over the same sliding windows as WindowStats
// (the current second plus the 300 complete seconds before it; 10 s, 1 min, 5 min windows
// in the admin API): HLS playlist and segment requests, segment 5xx, segment time to first
// byte, sessions started and their startup time, session-minutes, buffer-starvation reports
// (CMCD bs) and measured throughput (CMCD mtp).
//
// Only HLS requests record here (src/gateway/stream_recorder.hpp decides what each one
// means), so a gateway that serves no HLS never allocates a ring. Thread-safety and layout
// as WindowStats: one ring per thread shard, created on its first record; record() locks its
// shard's mutex for one bucket, snapshot() each shard's in turn. Time is passed in.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <vector>

#include "common/thread_shard.hpp"
#include "gateway/core/hls_request.hpp"
#include "gateway/core/window_stats.hpp"

namespace sg::gateway {

// What one answered HLS request contributes.
struct StreamEvent {
  HlsKind kind = HlsKind::kNone;
  int status = 0;
  // Segment (and init) requests: request head received to the response head received from
  // the upstream; none for the gateway's own answers.
  std::optional<double> ttfb_seconds;
  // The request's session started (its first segment was delivered).
  bool session_started = false;
  // ...and its startup time: first playlist request to that segment's last byte sent.
  std::optional<double> startup_seconds;
  // The first request of its session in a new minute of the session (session-minutes).
  bool session_minute = false;
  // CMCD bs (buffer starved since the previous request).
  bool starved = false;
  // CMCD mtp, kbps.
  std::optional<std::int64_t> throughput_kbps;
};

// The sum of the seconds of one window.
struct StreamSnapshot {
  std::uint64_t playlist_requests = 0;
  std::uint64_t segment_requests = 0;  // segments and init sections
  std::uint64_t segment_5xx = 0;       // including the gateway's own 502/503/504
  std::uint64_t segment_ttfb_count = 0;
  double segment_ttfb_sum_seconds = 0;
  std::array<std::uint64_t, kLatencyBucketCount> segment_ttfb_buckets{};  // latency_bounds()
  std::uint64_t sessions_started = 0;
  std::uint64_t startup_count = 0;  // sessions started whose first playlist was seen
  double startup_sum_seconds = 0;
  std::array<std::uint64_t, kLatencyBucketCount> startup_buckets{};
  std::uint64_t session_minutes = 0;
  std::uint64_t rebuffer_reports = 0;  // requests carrying CMCD bs
  std::uint64_t throughput_reports = 0;
  double throughput_sum_kbps = 0;

  // segment_5xx / segment_requests; 0 without segments.
  double segment_error_rate() const;
  // Quantiles in seconds (latency_quantile); 0 when empty.
  double segment_ttfb_quantile(double q) const;
  double startup_quantile(double q) const;
  // rebuffer_reports / session_minutes; 0 without session-minutes.
  double rebuffer_per_session_minute() const;
  // Mean CMCD mtp in kbps; 0 without reports.
  double mean_throughput_kbps() const;
};

class StreamStats {
 public:
  using Clock = WindowStats::Clock;
  static constexpr std::int64_t kMaxWindow = WindowStats::kMaxWindow;

  StreamStats();
  ~StreamStats();
  StreamStats(const StreamStats&) = delete;
  StreamStats& operator=(const StreamStats&) = delete;

  // Counts `event` at `now` (an event older than the ring is dropped).
  void record(Clock::time_point now, const StreamEvent& event);
  // The sum over the current second and the `window` complete seconds before it (clamped to
  // [0, kMaxWindow]), as WindowStats::snapshot.
  StreamSnapshot snapshot(Clock::time_point now, std::chrono::seconds window) const;

 private:
  struct Bucket {
    std::int64_t second = std::numeric_limits<std::int64_t>::min();
    StreamSnapshot counts;
  };
  static constexpr std::size_t kRingSize = static_cast<std::size_t>(kMaxWindow) + 1;
  struct Shard {
    std::mutex mu;
    std::vector<Bucket> ring = std::vector<Bucket>(kRingSize);
  };
  Shard& this_shard();

  std::array<std::atomic<Shard*>, kThreadShards> shards_{};  // owned; null until first used
};

}  // namespace sg::gateway
