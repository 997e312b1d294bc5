// The engine's autoscaling on a fake backend and a simulated clock: per-track evaluation (a
// loaded canary scales, stable does not), the stabilization window honoured, precedence of
// the rollout, the spec surviving a restart, and off keeping the count.
#include "engine_fixture.hpp"

namespace sg::platform::test {
namespace {

control::HpaSpec rps_spec(double rps, int min, int max, int down_window) {
  control::HpaSpec s;
  s.min_replicas = min;
  s.max_replicas = max;
  s.metrics = {{control::HpaMetric::kRps, static_cast<std::int64_t>(rps * 1000)}};
  s.sync_period = 5s;
  s.behavior.scale_down.stabilization_window_seconds = down_window;
  return s;
}

class EngineAutoscaleTest : public EngineTest {
 protected:
  int desired(const std::string& track) { return engine_->status().tracks[track].desired; }
  std::string desired_by(const std::string& track) {
    return engine_->status().tracks[track].desired_by;
  }
  int events_containing(const std::string& text) {
    auto events = store_->events(10000);
    int n = 0;
    for (const auto& e : *events) n += e.message.find(text) != std::string::npos ? 1 : 0;
    return n;
  }
};

TEST_F(EngineAutoscaleTest, LoadScalesTheStableTrackUpAndTheWindowHoldsTheScaleDown) {
  ASSERT_NO_FATAL_FAILURE(start_serving_v1());
  ASSERT_TRUE(engine_->autoscale(rps_spec(10, 2, 6, 60)));
  backend_.organic_rps = 45;  // 22.5 per replica against 10: ceil(2 * 2.25) = 5
  ASSERT_TRUE(run_until([&] { return desired("blue") == 5; }, 30s));
  EXPECT_EQ(desired_by("blue"), "autoscaler");
  ASSERT_TRUE(run_until([&] { return engine_->status().tracks["blue"].ready == 5; }, 30s));
  auto st = engine_->status();
  ASSERT_TRUE(st.autoscaler);
  const HpaTrackView& blue = st.autoscaler->tracks.at("blue");
  EXPECT_EQ(blue.desired_replicas, 5);
  EXPECT_TRUE(blue.last_scale_time.has_value());
  EXPECT_GE(events_containing("New size: 5"), 1);

  backend_.organic_rps = 5;  // 1 per replica: the metric asks for the minimum
  const auto drop = clock_.steady();
  ASSERT_TRUE(run_until([&] { return desired("blue") == 2; }, 180s));
  const double held = std::chrono::duration<double>(clock_.steady() - drop).count();
  // The window runs from the last recommendation of 5, taken at most one sync period (5 s)
  // before the load dropped.
  EXPECT_GE(held, 60 - 5) << "the 60 s scale-down window was skipped";
  EXPECT_LE(held, 60 + 2 * 5 + 10) << "held longer than the window and two sync periods";
  st = engine_->status();
  EXPECT_EQ(st.autoscaler->tracks.at("blue").conditions.at(0).reason, "SucceededRescale");
}

TEST_F(EngineAutoscaleTest, RecentEvaluationsKeepTheInputsAndResultOfTheLastPasses) {
  ASSERT_NO_FATAL_FAILURE(start_serving_v1());
  ASSERT_TRUE(engine_->autoscale(rps_spec(10, 2, 6, 60)));
  backend_.organic_rps = 45;  // 22.5 per replica against 10: ceil(2 * 2.25) = 5
  auto recent = [&] {
    auto st = engine_->status();
    return st.autoscaler && st.autoscaler->tracks.count("blue") != 0
               ? st.autoscaler->tracks.at("blue").recent_evaluations
               : std::vector<HpaEvaluationView>{};
  };
  ASSERT_TRUE(run_until([&] { return desired("blue") == 5; }, 30s));
  std::vector<HpaEvaluationView> first = recent();
  ASSERT_FALSE(first.empty());
  const HpaEvaluationView& up = first.back();
  EXPECT_EQ(up.current_replicas, 2);
  EXPECT_EQ(up.min_replicas, 2);
  EXPECT_EQ(up.max_replicas, 6);
  ASSERT_EQ(up.metrics.size(), 1u);
  EXPECT_EQ(up.metrics[0].metric, "rps");
  EXPECT_DOUBLE_EQ(up.metrics[0].target, 10);
  ASSERT_TRUE(up.metrics[0].current.has_value());
  EXPECT_NEAR(*up.metrics[0].current, 22.5, 0.01);
  EXPECT_EQ(up.metrics[0].ready, 2);
  EXPECT_FALSE(up.metrics[0].recomputed);
  EXPECT_EQ(up.metric_replicas, 5);
  EXPECT_EQ(up.stabilized, 5);
  EXPECT_EQ(up.desired_replicas, 5);
  EXPECT_TRUE(up.rescale);

  // Bounded: after more passes than it keeps, the oldest are gone and the numbering has no
  // gaps; the newest is the last decision.
  const std::int64_t seen = up.seq;
  ASSERT_TRUE(run_until(
      [&] {
        auto r = recent();
        return !r.empty() && r.back().seq >= seen + static_cast<std::int64_t>(kRecentEvaluations);
      },
      600s));
  auto st = engine_->status();
  const HpaTrackView& blue = st.autoscaler->tracks.at("blue");
  ASSERT_EQ(blue.recent_evaluations.size(), kRecentEvaluations);
  for (std::size_t i = 1; i < blue.recent_evaluations.size(); ++i) {
    EXPECT_EQ(blue.recent_evaluations[i].seq, blue.recent_evaluations[i - 1].seq + 1);
  }
  EXPECT_GT(blue.recent_evaluations.front().seq, seen);
  ASSERT_TRUE(blue.last_decision.has_value());
  EXPECT_EQ(blue.recent_evaluations.back().at, blue.last_decision->at);
  EXPECT_EQ(blue.recent_evaluations.back().desired_replicas, blue.last_decision->desired_replicas);

  // What `sgctl get hpa -o json` prints reads back the same.
  auto back = status_from_json(to_json(st));
  ASSERT_TRUE(back) << back.error().message;
  const auto& again = back->autoscaler->tracks.at("blue").recent_evaluations;
  ASSERT_EQ(again.size(), kRecentEvaluations);
  EXPECT_EQ(again.back().seq, blue.recent_evaluations.back().seq);
  EXPECT_EQ(again.back().metrics.at(0).current, blue.recent_evaluations.back().metrics.at(0).current);
  EXPECT_EQ(again.back().metrics.at(0).recomputed,
            blue.recent_evaluations.back().metrics.at(0).recomputed);
  EXPECT_EQ(again.back().reason, blue.recent_evaluations.back().reason);
}

TEST_F(EngineAutoscaleTest, LoadedCanaryScalesOnItsOwnCpuAndStableDoesNot) {
  backend_.releases["v1"].cpu_seconds_per_request = 0.001;  // cheap
  backend_.releases["v2"].cpu_seconds_per_request = 0.02;   // the new version is expensive
  ASSERT_NO_FATAL_FAILURE(start_serving_v1());
  control::HpaSpec spec;
  spec.min_replicas = 2;
  spec.max_replicas = 8;
  spec.metrics = {{control::HpaMetric::kCpu, 70}};
  spec.cpu_request_millicores = 100;
  spec.sync_period = 5s;
  spec.behavior.scale_down.stabilization_window_seconds = 30;
  ASSERT_TRUE(engine_->autoscale(spec));
  backend_.organic_rps = 40;
  auto o = options(control::Strategy::kCanary, "v2");
  o.steps = {25, 100};
  o.step_interval_s = 600;
  ASSERT_TRUE(engine_->deploy(o));
  ASSERT_TRUE(run_until([&] { return backend_.applied_weights.count("canary") != 0; }, 60s));
  // Canary: 10 rps on 1 replica * 20 ms = 200 % of 100m against 70 %: ceil(1 * 200/70) = 3.
  // Stable: 30 rps on 2 replicas * 1 ms = 15 % each: stays at its minimum.
  ASSERT_TRUE(run_until([&] { return desired("canary") >= 3; }, 60s))
      << "canary desired " << desired("canary");
  for (int i = 0; i < 40; ++i) tick();
  EXPECT_EQ(desired("blue"), 2);
  const auto st = engine_->status();
  ASSERT_TRUE(st.autoscaler);
  EXPECT_EQ(st.autoscaler->tracks.count("canary"), 1u);
  EXPECT_EQ(st.autoscaler->tracks.at("blue").desired_replicas, 2);
  EXPECT_EQ(st.tracks.at("canary").desired_by, "rollout") << "the rollout keeps precedence";
  // After the rollout the canary goes away whatever the autoscaler said.
  ASSERT_TRUE(engine_->abort());
  ASSERT_TRUE(run_until([&] { return desired("canary") == 0; }, 30s));
}

TEST_F(EngineAutoscaleTest, AColourKeptWarmIsNeverScaledUp) {
  ASSERT_NO_FATAL_FAILURE(start_serving_v1());
  ASSERT_TRUE(engine_->autoscale(rps_spec(10, 2, 6, 30)));
  backend_.organic_rps = 15;  // 7.5 per replica: 2 is enough
  auto o = options(control::Strategy::kBlueGreen, "v2");
  o.scale_down_delay_s = 120;
  ASSERT_TRUE(engine_->deploy(o));
  ASSERT_TRUE(run_until([&] { return backend_.applied_weights.count("green") != 0; }, 120s));
  ASSERT_EQ(desired("blue"), 2);
  // Blue is kept warm (a claim that is not autoscalable) while green serves a load step.
  backend_.organic_rps = 60;
  for (int i = 0; i < 60; ++i) {
    tick();
    ASSERT_LE(desired("blue"), 2) << "the warm colour was scaled up";
  }
  EXPECT_EQ(desired("green"), 6) << "the serving colour scales: 30 per replica against 10";
}

TEST_F(EngineAutoscaleTest, SpecSurvivesARestartAndOffKeepsTheCount) {
  ASSERT_NO_FATAL_FAILURE(start_serving_v1());
  ASSERT_TRUE(engine_->autoscale(rps_spec(10, 2, 6, 300)));
  backend_.organic_rps = 60;
  ASSERT_TRUE(run_until([&] { return desired("blue") == 6; }, 60s));
  ASSERT_NO_FATAL_FAILURE(start_engine());  // a restarted control plane
  auto st = engine_->status();
  ASSERT_TRUE(st.autoscaler) << "the spec was not restored";
  EXPECT_EQ(st.autoscaler->max_replicas, 6);
  EXPECT_EQ(desired("blue"), 6) << "the recommendation survives too";
  const Status manual = engine_->scale(3);
  ASSERT_FALSE(manual) << "sgctl scale would be overridden at the next evaluation";
  EXPECT_EQ(manual.error().code, ErrorCode::kConflict);
  EXPECT_EQ(manual.error().message,
            "autoscaling is on (min 2, max 6): change its bounds with sgctl autoscale, or run "
            "sgctl autoscale off first");
  ASSERT_TRUE(engine_->autoscale(std::nullopt));
  EXPECT_FALSE(engine_->status().autoscaler);
  EXPECT_EQ(desired("blue"), 6);
  EXPECT_EQ(desired_by("blue"), "operator");
  backend_.organic_rps = 0;
  for (int i = 0; i < 40; ++i) tick();
  EXPECT_EQ(desired("blue"), 6) << "off means nobody scales";
  ASSERT_TRUE(engine_->scale(3)) << "off: the operator's count again";
  EXPECT_EQ(desired("blue"), 3);
  ASSERT_NO_FATAL_FAILURE(start_engine());
  EXPECT_FALSE(engine_->status().autoscaler) << "off survives a restart";
}

TEST_F(EngineAutoscaleTest, BadSpecIsRefusedAndChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(start_serving_v1());
  auto bad = rps_spec(10, 5, 3, 300);
  const Status st = engine_->autoscale(bad);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(st.error().message, "--max must be 5..50 (at least --min), got 3");
  EXPECT_FALSE(engine_->status().autoscaler);
}

}  // namespace
}  // namespace sg::platform::test
