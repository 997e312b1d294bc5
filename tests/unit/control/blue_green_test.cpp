#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control/rollout.hpp"
#include "traffic_sim.hpp"

namespace sg::control {
namespace {

using namespace std::chrono_literals;
using test::add_requests;
using test::empty_sample;
using test::Rng;

// A blue-green rollout on a simulated clock, one call per second. The new colour's replicas
// follow `ready_script` (ready count per second since they were started; the last entry holds)
// and answer the smoke test with `version`; once the route switched, `rps` requests a second
// go to it with the given error rate and latency.
struct BlueGreenSim {
  double rps = 50;
  double error_rate = 0;
  double latency = 0.02;
  std::vector<int> ready_script{0, 0, 0, 0, 0, 1, 2};
  std::optional<std::string> version = "v2";
  int desired = 0;
  std::optional<TimePoint> started_at, switched_at, switched_back_at;
  bool routed_to_new = false;
  TrafficSample traffic = empty_sample();
  Rng rng{9};
  std::vector<std::string> actions;
  std::vector<std::string> journal;
  ReplicaHealth health;            // of the new colour, as the backend would report it
  bool send_synthetic = false;     // carry out the decisions' synthetic_rps
  double planned_rps = 0;
  double synthetic_carry = 0;
  TrafficSample synthetic = empty_sample();
  const TimePoint t0 = TimePoint{} + 500000h;  // 2027
  TimePoint now = t0;

  BlueGreenObservation observe() {
    BlueGreenObservation obs;
    obs.desired_replicas = desired;
    if (started_at) {
      const auto s = std::chrono::duration_cast<std::chrono::seconds>(now - *started_at).count();
      obs.ready_replicas = ready_script[std::min<std::size_t>(s, ready_script.size() - 1)];
    }
    if (obs.ready_replicas > 0) obs.smoke_version = version;
    if (routed_to_new)
      add_requests(traffic, static_cast<std::uint64_t>(rps), error_rate, latency, rng);
    if (send_synthetic && routed_to_new) {
      const double n = planned_rps + synthetic_carry;
      const auto whole = static_cast<std::uint64_t>(n);
      synthetic_carry = n - static_cast<double>(whole);
      add_requests(synthetic, whole, error_rate, latency, rng);
    }
    obs.new_colour = traffic;
    obs.synthetic = synthetic;
    obs.organic_rps = routed_to_new ? rps : 0;
    obs.health = health;
    return obs;
  }

  void apply(const BlueGreenDecision& d) {
    planned_rps = d.synthetic_rps;
    std::string line =
        std::to_string(d.elapsed.count()) + "ms " + phase_name(d.phase) + " " + d.reason;
    for (const Action& a : d.actions) {
      actions.push_back(describe(a));
      line += " | " + describe(a);
      if (const auto* s = std::get_if<StartNewColour>(&a)) {
        desired = s->replicas;
        started_at = now;
      } else if (std::holds_alternative<SwitchRoute>(a)) {
        routed_to_new = true;
        switched_at = now;
      } else if (std::holds_alternative<SwitchBack>(a)) {
        routed_to_new = false;
        switched_back_at = now;
      }
    }
    journal.push_back(line);
  }

