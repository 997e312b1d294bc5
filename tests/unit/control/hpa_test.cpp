// The HPA's replica calculation and metric handling, case by case against the Kubernetes
// documentation: "Horizontal Pod Autoscaling" (kubernetes.io/docs/tasks/run-application/
// horizontal-pod-autoscale/), section named in each test. Times are simulated.
#include "control/hpa.hpp"

#include <gtest/gtest.h>

namespace sg::control {
namespace {

using namespace std::chrono_literals;

const TimePoint kNow = TimePoint(std::chrono::hours(500000));

HpaPod pod(const std::string& name, HpaMetric metric, std::int64_t milli) {
  HpaPod p;
  p.name = name;
  p.start_time = kNow - 10min;
  p.ready = true;
  p.ready_transition = kNow - 9min;
  p.metrics[metric] = {milli, kNow, 15s};
  return p;
}

HpaSpec spec_for(HpaMetric metric, std::int64_t target) {
  HpaSpec s;
  s.min_replicas = 1;
  s.max_replicas = 50;
  s.metrics = {{metric, target}};
  s.cpu_request_millicores = 100;
  return s;
}

int proposal(const HpaSpec& s, int current, const std::vector<HpaPod>& pods) {
  auto r = metric_replicas(s, s.metrics.at(0), current, pods, kNow);
  EXPECT_TRUE(r) << r.error().message;
  return r ? r->replicas : -1;
}

// "Algorithm details": current 200m against a desired 100m doubles the replicas; 50m halves.
TEST(HpaAlgorithm, RatioOfCurrentToDesiredValueScalesTheCount) {
  const HpaSpec s = spec_for(HpaMetric::kRps, 100);
  EXPECT_EQ(proposal(s, 3, {pod("a", HpaMetric::kRps, 200), pod("b", HpaMetric::kRps, 200),
                            pod("c", HpaMetric::kRps, 200)}),
            6);
  EXPECT_EQ(proposal(s, 4, {pod("a", HpaMetric::kRps, 50), pod("b", HpaMetric::kRps, 50),
                            pod("c", HpaMetric::kRps, 50), pod("d", HpaMetric::kRps, 50)}),
            2);
  // ceil: 3 replicas at 1.5x -> 4.5 -> 5.
  EXPECT_EQ(proposal(s, 3, {pod("a", HpaMetric::kRps, 150), pod("b", HpaMetric::kRps, 150),
                            pod("c", HpaMetric::kRps, 150)}),
            5);
}

// "Algorithm details": no scaling while the ratio is within the tolerance (0.1 by default).
TEST(HpaAlgorithm, NoChangeWithinTheToleranceOfOneTenth) {
  const HpaSpec s = spec_for(HpaMetric::kRps, 1000);
  auto two = [](std::int64_t v) {
    return std::vector<HpaPod>{pod("a", HpaMetric::kRps, v), pod("b", HpaMetric::kRps, v)};
  };
  EXPECT_EQ(proposal(s, 2, two(1090)), 2) << "ratio 1.09 is within";
  EXPECT_EQ(proposal(s, 2, two(900)), 2) << "ratio 0.90 is within";
  EXPECT_EQ(proposal(s, 2, two(1120)), 3) << "ratio 1.12 scales: ceil(2.24)";
  EXPECT_EQ(proposal(s, 2, two(899)), 2) << "ratio 0.899: ceil(1.798) = 2";
  EXPECT_EQ(proposal(s, 4, {pod("a", HpaMetric::kRps, 800), pod("b", HpaMetric::kRps, 800),
                            pod("c", HpaMetric::kRps, 800), pod("d", HpaMetric::kRps, 800)}),
            4) << "ratio 0.8 with 4: ceil(3.2) = 4";
  HpaSpec loose = s;
  loose.tolerance = 0.3;
  EXPECT_EQ(proposal(loose, 2, two(1250)), 2) << "the tolerance is configurable";
}

// "Support for resource metrics" / "Algorithm details": CPU utilization is a percentage of
// the request, averaged over the pods; the HPA keeps it as an integer percent.
TEST(HpaAlgorithm, CpuUtilizationIsAnIntegerPercentOfTheRequest) {
  HpaSpec s = spec_for(HpaMetric::kCpu, 70);
  s.cpu_request_millicores = 250;
  auto r = metric_replicas(s, s.metrics[0], 2,
                           {pod("a", HpaMetric::kCpu, 250), pod("b", HpaMetric::kCpu, 200)}, kNow);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->current, 90) << "450m of 500m requested";
  EXPECT_EQ(r->raw_average, 225);
  EXPECT_EQ(r->replicas, 3) << "ceil(2 * 90/70) = ceil(2.571)";
  // 100m of 300m is 33 % (truncated), not 33.3 %: ratio 0.66 -> ceil(0.66 * 3) = 2.
  s.cpu_request_millicores = 100;
  s.metrics[0].target = 50;
  r = metric_replicas(s, s.metrics[0], 3,
                      {pod("a", HpaMetric::kCpu, 34), pod("b", HpaMetric::kCpu, 33),
                       pod("c", HpaMetric::kCpu, 33)},
                      kNow);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->current, 33);
  EXPECT_EQ(r->replicas, 2);
}

