#include "gateway/core/window_stats.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

namespace sg::gateway {
namespace {

using std::chrono::seconds;
using Clock = WindowStats::Clock;

// Simulated time: second `s` plus `ms` milliseconds after the clock's epoch.
Clock::time_point at(std::int64_t s, int ms = 0) {
  return Clock::time_point{} + seconds(s) + std::chrono::milliseconds(ms);
}

// The width of the histogram bucket holding `v` seconds.
double bucket_width(double v) {
  const auto bounds = latency_bounds();
  const std::size_t i = latency_bucket(v);
  if (i >= bounds.size()) return 0;
  return bounds[i] - (i == 0 ? 0.0 : bounds[i - 1]);
}

TEST(LatencyBounds, AreLogSpacedFromHalfAMillisecondToSixtySeconds) {
  const auto bounds = latency_bounds();
  ASSERT_EQ(bounds.size(), 48u);
  EXPECT_DOUBLE_EQ(bounds.front(), 0.0005);
  EXPECT_DOUBLE_EQ(bounds.back(), 60.0);
  for (std::size_t i = 1; i < bounds.size(); ++i) {
    EXPECT_NEAR(bounds[i] / bounds[i - 1], 1.2825, 0.001) << "bound " << i;
  }
  EXPECT_EQ(latency_bucket(0.0), 0u);
  EXPECT_EQ(latency_bucket(-1.0), 0u);
  EXPECT_EQ(latency_bucket(0.0005), 0u) << "a bound belongs to the bucket it closes";
  EXPECT_EQ(latency_bucket(0.00051), 1u);
  EXPECT_EQ(latency_bucket(60.0), 47u);
  EXPECT_EQ(latency_bucket(61.0), 48u);
}

TEST(WindowStats, QuantilesOfAUniformDistributionAreWithinOneBucket) {
  WindowStats stats;
  // 1000 latencies evenly from 1 ms to 1000 ms.
  for (int i = 1; i <= 1000; ++i) stats.record(at(100), 200, i / 1000.0, false);
  const WindowSnapshot snap = stats.snapshot(at(100), seconds(10));
  ASSERT_EQ(snap.requests, 1000u);
  for (double q : {0.5, 0.95, 0.99}) {
    const double want = q;  // the q-quantile of U(0.001, 1) is about q seconds
    const double got = snap.quantile(q);
    EXPECT_NEAR(got, want, bucket_width(want)) << "p" << q * 100 << " got " << got;
  }
  EXPECT_NEAR(snap.mean_latency(), 0.5005, 1e-9);
}

TEST(WindowStats, QuantilesOfATwoPointDistributionLandInTheRightBuckets) {
  WindowStats stats;
  for (int i = 0; i < 900; ++i) stats.record(at(5), 200, 0.010, false);
  for (int i = 0; i < 100; ++i) stats.record(at(5), 200, 2.0, false);
  const WindowSnapshot snap = stats.snapshot(at(5), seconds(60));
  EXPECT_NEAR(snap.quantile(0.5), 0.010, bucket_width(0.010)) << snap.quantile(0.5);
  EXPECT_NEAR(snap.quantile(0.89), 0.010, bucket_width(0.010)) << snap.quantile(0.89);
  EXPECT_NEAR(snap.quantile(0.95), 2.0, bucket_width(2.0)) << snap.quantile(0.95);
  EXPECT_NEAR(snap.quantile(0.99), 2.0, bucket_width(2.0)) << snap.quantile(0.99);
  EXPECT_LE(snap.quantile(1.0), latency_bounds()[latency_bucket(2.0)]);
}

TEST(WindowStats, LatencyBeyondSixtySecondsReportsSixtySeconds) {
  WindowStats stats;
  stats.record(at(1), 504, 120.0, true);
  EXPECT_DOUBLE_EQ(stats.snapshot(at(1), seconds(10)).quantile(0.99), 60.0);
}

TEST(WindowStats, EmptyWindowReportsZeros) {
  WindowStats stats;
  const WindowSnapshot snap = stats.snapshot(at(50), seconds(300));
  EXPECT_EQ(snap.requests, 0u);
  EXPECT_EQ(snap.error_rate(), 0.0);
  EXPECT_EQ(snap.quantile(0.99), 0.0);
  EXPECT_EQ(snap.mean_latency(), 0.0);
}

TEST(WindowStats, CountsStatusClassesAndGatewayErrors) {
  WindowStats stats;
  const int statuses[] = {200, 204, 301, 404, 429, 500, 503, 101, 700};
  for (int status : statuses) stats.record(at(10), status, 0.001, false);
  stats.record(at(10), 502, 0.001, true);
  stats.record(at(10), 504, 30.0, true);
  const WindowSnapshot snap = stats.snapshot(at(10), seconds(10));
  EXPECT_EQ(snap.requests, 11u);
  EXPECT_EQ(snap.status_2xx, 2u);
  EXPECT_EQ(snap.status_3xx, 1u);
  EXPECT_EQ(snap.status_4xx, 2u);
  EXPECT_EQ(snap.status_5xx, 4u) << "gateway-generated 502/504 count as 5xx";
  EXPECT_EQ(snap.gateway_errors, 2u);
  EXPECT_DOUBLE_EQ(snap.error_rate(), 4.0 / 11.0);
}

TEST(WindowStats, UpstreamTimeIsItsOwnHistogramAndFailedAttemptsAreCounted) {
  WindowStats w;
  // 95 fast answers, 5 the client read slowly: the total time grows, the upstream's not.
  for (int i = 0; i < 95; ++i) w.record(at(10), 200, 0.004, false, 0.003);
  for (int i = 0; i < 5; ++i) w.record(at(10), 200, 20.0, false, 0.003);
  w.record(at(10), 503, 0.001, true);  // the gateway's own answer: no upstream time
  w.record_failed_attempt(at(10));
  w.record_failed_attempt(at(10));
  const WindowSnapshot s = w.snapshot(at(10), seconds(10));
  EXPECT_EQ(s.requests, 101u);
  EXPECT_EQ(s.upstream_responses, 100u);
  EXPECT_EQ(s.failed_attempts, 2u);
  EXPECT_GT(s.quantile(0.99), 10.0);
  EXPECT_LT(s.upstream_quantile(0.99), 0.004);
  EXPECT_NEAR(s.upstream_sum_seconds, 0.3, 1e-9);
  EXPECT_EQ(w.snapshot(at(30), seconds(10)).failed_attempts, 0u) << "out of the window";
}

TEST(WindowStats, OldSecondsFallOutOfTheWindowExactly) {
  WindowStats stats;
  stats.record(at(100, 999), 500, 0.001, false);
  stats.record(at(105), 200, 0.001, false);
  // A 10 s window at second 110 covers seconds 100..110.
  EXPECT_EQ(stats.snapshot(at(110, 999), seconds(10)).requests, 2u);
  EXPECT_EQ(stats.snapshot(at(110), seconds(10)).status_5xx, 1u);
  // At second 111 second 100 is out; second 105 stays until 115.
  EXPECT_EQ(stats.snapshot(at(111), seconds(10)).requests, 1u);
  EXPECT_EQ(stats.snapshot(at(111), seconds(10)).status_5xx, 0u);
  EXPECT_EQ(stats.snapshot(at(115), seconds(10)).requests, 1u);
  EXPECT_EQ(stats.snapshot(at(116), seconds(10)).requests, 0u);
  // A window of 0 holds only the current second.
  EXPECT_EQ(stats.snapshot(at(105, 500), seconds(0)).requests, 1u);
  // Records after `now` are not in a snapshot taken at `now`.
  EXPECT_EQ(stats.snapshot(at(104), seconds(60)).requests, 1u);
}

TEST(WindowStats, FiveMinuteWindowKeepsThreeHundredSecondsAndTheCurrent) {
  WindowStats stats;
  for (int s = 0; s <= 400; ++s) stats.record(at(s), 200, 0.001, false);
  EXPECT_EQ(stats.snapshot(at(400), seconds(300)).requests, 301u);
  EXPECT_EQ(stats.snapshot(at(400), seconds(60)).requests, 61u);
  EXPECT_EQ(stats.snapshot(at(400), seconds(10000)).requests, 301u)
      << "windows longer than 300 s are clamped";
}

TEST(WindowStats, SkippingAheadMoreThanTheRingClearsEverything) {
  WindowStats stats;
  for (int s = 0; s < 50; ++s) stats.record(at(s), 500, 0.2, false);
  EXPECT_EQ(stats.snapshot(at(49), seconds(300)).requests, 50u);
  EXPECT_EQ(stats.snapshot(at(49 + 301), seconds(300)).requests, 0u);
  stats.record(at(1000), 200, 0.001, false);
  const WindowSnapshot snap = stats.snapshot(at(1000), seconds(300));
  EXPECT_EQ(snap.requests, 1u);
  EXPECT_EQ(snap.status_5xx, 0u) << "stale buckets must not leak into the window";
}

// Each thread records into its shard's ring; a snapshot sums them all.
TEST(WindowStats, RecordsFromManyThreadsAreAllInTheSnapshot) {
  WindowStats w;
  const auto now = WindowStats::Clock::time_point{} + std::chrono::hours(1);
  std::vector<std::thread> threads;
  const int n = static_cast<int>(sg::kThreadShards) + 3;
  for (int t = 0; t < n; ++t) {
    threads.emplace_back([&w, now, t] {
      for (int i = 0; i < 2000; ++i) w.record(now, t % 2 ? 200 : 503, 0.01, t % 2 == 0);
    });
  }
  for (auto& t : threads) t.join();
  const auto s = w.snapshot(now, std::chrono::seconds(10));
  const std::uint64_t failing = 2000u * static_cast<std::uint64_t>((n + 1) / 2);
  EXPECT_EQ(s.requests, 2000u * static_cast<std::uint64_t>(n));
  EXPECT_EQ(s.status_5xx, failing);
  EXPECT_EQ(s.gateway_errors, failing);
  EXPECT_EQ(s.status_2xx, s.requests - failing);
}

TEST(WindowStats, RecordOlderThanTheRingIsDropped) {
  WindowStats stats;
  stats.record(at(1000), 200, 0.001, false);
  stats.record(at(1000 - 301), 500, 0.001, false);  // same slot, older second
  EXPECT_EQ(stats.snapshot(at(1000), seconds(300)).requests, 1u);
  EXPECT_EQ(stats.snapshot(at(1000), seconds(300)).status_5xx, 0u);
}

TEST(WindowStats, ConcurrentRecordsAreAllCounted) {
  WindowStats stats;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&stats, t] {
      for (int i = 0; i < kPerThread; ++i) {
        stats.record(at(i / 1000), t == 0 ? 503 : 200, 0.002, t == 0);
        if (i % 1000 == 0) (void)stats.snapshot(at(i / 1000), seconds(60));
      }
    });
  }
  for (auto& th : threads) th.join();
  const WindowSnapshot snap = stats.snapshot(at(19), seconds(60));
  EXPECT_EQ(snap.requests, static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(snap.gateway_errors, static_cast<std::uint64_t>(kPerThread));
  EXPECT_DOUBLE_EQ(snap.error_rate(), 0.25);
}

}  // namespace
}  // namespace sg::gateway
