// The HPA's behavior (stabilization windows, scaling policies, selectPolicy, min/max) and its
// conditions, driven through whole scenarios on simulated time. Each test names the section
// of the Kubernetes documentation it follows: "Horizontal Pod Autoscaling"
// (kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/) and, for conditions,
// "HorizontalPodAutoscaler Walkthrough", "Appendix: Horizontal Pod Autoscaler Status
// Conditions" (kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale-walkthrough/).
#include <gtest/gtest.h>

#include "control/hpa.hpp"

namespace sg::control {
namespace {

using namespace std::chrono_literals;

// One scale target under a per-replica rps metric (target 1 rps = 1000 milli), whose load is
// set so that the metric alone asks for `wants` replicas.
class Target {
 public:
  explicit Target(int replicas) : current_(replicas) {
    spec_.min_replicas = 1;
    spec_.max_replicas = 100;
    spec_.metrics = {{HpaMetric::kRps, 1000}};
    spec_.tolerance = 0;
  }

  HpaRecord want(int wants) {
    std::vector<HpaPod> pods;
    // ceil(current * v / 1000) == wants, with a margin against rounding.
    const std::int64_t v = (static_cast<std::int64_t>(wants) * 1000 - 1) / current_;
    for (int i = 0; i < current_; ++i) {
      HpaPod p;
      p.name = "r" + std::to_string(i);
      p.start_time = t_ - 1h;
      p.ready = true;
      p.ready_transition = t_ - 1h;
      p.metrics[HpaMetric::kRps] = {v, t_, 10s};
      pods.push_back(p);
    }
    HpaRecord r = hpa_.evaluate(spec_, current_, pods, t_);
    EXPECT_EQ(r.metric_replicas.value_or(-1), wants) << "the load set-up is off";
    current_ = r.desired_replicas;
    return r;
  }
  void advance(std::chrono::seconds d) { t_ += d; }

  HpaSpec& spec() { return spec_; }
  int current() const { return current_; }
  const HorizontalAutoscaler& hpa() const { return hpa_; }
  TimePoint now() const { return t_; }

