#include "gateway/core/stream_stats.hpp"

#include <gtest/gtest.h>

namespace sg::gateway {
namespace {

using Clock = StreamStats::Clock;
using std::chrono::seconds;

Clock::time_point at(std::int64_t s) { return Clock::time_point{} + seconds(s); }

StreamEvent segment(int status, double ttfb) {
  StreamEvent e;
  e.kind = HlsKind::kSegment;
  e.status = status;
  e.ttfb_seconds = ttfb;
  return e;
}

TEST(StreamStats, SegmentErrorRateAndTtfbQuantiles) {
  StreamStats s;
  for (int i = 0; i < 90; ++i) s.record(at(100), segment(200, 0.010));
  for (int i = 0; i < 10; ++i) s.record(at(100), segment(503, 0.400));
  StreamEvent playlist;
  playlist.kind = HlsKind::kPlaylist;
  playlist.status = 500;
  s.record(at(100), playlist);
  const StreamSnapshot w = s.snapshot(at(100), seconds(10));
  EXPECT_EQ(w.playlist_requests, 1u);
  EXPECT_EQ(w.segment_requests, 100u);
  EXPECT_EQ(w.segment_5xx, 10u) << "a playlist 5xx is not a segment error";
  EXPECT_DOUBLE_EQ(w.segment_error_rate(), 0.1);
  EXPECT_NEAR(w.segment_ttfb_quantile(0.5), 0.010, 0.003);
  EXPECT_NEAR(w.segment_ttfb_quantile(0.95), 0.400, 0.1);
}

TEST(StreamStats, SessionsRebufferingAndThroughput) {
  StreamStats s;
  StreamEvent e;
  e.kind = HlsKind::kSegment;
  e.status = 200;
  e.session_started = true;
  e.startup_seconds = 0.8;
  e.session_minute = true;
  e.throughput_kbps = 4000;
  s.record(at(10), e);
  StreamEvent starved;
  starved.kind = HlsKind::kSegment;
  starved.status = 200;
  starved.starved = true;
  starved.throughput_kbps = 2000;
  s.record(at(11), starved);
  s.record(at(12), starved);
  const StreamSnapshot w = s.snapshot(at(12), seconds(60));
  EXPECT_EQ(w.sessions_started, 1u);
  EXPECT_EQ(w.startup_count, 1u);
  EXPECT_NEAR(w.startup_quantile(0.5), 0.8, 0.1);
  EXPECT_EQ(w.session_minutes, 1u);
  EXPECT_EQ(w.rebuffer_reports, 2u);
  EXPECT_DOUBLE_EQ(w.rebuffer_per_session_minute(), 2.0);
  EXPECT_NEAR(w.mean_throughput_kbps(), 8000.0 / 3, 1e-9);
}

TEST(StreamStats, WindowsSlideLikeWindowStats) {
  StreamStats s;
  s.record(at(100), segment(200, 0.01));
  s.record(at(105), segment(500, 0.01));
  EXPECT_EQ(s.snapshot(at(110), seconds(10)).segment_requests, 2u);
  EXPECT_EQ(s.snapshot(at(110), seconds(5)).segment_requests, 1u);
  EXPECT_EQ(s.snapshot(at(410), seconds(300)).segment_requests, 0u);
  // Empty: every ratio and quantile is 0.
  const StreamSnapshot none;
  EXPECT_EQ(none.segment_error_rate(), 0);
  EXPECT_EQ(none.segment_ttfb_quantile(0.95), 0);
  EXPECT_EQ(none.rebuffer_per_session_minute(), 0);
  EXPECT_EQ(none.mean_throughput_kbps(), 0);
}

}  // namespace
}  // namespace sg::gateway
