#include "control/replica_targets.hpp"

#include <gtest/gtest.h>

namespace sg::control {
namespace {

ReplicaTargets serving_v1() {
  return ReplicaTargets({.stable_track = "blue", .stable_release = "v1", .operator_replicas = 2});
}

TEST(ReplicaTargets, StableTrackTakesTheOperatorsCountOthersNothing) {
  const ReplicaTargets t = serving_v1();
  EXPECT_EQ(t.effective("blue"), (TrackTarget{"v1", 2}));
  EXPECT_EQ(t.effective("green").replicas, 0);
  EXPECT_EQ(t.source("blue"), "operator");
  EXPECT_EQ(t.source("canary"), "none");
}

TEST(ReplicaTargets, EveryChangeIsReportedWithItsSourceAndReason) {
  ReplicaTargets t = serving_v1();
  auto changes = t.set_operator_replicas(4, "sgctl scale --replicas 4");
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(describe(changes[0]), "blue (v1): 2 -> 4 replicas (operator: sgctl scale --replicas 4)");
  EXPECT_TRUE(t.set_operator_replicas(4, "again").empty()) << "no change, no event";
  changes = t.claim("canary", {{"v2", 1}, true}, "deployment 3: StartCanary");
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].source, "rollout");
  EXPECT_EQ(describe(changes[0]), "canary (v2): 0 -> 1 replicas (rollout: deployment 3: StartCanary)");
  changes = t.release("canary", "deployment 3 ended");
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(describe(changes[0]), "canary (v2): 1 -> 0 replicas (rollout: deployment 3 ended)");
}

// Precedence: the rollout's claim over the operator's count over the autoscaler's.
TEST(ReplicaTargets, RolloutBeforeOperatorBeforeAutoscaler) {
  ReplicaTargets t = serving_v1();
  t.recommend("blue", 5, "cpu 90 % of 70 %");
  EXPECT_EQ(t.effective("blue").replicas, 5) << "autoscaling on: its count replaces the operator's";
  EXPECT_EQ(t.source("blue"), "autoscaler");
  t.claim("blue", {{"v1", 2}, false}, "kept warm");
  EXPECT_EQ(t.effective("blue").replicas, 2) << "a pinned claim is not scaled up";
  EXPECT_EQ(t.source("blue"), "rollout");
  t.claim("canary", {{"v2", 1}, true}, "canary");
  t.recommend("canary", 3, "canary cpu");
  EXPECT_EQ(t.effective("canary").replicas, 3) << "an autoscalable claim may be raised";
  t.recommend("canary", 0, "idle");
  EXPECT_EQ(t.effective("canary").replicas, 1) << "never below the rollout's claim";
  t.recommend("blue", std::nullopt, "autoscaling off");
  t.release("blue", "done");
  EXPECT_EQ(t.effective("blue").replicas, 2) << "back to the operator's count";
}

TEST(ReplicaTargets, SwitchingTheStableTrackMovesTheCountWithIt) {
  ReplicaTargets t = serving_v1();
  t.claim("green", {{"v2", 2}, true}, "new colour");
  t.claim("blue", {t.effective("blue"), false}, "kept warm");
  t.set_stable("green", "v2", "switched");
  t.release("green", "switched");
  EXPECT_EQ(t.effective("green"), (TrackTarget{"v2", 2}));
  EXPECT_EQ(t.effective("blue"), (TrackTarget{"v1", 2})) << "warm until released";
  t.release_all("ended");
  EXPECT_EQ(t.effective("blue").replicas, 0);
  EXPECT_EQ(t.effective("blue").release, "v1") << "a stopped track keeps its last release";
  EXPECT_EQ(t.stable_track(), "green");
}

}  // namespace
}  // namespace sg::control