// "Algorithm details": pods missing metrics are set aside; on a scale down they are then
// assumed to use 100 % of the desired value, which dampens (here cancels) the scale down.
TEST(HpaAlgorithm, MissingMetricsCountAsFullUseOnScaleDown) {
  const HpaSpec s = spec_for(HpaMetric::kCpu, 50);
  std::vector<HpaPod> pods = {pod("a", HpaMetric::kCpu, 40), pod("b", HpaMetric::kCpu, 40),
                              pod("c", HpaMetric::kCpu, 40)};
  EXPECT_EQ(proposal(s, 3, pods), 3) << "0.8 * 3 = 2.4 -> 3 without a missing pod";
  pods.push_back(pod("d", HpaMetric::kCpu, 0));
  pods.back().metrics.clear();
  auto r = metric_replicas(s, s.metrics[0], 4, pods, kNow);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->missing, 1);
  EXPECT_TRUE(r->recomputed);
  EXPECT_EQ(r->current, 40) << "the reported value is the original average";
  EXPECT_EQ(r->replicas, 4)
      << "(40+40+40+100)/4 = 55 % -> ratio 1.1: no longer a scale down, so no change";
  // Without the missing pod the same three would go to ceil(0.8 * 3) = 3 of 4.
  pods.pop_back();
  EXPECT_EQ(proposal(s, 4, pods), 3);
}

// "Algorithm details": on a scale up missing pods are assumed to use 0 %; if that reverses
// the direction, nothing changes.
TEST(HpaAlgorithm, MissingMetricsCountAsZeroOnScaleUpAndMayCancelIt) {
  const HpaSpec s = spec_for(HpaMetric::kRps, 100);
  HpaPod silent = pod("b", HpaMetric::kRps, 0);
  silent.metrics.clear();
  EXPECT_EQ(proposal(s, 1, {pod("a", HpaMetric::kRps, 115)}), 2) << "alone: ceil(1.15)";
  EXPECT_EQ(proposal(s, 2, {pod("a", HpaMetric::kRps, 115), silent}), 2)
      << "with a missing pod: (115 + 0) / 2 = 57 -> 0.57 reverses the direction";
  EXPECT_EQ(proposal(s, 2, {pod("a", HpaMetric::kRps, 400), silent}), 4)
      << "a big step still scales: (400 + 0) / 2 = 200 -> ceil(2.0 * 2)";
}

// "Algorithm details": when scaling on CPU, pods not yet ready are set aside; if the rest
// would scale up, they are assumed to use 0 %, dampening the scale up.
TEST(HpaAlgorithm, UnreadyPodsDampenACpuScaleUp) {
  const HpaSpec s = spec_for(HpaMetric::kCpu, 50);
  HpaPod starting = pod("c", HpaMetric::kCpu, 90);
  starting.ready = false;
  starting.start_time = kNow - 20s;
  starting.ready_transition = kNow - 20s;
  HpaPod pending = pod("d", HpaMetric::kCpu, 0);
  pending.phase = HpaPodPhase::kPending;
  pending.metrics.clear();
  std::vector<HpaPod> pods = {pod("a", HpaMetric::kCpu, 100), pod("b", HpaMetric::kCpu, 100)};
  EXPECT_EQ(proposal(s, 2, pods), 4) << "ready pods alone: 200 % of target -> 4";
  pods.push_back(starting);
  pods.push_back(pending);
  auto r = metric_replicas(s, s.metrics[0], 4, pods, kNow);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->unready, 2);
  EXPECT_EQ(r->current, 100) << "the starting pod's own 90 % is not used";
  EXPECT_EQ(r->replicas, 4) << "(100+100+0+0)/4 = 50 % -> ratio 1.0: no change";
  // With a higher load the scale up still happens, from the recomputed average.
  pods[0].metrics[HpaMetric::kCpu].milli = 200;
  pods[1].metrics[HpaMetric::kCpu].milli = 200;
  EXPECT_EQ(proposal(s, 4, pods), 8) << "(200+200+0+0)/4 = 100 % -> ceil(2.0 * 4)";
}