 private:
  HpaSpec spec_;
  HorizontalAutoscaler hpa_;
  int current_;
  TimePoint t_ = TimePoint(std::chrono::hours(500000));
};

const HpaCondition* find(const HpaRecord& r, const std::string& type) {
  for (const auto& c : r.conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

// "Stabilization window" and "Default Behavior": scale-downs use the highest recommendation
// of the last 300 s, so a drop in load scales down only 300 s after the last higher one.
TEST(HpaBehavior, DefaultScaleDownWaitsThreeHundredSeconds) {
  Target t(5);
  EXPECT_EQ(t.want(5).desired_replicas, 5);
  for (int s = 15; s < 300; s += 15) {
    t.advance(15s);
    const HpaRecord r = t.want(2);
    ASSERT_EQ(r.desired_replicas, 5) << "at " << s << " s";
    EXPECT_EQ(r.stabilized, 5);
    EXPECT_EQ(find(r, "AbleToScale")->reason, "ScaleDownStabilized");
  }
  t.advance(15s);  // 300 s after the last recommendation of 5
  const HpaRecord r = t.want(2);
  EXPECT_EQ(r.desired_replicas, 2);
  EXPECT_TRUE(r.rescale);
  EXPECT_EQ(r.reason, "All metrics below target");
}

// "Example: change downscale stabilization window": 60 s; the window holds the highest of
// the recent recommendations while the load fluctuates (a rolling maximum).
TEST(HpaBehavior, ShortenedWindowIsARollingMaximum) {
  Target t(6);
  t.spec().behavior.scale_down.stabilization_window_seconds = 60;
  EXPECT_EQ(t.want(6).desired_replicas, 6);  // t = 0
  t.advance(15s);
  EXPECT_EQ(t.want(4).desired_replicas, 6);  // 15: 6 still in the window
  t.advance(15s);
  EXPECT_EQ(t.want(3).desired_replicas, 6);  // 30
  t.advance(15s);
  EXPECT_EQ(t.want(2).desired_replicas, 6);  // 45
  t.advance(15s);
  EXPECT_EQ(t.want(2).desired_replicas, 4) << "60: the 6 left, the highest since is 4";
  t.advance(15s);
  EXPECT_EQ(t.want(5).desired_replicas, 5) << "75: a rise is followed at once";
  t.advance(15s);
  EXPECT_EQ(t.want(2).desired_replicas, 5) << "90: and held for the window";
}

// "Stabilization window" for scaleUp: the lowest recommendation of the window is applied.
TEST(HpaBehavior, ScaleUpWindowAppliesTheLowestRecentRecommendation) {
  Target t(2);
  t.spec().behavior.scale_up.stabilization_window_seconds = 60;
  EXPECT_EQ(t.want(2).desired_replicas, 2);
  t.advance(15s);
  HpaRecord r = t.want(6);
  EXPECT_EQ(r.desired_replicas, 2);
  EXPECT_EQ(find(r, "AbleToScale")->reason, "ScaleUpStabilized");
  for (int s = 30; s < 60; s += 15) {
    t.advance(15s);
    EXPECT_EQ(t.want(6).desired_replicas, 2) << s;
  }
  t.advance(15s);  // 60 s: every recommendation inside the window (after 0 s) was 6
  EXPECT_EQ(t.want(6).desired_replicas, 6);
}

// "Default Behavior": up to 4 pods or 100 % added every 15 s, whichever is more (Max).
TEST(HpaBehavior, DefaultScaleUpIsFourPodsOrDoublingPerFifteenSeconds) {
  Target t(1);
  HpaRecord r = t.want(20);
  EXPECT_EQ(r.desired_replicas, 5) << "1 + 4 pods beats 1 * 2";
  EXPECT_TRUE(find(r, "ScalingLimited")->status);
  EXPECT_EQ(find(r, "ScalingLimited")->reason, "ScaleUpLimit");
  t.advance(5s);
  EXPECT_EQ(t.want(20).desired_replicas, 5) << "the period's budget is spent";
  t.advance(10s);
  EXPECT_EQ(t.want(20).desired_replicas, 10) << "5 * 2 beats 5 + 4";
  t.advance(15s);
  r = t.want(20);
  EXPECT_EQ(r.desired_replicas, 20);
  EXPECT_FALSE(find(r, "ScalingLimited")->status);
  EXPECT_EQ(find(r, "ScalingLimited")->reason, "DesiredWithinRange");
}

// "Scaling policies": Pods 4 / 60 s and Percent 10 / 60 s down; the policy allowing the most
// change wins: from 80, 8 first; then, a period later, 10 % of 72 rounded up (8); below 40
// replicas the Pods policy (4).
TEST(HpaBehavior, ScaleDownPoliciesFromTheDocumentedExample) {
  Target t(80);
  t.spec().behavior.scale_down = {0,
                                  SelectPolicy::kMax,
                                  {{ScalingPolicyType::kPods, 4, 60},
                                   {ScalingPolicyType::kPercent, 10, 60}}};
  HpaRecord r = t.want(10);
  EXPECT_EQ(r.desired_replicas, 72);
  EXPECT_EQ(find(r, "ScalingLimited")->reason, "ScaleDownLimit");
  t.advance(15s);
  EXPECT_EQ(t.want(10).desired_replicas, 72) << "within the 60 s period: nothing more";
  t.advance(45s);
  EXPECT_EQ(t.want(10).desired_replicas, 64) << "72 - ceil(7.2)";
  Target small(30);
  small.spec().behavior.scale_down = t.spec().behavior.scale_down;
  EXPECT_EQ(small.want(10).desired_replicas, 26) << "30 - 4 pods beats 30 - 3";
}

// "Example: limit scale down rate" with selectPolicy Min: the policy changing the fewest
// pods (10 % or 5 pods per minute) applies.
TEST(HpaBehavior, SelectPolicyMinTakesTheSmallestChange) {
  const ScalingRules rules{0,
                           SelectPolicy::kMin,
                           {{ScalingPolicyType::kPercent, 10, 60}, {ScalingPolicyType::kPods, 5, 60}}};
  Target big(80);
  big.spec().behavior.scale_down = rules;
  EXPECT_EQ(big.want(10).desired_replicas, 75) << "5 pods < 8 (10 %)";
  Target small(30);
  small.spec().behavior.scale_down = rules;
  EXPECT_EQ(small.want(10).desired_replicas, 27) << "3 (10 %) < 5 pods";
  Target up(6);
  up.spec().behavior.scale_up.select_policy = SelectPolicy::kMin;
  EXPECT_EQ(up.want(20).desired_replicas, 10) << "min(6 + 4, 6 * 2) on the way up";
}

// "Example: disable scale down": selectPolicy Disabled turns a direction off.
TEST(HpaBehavior, DisabledDirectionNeverScales) {
  Target t(6);
  t.spec().behavior.scale_down = {0, SelectPolicy::kDisabled, {}};
  for (int i = 0; i < 10; ++i) {
    const HpaRecord r = t.want(1);
    ASSERT_EQ(r.desired_replicas, 6);
    EXPECT_TRUE(find(r, "ScalingLimited")->status);
    t.advance(1min);
  }
  EXPECT_EQ(t.want(9).desired_replicas, 9) << "scaling up still works";
  Target u(2);
  u.spec().behavior.scale_up.select_policy = SelectPolicy::kDisabled;
  EXPECT_EQ(u.want(9).desired_replicas, 2);
}

// "API Object" (minReplicas, maxReplicas) and the ScalingLimited condition of the appendix:
// TooManyReplicas / TooFewReplicas; a target outside the bounds is brought back at once.
TEST(HpaBehavior, MinAndMaxClampWithTheirConditions) {
  Target t(10);
  t.spec().min_replicas = 2;
  t.spec().max_replicas = 10;
  HpaRecord r = t.want(20);
  EXPECT_EQ(r.desired_replicas, 10);
  EXPECT_FALSE(r.rescale);
  EXPECT_TRUE(find(r, "ScalingLimited")->status);
  EXPECT_EQ(find(r, "ScalingLimited")->reason, "TooManyReplicas");

  Target low(2);
  low.spec().min_replicas = 2;
  low.spec().behavior.scale_down.stabilization_window_seconds = 0;
  r = low.want(1);
  EXPECT_EQ(r.desired_replicas, 2);
  EXPECT_EQ(find(r, "ScalingLimited")->reason, "TooFewReplicas");

  HorizontalAutoscaler hpa;
  HpaSpec s;
  s.min_replicas = 2;
  s.max_replicas = 4;
  r = hpa.evaluate(s, 7, {}, TimePoint(std::chrono::hours(1)));
  EXPECT_EQ(r.desired_replicas, 4);
  EXPECT_EQ(r.reason, "Current number of replicas above Spec.MaxReplicas");
  HorizontalAutoscaler hpa2;
  r = hpa2.evaluate(s, 1, {}, TimePoint(std::chrono::hours(1)));
  EXPECT_EQ(r.desired_replicas, 2);
  EXPECT_EQ(r.reason, "Current number of replicas below Spec.MinReplicas");
}

// "Appendix: Horizontal Pod Autoscaler Status Conditions": AbleToScale, ScalingActive and
// ScalingLimited with their reasons after a successful rescale; the last scale time.
TEST(HpaBehavior, ConditionsAfterARescale) {
  Target t(2);
  EXPECT_FALSE(t.hpa().last_scale_time());
  const HpaRecord r = t.want(3);
  ASSERT_TRUE(r.rescale);
  ASSERT_EQ(r.conditions.size(), 3u);
  EXPECT_EQ(r.conditions[0].type, "AbleToScale");
  EXPECT_TRUE(r.conditions[0].status);
  EXPECT_EQ(r.conditions[0].reason, "SucceededRescale");
  EXPECT_EQ(r.conditions[0].message, "the HPA controller was able to update the target scale to 3");
  EXPECT_EQ(r.conditions[1].type, "ScalingActive");
  EXPECT_EQ(r.conditions[1].reason, "ValidMetricFound");
  EXPECT_EQ(r.conditions[1].message,
            "the HPA was able to successfully calculate a replica count from pods metric rps");
  EXPECT_EQ(r.conditions[2].type, "ScalingLimited");
  EXPECT_FALSE(r.conditions[2].status);
  EXPECT_EQ(t.hpa().last_scale_time(), t.now());
}

// "Algorithm details" (the recommendation is recorded before scaling): a new autoscaler's
// first recommendation is the current count, so it does not scale down before one full
// window, even when the very first reading is low.
TEST(HpaBehavior, AFreshAutoscalerWaitsOneWindowBeforeScalingDown) {
  Target t(6);
  t.spec().behavior.scale_down.stabilization_window_seconds = 30;
  EXPECT_EQ(t.want(2).desired_replicas, 6);
  t.advance(15s);
  EXPECT_EQ(t.want(2).desired_replicas, 6);
  t.advance(15s);
  EXPECT_EQ(t.want(2).desired_replicas, 2);
}

}  // namespace
}  // namespace sg::control
