// The rollups behind `sgctl report`: RollupStore (SQLite in a temp dir: round trip,
// retention, the row cap) and RollupRecorder (counters differenced across periods, counter
// resets, baselines, autoscaler rescales).
#include <gtest/gtest.h>

#include <memory>

#include "platform/engine/rollup_recorder.hpp"
#include "platform/store/rollup_store.hpp"
#include "support/services.hpp"

namespace sg::platform {
namespace {

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kT0 = 1'800'000'000'000;  // a multiple of a minute

std::unique_ptr<RollupStore> open_rollups(const test::TempDir& dir, RollupLimits limits = {}) {
  auto s = RollupStore::open(dir.path(), limits);
  if (!s) {
    ADD_FAILURE() << s.error().message;
    return nullptr;
  }
  return std::move(*s);
}

TrackRollup track_row(std::int64_t start, std::uint64_t requests) {
  TrackRollup t;
  t.start_ms = start;
  t.track = "blue";
  t.release = "v1";
  t.requests = requests;
  t.errors = requests / 10;
  t.latency_bounds = {0.1, 0.5};
  t.latency_counts = {requests - 2, 1, 1};
  t.desired = 3;
  t.ready = 2;
  t.running = 3;
  t.autoscaled = true;
  t.autoscaler_desired = 3;
  t.scale_ups = 1;
  return t;
}

TEST(RollupStore, RowsRoundTripWithHistogramAndUnknownValues) {
  test::TempDir dir;
  auto store = open_rollups(dir);
  ASSERT_TRUE(store);
  ReplicaRollup r;
  r.start_ms = kT0;
  r.replica = "blue-v1-1";
  r.track = "blue";
  r.release = "v1";
  r.cpu_seconds = 1.5;
  r.restarts = 2;
  r.ready = true;
  ASSERT_TRUE(store->add({track_row(kT0, 100)}, {r}, kT0 + kMinute));
  auto tracks = store->tracks(kT0, kT0 + kMinute);
  ASSERT_TRUE(tracks);
  ASSERT_EQ(tracks->size(), 1u);
  const TrackRollup& t = tracks->front();
  EXPECT_EQ(t.requests, 100u);
  EXPECT_EQ(t.errors, 10u);
  EXPECT_EQ(t.latency_bounds, (std::vector<double>{0.1, 0.5}));
  EXPECT_EQ(t.latency_counts, (std::vector<std::uint64_t>{98, 1, 1}));
  EXPECT_EQ(t.autoscaler_desired, 3);
  EXPECT_EQ(t.scale_ups, 1);
  auto replicas = store->replicas(kT0, kT0 + kMinute);
  ASSERT_TRUE(replicas);
  ASSERT_EQ(replicas->size(), 1u);
  EXPECT_EQ(replicas->front().cpu_seconds, 1.5);
  EXPECT_FALSE(replicas->front().memory_bytes.has_value()) << "unknown stays unknown";
  EXPECT_EQ(replicas->front().restarts, 2);
  EXPECT_TRUE(store->tracks(kT0 + kMinute, kT0 + 2 * kMinute)->empty()) << "[from, to)";
}

TEST(RollupStore, RowsOlderThanTheRetentionAreDeletedOnWrite) {
  test::TempDir dir;
  auto store = open_rollups(dir, {std::chrono::hours(24 * 35), 1000, 1000});
  ASSERT_TRUE(store);
  const std::int64_t day = 24 * 60 * kMinute;
  ASSERT_TRUE(store->add({track_row(kT0, 1)}, {}, kT0));
  ASSERT_TRUE(store->add({track_row(kT0 + 34 * day, 1)}, {}, kT0 + 34 * day));
  EXPECT_EQ(store->tracks(0, INT64_MAX)->size(), 2u);
  ASSERT_TRUE(store->add({track_row(kT0 + 36 * day, 1)}, {}, kT0 + 36 * day));
  auto left = store->tracks(0, INT64_MAX);
  ASSERT_EQ(left->size(), 2u) << "the 36-day-old row went";
  EXPECT_EQ(left->front().start_ms, kT0 + 34 * day);
}

TEST(RollupStore, EachTableKeepsAtMostItsCapOfNewestRows) {
  test::TempDir dir;
  auto store = open_rollups(dir, {std::chrono::hours(24 * 35), 5, 3});
  ASSERT_TRUE(store);
  for (int i = 0; i < 12; ++i) {
    ReplicaRollup r;
    r.start_ms = kT0 + i * kMinute;
    r.replica = "blue-v1-1";
    ASSERT_TRUE(store->add({track_row(kT0 + i * kMinute, 1)}, {r}, kT0 + i * kMinute));
  }
  auto tracks = store->tracks(0, INT64_MAX);
  ASSERT_EQ(tracks->size(), 5u);
  EXPECT_EQ(tracks->front().start_ms, kT0 + 7 * kMinute);
  EXPECT_EQ(store->replicas(0, INT64_MAX)->size(), 3u);
}

// A platform with one track; the replica's counters and the gateway's are set per step.
struct World {
  PlatformStatus status;
  TrackTraffic traffic;

