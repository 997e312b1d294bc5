// The autoscaler's JSON: the HPA spec codec (strict, validated, behavior merged into the
// defaults) and the AutoscalerView in the status, both round-tripped; AutoscalerLoop's
// mapping of replicas to the HPA's pods.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "platform/engine/autoscaler_loop.hpp"
#include "platform/hpa_json.hpp"
#include "platform/model.hpp"

namespace sg::platform {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

TEST(HpaJson, SpecRoundTripsWithTheHpasBehaviorShape) {
  control::HpaSpec s;
  s.min_replicas = 3;
  s.max_replicas = 12;
  s.metrics = {{control::HpaMetric::kCpu, 65}, {control::HpaMetric::kRps, 12500}};
  s.cpu_request_millicores = 500;
  s.sync_period = 5s;
  s.behavior.scale_down = {60,
                           control::SelectPolicy::kMin,
                           {{control::ScalingPolicyType::kPercent, 10, 60},
                            {control::ScalingPolicyType::kPods, 5, 60}}};
  const json::value v = to_json(s);
  EXPECT_EQ(v.at("metrics").at(1).at("target").as_double(), 12.5) << "rps in its own unit";
  EXPECT_EQ(v.at("behavior").at("scaleDown").at("selectPolicy").as_string(), "Min");
  auto back = hpa_spec_from_json(v);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, s);
}

TEST(HpaJson, BehaviorLeftOutKeepsTheDefaults) {
  auto b = hpa_behavior_from_json(json::parse(R"({"scaleDown": {"stabilizationWindowSeconds": 60}})"));
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->scale_down.stabilization_window_seconds, 60);
  EXPECT_EQ(b->scale_down.policies, control::default_scale_down().policies);
  EXPECT_EQ(b->scale_up, control::default_scale_up());
  b = hpa_behavior_from_json(json::parse(R"({"scaleUp": {"selectPolicy": "Disabled"}})"));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->scale_up.select_policy, control::SelectPolicy::kDisabled);
}

TEST(HpaJson, StrictErrorsNameTheKey) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"min_replicas": 2, "maxReplicas": 3})", "autoscaler spec: unknown key 'maxReplicas'"},
      {R"({"min_replicas": "2"})", "min_replicas must be an integer, got \"2\""},
      {R"({"metrics": [{"metric": "memory", "target": 50}]})",
       "metrics[0].metric must be cpu, rps or in_flight, got \"memory\""},
      {R"({"metrics": [{"metric": "rps", "target": -1}]})",
       "metrics[0].target must be > 0 and <= 1000000"},
      {R"({"behavior": {"scaleDown": {"policies": [{"type": "Pods", "value": 1}]}}})",
       "behavior.scaleDown.policies[0]: value and periodSeconds are required"},
      {R"({"behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 0, "periodSeconds": 15}]}}})",
       "behavior.scaleUp.policies[0].value must be > 0, got 0"},
      {R"({"behavior": {"sideways": {}}})", "behavior: unknown key 'sideways'"},
      {R"({"min_replicas": 4, "max_replicas": 2})", "--max must be 4..50 (at least --min), got 2"},
  };
  for (const auto& [text, message] : cases) {
    auto r = hpa_spec_from_json(json::parse(text));
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().message, message) << text;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(HpaJson, AutoscalerViewRoundTripsInTheStatus) {
  PlatformStatus s;
  s.state_dir = "/tmp/s";
  AutoscalerView a;
  a.min_replicas = 2;
  a.max_replicas = 10;
  a.cpu_request_millicores = 250;
  a.sync_period_s = 15;
  a.tolerance = 0.1;
  a.scale_down_window_s = 300;
  a.scale_up_select_policy = "Max";
  a.scale_down_select_policy = "Max";
  a.targets = {{"cpu", 70}};
  HpaTrackView t;
  t.release = "v1";
  t.min_replicas = 2;
  t.max_replicas = 10;
  t.current_replicas = 2;
  t.desired_replicas = 3;
  t.ready_replicas = 2;
  t.metrics = {{"cpu", 70, 90, 225, 3, 2, 0, 0, 0, ""}, {"rps", 10, std::nullopt, std::nullopt,
                                                        std::nullopt, 0, 0, 2, 0, "no values"}};
  t.conditions = {{"AbleToScale", true, "SucceededRescale", "m"}};
  t.last_scale_time = "2026-12-05T22:00:00.000Z";
  t.last_evaluation = "2026-12-05T22:00:00.000Z";
  t.last_decision = HpaDecisionView{"2026-12-05T22:00:00.000Z", 2, 3, 3, 3, true, "cpu above target"};
  a.tracks["blue"] = t;
  s.autoscaler = a;
  const json::value v = to_json(s);
  EXPECT_TRUE(v.at("autoscaler").at("tracks").at("blue").at("metrics").at(1).at("current").is_null());
  auto back = status_from_json(v);
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_TRUE(back->autoscaler);
  EXPECT_EQ(json::serialize(to_json(*back->autoscaler)), json::serialize(to_json(a)));
  s.autoscaler.reset();
  EXPECT_TRUE(to_json(s).at("autoscaler").is_null()) << "off is null, not an empty object";
}