  BlueGreenDecision run(BlueGreenRollout& rollout, std::chrono::seconds limit = 3600s) {
    BlueGreenDecision d;
    while (now - t0 <= limit) {
      d = rollout.step(observe(), now);
      apply(d);
      if (d.finished) break;
      now += 1s;
    }
    return d;
  }
};

BlueGreenConfig fast_ready_config() {
  BlueGreenConfig c;
  c.ready_stability = 2s;
  return c;
}

TEST(BlueGreenRollout, HappyPathSwitchesVerifiesWaitsAndScalesDownOldColour) {
  BlueGreenSim sim;
  BlueGreenRollout rollout(fast_ready_config(), Colour::kBlue, "v2", 2);
  const BlueGreenDecision d = sim.run(rollout);
  EXPECT_EQ(d.result, RolloutResult::kPromoted) << d.reason;
  EXPECT_EQ(sim.actions,
            (std::vector<std::string>{"StartNewColour colour=green release=v2 replicas=2",
                                      "SwitchRoute to=green", "ScaleDown colour=blue"}));
  ASSERT_TRUE(sim.switched_at);
  // Verification 60 s (3000 requests at 50 rps: the 0.5 % SPRT passes after 1832), then the
  // old colour stays warm 300 s.
  EXPECT_EQ(sim.now - *sim.switched_at, 360s) << d.reason;
  EXPECT_EQ(d.evidence.outcome, Verdict::Outcome::kPass) << d.evidence.reason;
}

TEST(BlueGreenRollout, BadNewColourSwitchesBackWithinTheVerifyWindow) {
  BlueGreenSim sim;
  sim.error_rate = 0.05;
  BlueGreenRollout rollout(fast_ready_config(), Colour::kGreen, "v2", 2);
  const BlueGreenDecision d = sim.run(rollout);
  EXPECT_EQ(d.result, RolloutResult::kRolledBack) << d.reason;
  ASSERT_TRUE(sim.switched_at && sim.switched_back_at);
  const auto after = *sim.switched_back_at - *sim.switched_at;
  EXPECT_LE(after, 10s) << "switched back " << after.count() << " s after the switch";
  EXPECT_EQ(sim.actions.back(), "ScaleDown colour=blue") << "the new colour is scaled down";
  EXPECT_EQ(sim.actions[sim.actions.size() - 2], "SwitchBack to=green");
  EXPECT_NE(d.reason.find("error rate"), std::string::npos) << d.reason;
}

TEST(BlueGreenRollout, SlowNewColourSwitchesBack) {
  BlueGreenSim sim;
  sim.latency = 0.3;  // drawn in [150, 450) ms: 5/6 above 200 ms
  BlueGreenRollout rollout(fast_ready_config(), Colour::kBlue, "v2", 2);
  const BlueGreenDecision d = sim.run(rollout);
  EXPECT_EQ(d.result, RolloutResult::kRolledBack) << d.reason;
  EXPECT_NE(d.reason.find("slower than 200 ms"), std::string::npos) << d.reason;
  EXPECT_LE(*sim.switched_back_at - *sim.switched_at, 5s);
}

TEST(BlueGreenRollout, ReadinessTimeoutFailsAndNeverSwitches) {
  BlueGreenSim sim;
  sim.ready_script = {0, 1};  // one of two replicas never gets ready
  BlueGreenRollout rollout(BlueGreenConfig{}, Colour::kBlue, "v2", 2);
  const BlueGreenDecision d = sim.run(rollout);
  EXPECT_EQ(d.result, RolloutResult::kFailed) << d.reason;
  EXPECT_EQ(d.elapsed, 300s) << d.reason;
  EXPECT_FALSE(sim.switched_at) << "traffic moved to a colour that never got ready";
  EXPECT_NE(d.reason.find("1 of 2 replicas ready"), std::string::npos) << d.reason;
}

TEST(BlueGreenRollout, FlappingReplicaKeepsWaitingThenTimesOut) {
  BlueGreenSim sim;
  sim.ready_script.clear();
  for (int s = 0; s < 400; ++s) sim.ready_script.push_back(s % 4 < 3 ? 2 : 1);
  BlueGreenRollout rollout(BlueGreenConfig{}, Colour::kBlue, "v2", 2);
  const BlueGreenDecision d = sim.run(rollout);
  EXPECT_EQ(d.result, RolloutResult::kFailed) << d.reason;
  EXPECT_FALSE(sim.switched_at) << "a flapping colour (ready 3 s of every 4) got traffic";
}

TEST(BlueGreenRollout, SmokeTestWithWrongVersionFailsBeforeSwitch) {
  BlueGreenSim sim;
  sim.version = "v1";
  BlueGreenRollout rollout(fast_ready_config(), Colour::kBlue, "v2", 2);
  const BlueGreenDecision d = sim.run(rollout);
  EXPECT_EQ(d.result, RolloutResult::kFailed) << d.reason;
  EXPECT_FALSE(sim.switched_at);
  EXPECT_NE(d.reason.find("'v1', expected 'v2'"), std::string::npos) << d.reason;
}

// 0.5 % errors exactly (every 200th request) on the new colour is the blue-green threshold:
// not a pass, the route is switched back.
TEST(BlueGreenRollout, ErrorRateExactlyOnThresholdSwitchesBack) {
  BlueGreenSim sim;
  sim.rps = 200;
  BlueGreenRollout rollout(fast_ready_config(), Colour::kBlue, "v2", 2);
  BlueGreenDecision d;
  while (!d.finished) {
    BlueGreenObservation obs = sim.observe();
    obs.new_colour.errors = obs.new_colour.requests / 200;
    d = rollout.step(obs, sim.now);
    sim.apply(d);
    sim.now += 1s;
  }
  EXPECT_EQ(d.result, RolloutResult::kRolledBack) << d.reason;
}

TEST(BlueGreenRollout, ManualRollbackDuringScaleDownDelayIsAnInstantSwitchBack) {
  BlueGreenSim sim;
  BlueGreenRollout rollout(fast_ready_config(), Colour::kBlue, "v2", 2);
  sim.run(rollout, 150s);
  ASSERT_EQ(rollout.state().phase, BlueGreenPhase::kScaleDownDelay);
  const BlueGreenDecision d = rollout.rollback(sim.now);
  EXPECT_EQ(d.result, RolloutResult::kRolledBack);
  ASSERT_EQ(d.actions.size(), 2u);
  EXPECT_EQ(describe(d.actions[0]), "SwitchBack to=blue");
  EXPECT_EQ(describe(d.actions[1]), "ScaleDown colour=green");
  EXPECT_TRUE(rollout.rollback(sim.now).actions.empty()) << "a second rollback does nothing";
}

TEST(BlueGreenRollout, StateRoundTripsMidRolloutAndContinuesIdentically) {
  BlueGreenSim straight, resumed;
  BlueGreenRollout a(fast_ready_config(), Colour::kBlue, "v2", 2);
  auto b = std::make_unique<BlueGreenRollout>(fast_ready_config(), Colour::kBlue, "v2", 2);
  for (int s = 0; s < 1000; ++s) {
    if (s == 40) {  // verifying: persist, "restart", resume
      const Result<BlueGreenState> state = blue_green_state_from_map(to_map(b->state()));
      ASSERT_TRUE(state) << state.error().message;
      EXPECT_EQ(state->phase, BlueGreenPhase::kVerifying);
      b = std::make_unique<BlueGreenRollout>(fast_ready_config(), *state);
    }
    const BlueGreenDecision da = a.step(straight.observe(), straight.now);
    const BlueGreenDecision db = b->step(resumed.observe(), resumed.now);
    straight.apply(da);
    resumed.apply(db);
    ASSERT_EQ(straight.journal.back(), resumed.journal.back()) << "at second " << s;
    straight.now += 1s;
    resumed.now += 1s;
    if (da.finished) break;
  }
  EXPECT_EQ(a.state().result, RolloutResult::kPromoted);
  StateMap damaged = to_map(a.state());
  damaged["replicas"] = "two";
  EXPECT_FALSE(blue_green_state_from_map(damaged));
}

// An idle platform: no organic request reaches the new colour. The engine's synthetic GETs
// (at the rate each decision asks for) verify it within the window, and the evidence says
// every request behind the verdict was synthetic.
TEST(BlueGreenRollout, IdleNewColourIsVerifiedBySyntheticRequests) {
  BlueGreenSim sim;
  sim.rps = 0;
  sim.send_synthetic = true;
  BlueGreenRollout rollout(fast_ready_config(), Colour::kBlue, "v2", 2);
  BlueGreenDecision verified;
  const BlueGreenDecision d = [&] {
    BlueGreenDecision last;
    while (!last.finished && sim.now - sim.t0 <= 3600s) {
      last = rollout.step(sim.observe(), sim.now);
      sim.apply(last);
      if (last.phase == BlueGreenPhase::kScaleDownDelay && verified.reason.empty()) verified = last;
      sim.now += 1s;
    }
    return last;
  }();
  EXPECT_EQ(d.result, RolloutResult::kPromoted) << d.reason;
  ASSERT_FALSE(verified.reason.empty());
  double synthetic = -1, requests = -1;
  for (const auto& [k, v] : verified.evidence.evidence) {
    if (k == "synthetic_requests") synthetic = v;
    if (k == "requests") requests = v;
  }
  EXPECT_GE(synthetic, 1800) << "the 0.5 % SPRT needs ~1835 clean requests";
  EXPECT_EQ(synthetic, requests) << "all of them synthetic";
  EXPECT_NE(verified.reason.find("synthetic"), std::string::npos) << verified.reason;
  // The cap (50 rps) was never exceeded, and nothing was asked for after verification.
  EXPECT_LE(sim.synthetic.requests, 50u * 61u);
  EXPECT_EQ(sim.planned_rps, 0);
}

TEST(BlueGreenRollout, SyntheticRequestsAreNotSentWhenOrganicTrafficSuffices) {
  BlueGreenSim sim;  // 50 rps organic: 3000 requests in the 60 s window
  sim.send_synthetic = true;
  BlueGreenRollout rollout(fast_ready_config(), Colour::kBlue, "v2", 2);
  const BlueGreenDecision d = sim.run(rollout);
  EXPECT_EQ(d.result, RolloutResult::kPromoted) << d.reason;
  EXPECT_EQ(sim.synthetic.requests, 0u);
}

TEST(BlueGreenRollout, IdleNewColourWithoutSyntheticTrafficSwitchesBackForLackOfTraffic) {
  BlueGreenSim sim;
  sim.rps = 0;
  BlueGreenConfig c = fast_ready_config();
  c.synthetic.max_rps = 0;  // --synthetic-rps 0
  BlueGreenRollout rollout(c, Colour::kBlue, "v2", 2);
  const BlueGreenDecision d = sim.run(rollout);
  EXPECT_EQ(d.result, RolloutResult::kRolledBack) << d.reason;
  EXPECT_NE(d.reason.find("not enough traffic"), std::string::npos) << d.reason;
}

// A crash of a new-colour replica fails the rollout at the tick it is seen, in every phase:
// before the switch without moving traffic, after it by switching back; the evidence carries
// the exit reason and the log tail.
TEST(BlueGreenRollout, RestartOfTheNewColourFailsAtOnceInEveryPhase) {
  const struct {
    BlueGreenPhase crash_in;
    RolloutResult expect;
  } cases[] = {{BlueGreenPhase::kWaitingReady, RolloutResult::kFailed},
               {BlueGreenPhase::kSmokeTest, RolloutResult::kFailed},
               {BlueGreenPhase::kVerifying, RolloutResult::kRolledBack},
               {BlueGreenPhase::kScaleDownDelay, RolloutResult::kRolledBack}};
  for (const auto& c : cases) {
    BlueGreenSim sim;
    sim.version = std::nullopt;  // the smoke test waits, so it can be reached
    BlueGreenRollout rollout(fast_ready_config(), Colour::kBlue, "v2", 2);
    BlueGreenDecision d;
    bool crashed = false;
    for (int s = 0; s < 1000 && !d.finished; ++s) {
      if (rollout.state().phase == BlueGreenPhase::kSmokeTest &&
          c.crash_in != BlueGreenPhase::kSmokeTest) {
        sim.version = "v2";
      }
      if (rollout.state().phase == c.crash_in && !crashed) {
        crashed = true;
        sim.health.restarts = 1;
        sim.health.last_exit = ReplicaExit{"green/v2 127.0.0.1:4001", "signal 9 (Killed)",
                                           "{\"msg\":\"about to die\"}"};
      }
      d = rollout.step(sim.observe(), sim.now);
      sim.apply(d);
      if (crashed) break;
      sim.now += 1s;
    }
    ASSERT_TRUE(crashed) << phase_name(c.crash_in);
    EXPECT_TRUE(d.finished) << phase_name(c.crash_in) << ": " << d.reason;
    EXPECT_EQ(d.result, c.expect) << phase_name(c.crash_in) << ": " << d.reason;
    EXPECT_NE(d.reason.find("signal 9 (Killed)"), std::string::npos) << d.reason;
    bool has_log = false;
    for (const auto& [k, v] : d.evidence.details) has_log = has_log || (k == "log_tail" && !v.empty());
    EXPECT_TRUE(has_log) << phase_name(c.crash_in);
    EXPECT_EQ(sim.actions.back(), "ScaleDown colour=green") << phase_name(c.crash_in);
  }
}

TEST(BlueGreenRollout, RestartBudgetAllowsThatManyRestarts) {
  BlueGreenSim sim;
  BlueGreenConfig c = fast_ready_config();
  c.health.max_restarts = 1;
  sim.health.restarts = 1;
  BlueGreenRollout rollout(c, Colour::kBlue, "v2", 2);
  const BlueGreenDecision d = sim.run(rollout);
  EXPECT_EQ(d.result, RolloutResult::kPromoted) << d.reason;
}

TEST(BlueGreenRollout, ManualPromoteOnlyAfterVerification) {
  BlueGreenSim sim;
  BlueGreenRollout rollout(fast_ready_config(), Colour::kBlue, "v2", 2);
  sim.run(rollout, 30s);
  ASSERT_EQ(rollout.state().phase, BlueGreenPhase::kVerifying);
  const BlueGreenDecision early = rollout.promote(sim.now);
  EXPECT_FALSE(early.finished);
  EXPECT_TRUE(early.actions.empty());
  EXPECT_NE(early.reason.find("only after verification"), std::string::npos) << early.reason;
  sim.run(rollout, 120s);
  ASSERT_EQ(rollout.state().phase, BlueGreenPhase::kScaleDownDelay);
  const BlueGreenDecision p = rollout.promote(sim.now);
  EXPECT_EQ(p.result, RolloutResult::kPromoted);
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(describe(p.actions[0]), "ScaleDown colour=blue");
}

TEST(BlueGreenRollout, StateOfAnOlderFormatIsRefusedNotThrown) {
  StateMap old = to_map(BlueGreenState{});
  old.erase("version");
  const Result<BlueGreenState> r = blue_green_state_from_map(old);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("state format 1"), std::string::npos) << r.error().message;
  BlueGreenState s;
  s.replicas = 0;
  EXPECT_FALSE(BlueGreenRollout::resume(BlueGreenConfig{}, s));
}

}  // namespace
}  // namespace sg::control