  World() {
    TrackView blue;
    blue.release = "v1";
    blue.desired = 2;
    blue.ready = 2;
    ReplicaView r;
    r.name = "blue-v1-1";
    r.track = "blue";
    r.release = "v1";
    r.phase = "ready";
    r.cpu_seconds = 10;
    r.rss_mib = 30;
    blue.replicas = {r};
    status.tracks["blue"] = blue;
    control::TrafficSample s;
    s.bounds = {0.1};
    s.counts = {0, 0};
    traffic.tracks["blue"] = s;
  }
  ReplicaView& replica() { return status.tracks["blue"].replicas[0]; }
  void serve(std::uint64_t requests, std::uint64_t errors) {
    auto& s = traffic.tracks["blue"];
    s.requests += requests;
    s.errors += errors;
    s.counts[0] += requests;
  }
};

TEST(RollupRecorder, APeriodHoldsTheRequestsAndCpuOfItsObservationsOnly) {
  World w;
  RollupRecorder rec;
  w.serve(1000, 5);  // before the recorder started: not counted
  EXPECT_FALSE(rec.observe(kT0 + 1000, w.status, &w.traffic));
  w.serve(30, 1);
  w.replica().cpu_seconds = 13;
  w.replica().rss_mib = 50;
  EXPECT_FALSE(rec.observe(kT0 + 30'000, w.status, &w.traffic));
  w.serve(20, 0);
  w.replica().cpu_seconds = 14;
  w.replica().rss_mib = 40;
  auto batch = rec.observe(kT0 + kMinute + 500, w.status, &w.traffic);
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->tracks.size(), 1u);
  const TrackRollup& t = batch->tracks[0];
  EXPECT_EQ(t.start_ms, kT0);
  EXPECT_EQ(t.requests, 30u) << "the 20 seen at the next period's first observation are its";
  EXPECT_EQ(t.errors, 1u);
  EXPECT_EQ(t.latency_counts, (std::vector<std::uint64_t>{30, 0}));
  EXPECT_EQ(t.release, "v1");
  EXPECT_EQ(t.ready, 2);
  ASSERT_EQ(batch->replicas.size(), 1u);
  EXPECT_DOUBLE_EQ(*batch->replicas[0].cpu_seconds, 3.0);
  EXPECT_DOUBLE_EQ(*batch->replicas[0].memory_bytes, 50.0 * 1048576);
  auto next = rec.observe(kT0 + 2 * kMinute, w.status, &w.traffic);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->tracks[0].requests, 20u);
  EXPECT_DOUBLE_EQ(*next->replicas[0].cpu_seconds, 1.0);
}

TEST(RollupRecorder, RestartedCountersCountFromZeroAndRestartsAreCounted) {
  World w;
  RollupRecorder rec;
  w.replica().restarts = 4;  // before we started: a baseline, not this period's
  (void)rec.observe(kT0, w.status, &w.traffic);
  w.serve(50, 0);
  (void)rec.observe(kT0 + 10'000, w.status, &w.traffic);
  // The gateway restarted (counters from 0) and the replica's process too.
  w.traffic.tracks["blue"].requests = 7;
  w.traffic.tracks["blue"].errors = 0;
  w.traffic.tracks["blue"].counts = {7, 0};
  w.replica().cpu_seconds = 0.5;
  w.replica().restarts = 5;
  (void)rec.observe(kT0 + 20'000, w.status, &w.traffic);
  auto batch = rec.observe(kT0 + kMinute, w.status, &w.traffic);
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->tracks[0].requests, 57u);
  EXPECT_DOUBLE_EQ(*batch->replicas[0].cpu_seconds, 0.5);
  EXPECT_EQ(batch->replicas[0].restarts, 1);
}

TEST(RollupRecorder, AutoscalerRescalesAreCountedOncePerDecision) {
  World w;
  RollupRecorder rec;
  AutoscalerView a;
  HpaTrackView h;
  h.desired_replicas = 3;
  h.last_decision = HpaDecisionView{"2026-01-01T00:00:00.000Z", 2, 3, 3, 3, true, "up"};
  a.tracks["blue"] = h;
  w.status.autoscaler = a;
  (void)rec.observe(kT0, w.status, &w.traffic);  // a decision made before we started
  w.status.autoscaler->tracks["blue"].last_decision =
      HpaDecisionView{"2026-01-01T00:00:15.000Z", 2, 3, 3, 3, true, "up"};
  (void)rec.observe(kT0 + 15'000, w.status, &w.traffic);
  (void)rec.observe(kT0 + 16'000, w.status, &w.traffic);  // the same decision again
  w.status.autoscaler->tracks["blue"].last_decision =
      HpaDecisionView{"2026-01-01T00:00:30.000Z", 3, 2, 2, 2, true, "down"};
  (void)rec.observe(kT0 + 30'000, w.status, &w.traffic);
  w.status.autoscaler->tracks["blue"].last_decision =
      HpaDecisionView{"2026-01-01T00:00:45.000Z", 2, 2, 2, 2, false, "steady"};
  (void)rec.observe(kT0 + 45'000, w.status, &w.traffic);
  auto batch = rec.observe(kT0 + kMinute, w.status, &w.traffic);
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->tracks[0].scale_ups, 1);
  EXPECT_EQ(batch->tracks[0].scale_downs, 1);
  EXPECT_TRUE(batch->tracks[0].autoscaled);
  EXPECT_EQ(batch->tracks[0].autoscaler_desired, 3);
}

TEST(RollupRecorder, NoObservationInAPeriodMeansNoRows) {
  World w;
  RollupRecorder rec;
  (void)rec.observe(kT0, w.status, &w.traffic);
  auto batch = rec.observe(kT0 + 10 * kMinute, w.status, &w.traffic);  // down for 9 minutes
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->tracks[0].start_ms, kT0);
  auto next = rec.observe(kT0 + 11 * kMinute, w.status, &w.traffic);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->tracks[0].start_ms, kT0 + 10 * kMinute);
}

}  // namespace
}  // namespace sg::platform