// "Algorithm details": unready pods are set aside on a scale down too, but not added back:
// the scale down is computed on the ready pods.
TEST(HpaAlgorithm, UnreadyPodsAreLeftOutOfACpuScaleDown) {
  const HpaSpec s = spec_for(HpaMetric::kCpu, 50);
  HpaPod starting = pod("c", HpaMetric::kCpu, 100);
  starting.ready = false;
  starting.start_time = kNow - 5s;
  starting.ready_transition = kNow - 5s;
  EXPECT_EQ(proposal(s, 3, {pod("a", HpaMetric::kCpu, 10), pod("b", HpaMetric::kCpu, 10), starting}),
            1)
      << "10 % against 50 % on the two ready pods: ceil(0.2 * 2)";
}

// "Algorithm details": the readiness rules apply when scaling on CPU; a per-pod custom
// metric (rps) uses a running pod's value whether or not it is ready.
TEST(HpaAlgorithm, ReadinessMattersOnlyForCpu) {
  const HpaSpec s = spec_for(HpaMetric::kRps, 100);
  HpaPod unready = pod("b", HpaMetric::kRps, 300);
  unready.ready = false;
  unready.ready_transition = kNow - 2s;
  auto r = metric_replicas(s, s.metrics[0], 2, {pod("a", HpaMetric::kRps, 100), unready}, kNow);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->unready, 0);
  EXPECT_EQ(r->replicas, 4) << "(100 + 300) / 2 = 200 -> ceil(2.0 * 2)";
}

// "Algorithm details": CPU of a pod within --horizontal-pod-autoscaler-cpu-initialization-
// period (5 min) counts only once it has been ready for a full metric window; after that
// period, an unready pod is set aside only if it never became ready (its transition within
// --horizontal-pod-autoscaler-initial-readiness-delay, 30 s, of its start).
TEST(HpaAlgorithm, CpuInitializationPeriodAndInitialReadinessDelay) {
  const HpaSpec s = spec_for(HpaMetric::kCpu, 50);
  HpaPod young = pod("b", HpaMetric::kCpu, 100);
  young.start_time = kNow - 60s;
  young.ready_transition = kNow - 10s;  // ready 10 s ago, the value spans 15 s
  auto r = metric_replicas(s, s.metrics[0], 2, {pod("a", HpaMetric::kCpu, 50), young}, kNow);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->unready, 1) << "its window began before it was ready";
  young.ready_transition = kNow - 20s;
  r = metric_replicas(s, s.metrics[0], 2, {pod("a", HpaMetric::kCpu, 50), young}, kNow);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->unready, 0) << "ready for more than one window";

  HpaPod flapped = pod("c", HpaMetric::kCpu, 100);  // started 10 min ago, unready since 1 min
  flapped.ready = false;
  flapped.ready_transition = kNow - 1min;
  r = metric_replicas(s, s.metrics[0], 2, {pod("a", HpaMetric::kCpu, 50), flapped}, kNow);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->unready, 0) << "it was ready before: its CPU counts";
  HpaPod never = flapped;  // started 10 min ago, unready since 10 s after its start
  never.ready_transition = *never.start_time + 10s;
  r = metric_replicas(s, s.metrics[0], 2, {pod("a", HpaMetric::kCpu, 50), never}, kNow);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->unready, 1) << "never ready: set aside";
}

// "Algorithm details": pods being deleted are ignored and failed ones discarded.
TEST(HpaAlgorithm, DeletingAndFailedPodsAreIgnored) {
  const HpaSpec s = spec_for(HpaMetric::kRps, 100);
  HpaPod draining = pod("b", HpaMetric::kRps, 0);
  draining.deleting = true;
  HpaPod failed = pod("c", HpaMetric::kRps, 0);
  failed.phase = HpaPodPhase::kFailed;
  auto r = metric_replicas(s, s.metrics[0], 3, {pod("a", HpaMetric::kRps, 300), draining, failed},
                           kNow);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ignored, 2);
  EXPECT_EQ(r->replicas, 3) << "300 on the one counted pod -> ceil(3.0 * 1)";
}

