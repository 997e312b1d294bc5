// A control plane that dies mid-rollout (the engine destroyed without shutdown: its backend
// keeps running, like processes in their own sessions) and a new one on the same state:
// the rollout resumes from every persisted phase and ends as it would have; state it cannot
// use is rolled back to the release from before, never thrown.
#include "engine_fixture.hpp"

namespace sg::platform::test {
namespace {

using control::Strategy;

struct ResumeCase {
  const char* name;
  Strategy strategy;
  const char* phase;  // the phase in which the control plane dies
};

class EngineResumeTest : public EngineTest, public ::testing::WithParamInterface<ResumeCase> {};

TEST_P(EngineResumeTest, ResumesAndEndsAsIfNothingHappened) {
  backend_.organic_rps = 400;
  ASSERT_NO_FATAL_FAILURE(start_serving_v1());
  auto o = options(GetParam().strategy, "v2");
  o.scale_down_delay_s = 20;
  o.step_interval_s = 10;  // step 1 has room for the 3 s the control plane is down
  ASSERT_TRUE(engine_->deploy(o));
  ASSERT_TRUE(run_until([&] { return in_phase(GetParam().phase); })) << GetParam().phase;
  const std::int64_t id = last_deployment().id;
  engine_.reset();           // SIGKILL: no shutdown, the backend keeps serving
  clock_.advance(3s);        // the control plane is down a while
  ASSERT_NO_FATAL_FAILURE(start_engine());
  auto st = engine_->status();
  ASSERT_TRUE(st.rollout) << "not resumed";
  EXPECT_EQ(st.rollout->id, id);
  const DeploymentView d = finish_rollout();
  EXPECT_EQ(d.id, id);
  EXPECT_EQ(d.result, "promoted") << d.reason;
  EXPECT_EQ(engine_->status().active_release, "v2");
  EXPECT_FALSE(backend_.shut_down);
  const std::string active = engine_->status().active_colour;
  EXPECT_EQ(backend_.applied_weights, (std::map<std::string, int>{{active, 100}}));
  EXPECT_EQ(backend_.targets["canary"].replicas, 0);
  EXPECT_EQ(backend_.targets[active == "blue" ? "green" : "blue"].replicas, 0);
}

INSTANTIATE_TEST_SUITE_P(
    Phases, EngineResumeTest,
    ::testing::Values(ResumeCase{"BlueGreenWaitingReady", Strategy::kBlueGreen, "waiting_ready"},
                      ResumeCase{"BlueGreenSmokeTest", Strategy::kBlueGreen, "smoke_test"},
                      ResumeCase{"BlueGreenVerifying", Strategy::kBlueGreen, "verifying"},
                      ResumeCase{"BlueGreenScaleDownDelay", Strategy::kBlueGreen,
                                 "scale_down_delay"},
                      ResumeCase{"CanaryWaitingReady", Strategy::kCanary, "waiting_ready"},
                      ResumeCase{"CanaryStep", Strategy::kCanary, "step"},
                      ResumeCase{"CanaryPromoting", Strategy::kCanary, "promoting"}),
    [](const auto& info) { return std::string(info.param.name); });

// A rollout whose stored state cannot be used (damaged, or written by an older sgctl) is
// rolled back on resume: traffic on the colour running the release from before, every claim
// released, the reason recorded.
TEST_F(EngineTest, UnusableStoredStateIsRolledBackSafelyOnResume) {
  backend_.organic_rps = 400;
  ASSERT_NO_FATAL_FAILURE(start_serving_v1());
  ASSERT_TRUE(engine_->deploy(options(Strategy::kCanary, "v2")));
  ASSERT_TRUE(run_until([&] { return in_phase("step"); }));
  engine_.reset();
  auto open = store_->open_deployment();
  ASSERT_TRUE(open && *open);
  DeploymentRecord damaged = **open;
  damaged.state = R"({"strategy":"canary","phase":"step"})";  // the old format, no version
  ASSERT_TRUE(store_->update_deployment(damaged));
  ASSERT_NO_FATAL_FAILURE(start_engine());
  EXPECT_FALSE(engine_->status().rollout.has_value());
  const DeploymentView d = last_deployment();
  EXPECT_EQ(d.result, "rolled_back");
  EXPECT_NE(d.reason.find("could not resume"), std::string::npos) << d.reason;
  tick();
  EXPECT_EQ(backend_.applied_weights, (std::map<std::string, int>{{"blue", 100}}));
  EXPECT_EQ(backend_.targets["canary"].replicas, 0);
  EXPECT_TRUE(backend_.targets["canary"].move_sessions) << "rolled back: its viewers move";
  EXPECT_EQ(backend_.targets["blue"], (control::TrackTarget{"v1", 2}));
  // The mark is persisted with the targets: a restarted engine still moves them at once.
  engine_.reset();
  ASSERT_NO_FATAL_FAILURE(start_engine());
  tick();
  EXPECT_TRUE(backend_.targets["canary"].move_sessions);
}

// A new gateway process counts from zero: the rollout's baseline restarts with it instead of
// reading a counter reset as negative traffic.
TEST_F(EngineTest, GatewayRestartMidRolloutRestartsTheMeasurements) {
  backend_.organic_rps = 400;
  ASSERT_NO_FATAL_FAILURE(start_serving_v1());
  ASSERT_TRUE(engine_->deploy(options(Strategy::kCanary, "v2")));
  ASSERT_TRUE(run_until([&] { return in_phase("step"); }));
  backend_.restart_gateway();
  const DeploymentView d = finish_rollout();
  EXPECT_EQ(d.result, "promoted") << d.reason;
  auto events = store_->events(1000);
  ASSERT_TRUE(events);
  bool reset = false;
  for (const auto& e : *events) {
    reset = reset || e.message.find("measurements start again from zero") != std::string::npos;
  }
  EXPECT_TRUE(reset);
}

}  // namespace
}  // namespace sg::platform::test