TEST(AutoscalerLoop, ReplicasBecomeTheHpasPods) {
  control::HpaSpec spec;
  spec.metrics = {{control::HpaMetric::kCpu, 70}, {control::HpaMetric::kRps, 10000}};
  spec.sync_period = 5s;
  const auto steady0 = std::chrono::steady_clock::time_point(1000h);
  const auto wall0 = control::TimePoint(500000h);
  AutoscalerLoop loop(spec, steady0);
  auto replica = [](const std::string& name, ReplicaPhase phase, std::optional<double> cpu) {
    ReplicaInfo r;
    r.name = name;
    r.track = "blue";
    r.release = "v1";
    r.address = "127.0.0.1:" + name;
    r.phase = phase;
    r.cpu_cores = cpu;
    return r;
  };
  const std::vector<EndpointLoad> load = {{"blue", "127.0.0.1:1", 12.5, 10, 3}};
  for (int i = 0; i < 4; ++i) {
    loop.observe({replica("1", ReplicaPhase::kReady, 0.2), replica("2", ReplicaPhase::kStarting, 0.5),
                  replica("3", ReplicaPhase::kBackoff, std::nullopt),
                  replica("4", ReplicaPhase::kDraining, 0.1)},
                 load, steady0 + i * 500ms, wall0 + i * 500ms);
  }
  const auto pods = loop.pods("blue", "v1", wall0 + 2s);
  ASSERT_EQ(pods.size(), 4u);
  EXPECT_EQ(pods[0].metrics.at(control::HpaMetric::kCpu).milli, 200);
  EXPECT_EQ(pods[0].metrics.at(control::HpaMetric::kRps).milli, 12500);
  EXPECT_TRUE(*pods[0].ready);
  EXPECT_FALSE(*pods[1].ready) << "starting: running, not ready";
  EXPECT_EQ(pods[1].metrics.count(control::HpaMetric::kRps), 0u) << "not in the gateway: missing";
  EXPECT_EQ(pods[2].phase, control::HpaPodPhase::kPending) << "backing off";
  EXPECT_TRUE(pods[3].deleting) << "draining";
  EXPECT_FALSE(loop.due(steady0 + 4s));
  EXPECT_TRUE(loop.due(steady0 + 5s)) << "the first evaluation one sync period after the start";
  // A replica gone from the backend is forgotten.
  loop.observe({replica("1", ReplicaPhase::kReady, 0.2)}, load, steady0 + 3s, wall0 + 3s);
  EXPECT_EQ(loop.pods("blue", "v1", wall0 + 3s).size(), 1u);
}

}  // namespace
}  // namespace sg::platform