TEST(HpaAlgorithm, NoPodsOrNoValuesIsAnError) {
  const HpaSpec s = spec_for(HpaMetric::kRps, 100);
  EXPECT_FALSE(metric_replicas(s, s.metrics[0], 2, {}, kNow));
  HpaPod p = pod("a", HpaMetric::kCpu, 10);  // no rps value
  auto r = metric_replicas(s, s.metrics[0], 1, {p}, kNow);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("did not receive metrics"), std::string::npos);
}

// "Scaling on multiple metrics" and "Algorithm details": the largest proposal wins; a
// metric that cannot be computed blocks a scale down but not a scale up.
TEST(HpaAlgorithm, SeveralMetricsTakeTheLargestAndAFailedOneBlocksScaleDown) {
  HpaSpec s = spec_for(HpaMetric::kCpu, 50);
  s.metrics.push_back({HpaMetric::kRps, 100});
  s.behavior.scale_down.stabilization_window_seconds = 0;
  auto both = [](std::int64_t cpu, std::int64_t rps) {
    HpaPod p = pod("a", HpaMetric::kCpu, cpu);
    p.metrics[HpaMetric::kRps] = {rps, kNow, 10s};
    HpaPod q = p;
    q.name = "b";
    return std::vector<HpaPod>{p, q};
  };
  HorizontalAutoscaler hpa;
  HpaRecord rec = hpa.evaluate(s, 2, both(50, 300), kNow);
  EXPECT_EQ(rec.metrics.at(0).proposal, 2);
  EXPECT_EQ(rec.metrics.at(1).proposal, 6);
  EXPECT_EQ(rec.desired_replicas, 6);
  EXPECT_EQ(rec.reason, "pods metric rps above target");

  // rps not available: the CPU says scale up -> scale up.
  auto cpu_only = both(100, 0);
  for (auto& p : cpu_only) p.metrics.erase(HpaMetric::kRps);
  HorizontalAutoscaler up;
  rec = up.evaluate(s, 2, cpu_only, kNow);
  EXPECT_EQ(rec.desired_replicas, 4);
  EXPECT_FALSE(rec.metrics.at(1).error.empty());

  // rps not available: the CPU says scale down -> no change, ScalingActive False.
  for (auto& p : cpu_only) p.metrics[HpaMetric::kCpu].milli = 10;
  HorizontalAutoscaler down;
  rec = down.evaluate(s, 2, cpu_only, kNow);
  EXPECT_EQ(rec.desired_replicas, 2);
  EXPECT_FALSE(rec.rescale);
  ASSERT_EQ(rec.conditions.size(), 2u);
  EXPECT_EQ(rec.conditions[1].type, "ScalingActive");
  EXPECT_FALSE(rec.conditions[1].status);
  EXPECT_EQ(rec.conditions[1].reason, "FailedGetPodsMetric");
}

TEST(HpaSpec, ValidationNamesTheField) {
  HpaSpec s;
  EXPECT_TRUE(validate(s));
  s.max_replicas = 1;
  EXPECT_EQ(validate(s).error().message, "--max must be 2..50 (at least --min), got 1");
  s = HpaSpec{};
  s.metrics = {{HpaMetric::kCpu, 0}};
  EXPECT_EQ(validate(s).error().message, "--cpu must be 1..1000 (percent of the CPU request), got 0");
  s = HpaSpec{};
  s.behavior.scale_down.stabilization_window_seconds = 4000;
  EXPECT_EQ(validate(s).error().message,
            "behavior.scaleDown.stabilizationWindowSeconds must be 0..3600, got 4000");
  s = HpaSpec{};
  s.behavior.scale_up.policies.clear();
  EXPECT_EQ(validate(s).error().message, "behavior.scaleUp.policies: at least one policy is required");
  s.behavior.scale_up.select_policy = SelectPolicy::kDisabled;
  EXPECT_TRUE(validate(s)) << "Disabled needs no policy";
}

TEST(HpaSpec, CpuQuantitiesAsKubernetesWritesThem) {
  EXPECT_EQ(*parse_cpu_quantity("250m"), 250);
  EXPECT_EQ(*parse_cpu_quantity("0.5"), 500);
  EXPECT_EQ(*parse_cpu_quantity("2"), 2000);
  EXPECT_EQ(*parse_cpu_quantity("0.0001"), 1) << "rounds up to 1m";
  for (const char* bad : {"", "m", "-1", "abc", "1.5x", "0", "0m", "100000"}) {
    EXPECT_FALSE(parse_cpu_quantity(bad)) << bad;
  }
}

}  // namespace
}  // namespace sg::control
