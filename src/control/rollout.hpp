// Rollout state machines: blue-green and canary. Pure and deterministic: each call takes an
// observation and the current time and returns a decision (actions for the backend to carry
// out, the phase, the evidence); the machine never reads a clock and never does I/O, so tests
// drive whole rollouts on a simulated clock in milliseconds.
//
// Contract with the caller (a backend, on one thread):
//  * Call step(observation, now) every few seconds; `now` must not go backwards.
//  * Carry out decision.actions in order. Each action is idempotent (setting weights, scaling to
//    a count) so a re-sent action after a restart is harmless. UpdateStable completes (stable
//    replicas on the new release ready) before the next action moves traffic back to stable.
//  * Journal every decision (reason + evidence) and persist state() once its actions are carried
//    out (a crash in between re-runs the same call, and the actions are idempotent): the state
//    is a plain struct serialisable to a string map, so a restarted control plane resumes with
//    CanaryRollout(config, state). Time points are stored as std::chrono::steady_clock ticks
//    (CLOCK_MONOTONIC on Linux: valid across process restarts, not across reboots).
//  * TrafficSample observations should hold counts cumulated since the track's first request
//    in this rollout (see judge.hpp for why: that is what the stated false-alarm rate assumes).
//
// Readiness. "Ready" means ready_replicas >= desired_replicas > 0, held for ready_stability
// (10 s) without interruption: a replica that flaps (passes, fails, passes its health check)
// restarts that wait, so a flapping release times out instead of receiving traffic.
//
// Insufficient traffic. A step (or the blue-green verification window) ends only on a kPass
// verdict. While the verdict stays kInconclusive the step is extended, up to
// max_inconclusive_extension; then the rollout is rolled back ("not enough traffic"):
// fail-safe, since a release nobody could measure was never shown to be healthy.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/result.hpp"
#include "control/analysis_types.hpp"
#include "control/judge.hpp"

namespace sg::control {

using TimePoint = std::chrono::steady_clock::time_point;
using StateMap = std::map<std::string, std::string>;

enum class Colour { kBlue, kGreen };
const char* colour_name(Colour colour);
Colour other(Colour colour);

// Actions for the backend. Absence of actions means "nothing to do now".
struct StartNewColour {  // start `replicas` replicas of `release` as `colour` (idle, no traffic)
  Colour colour;
  std::string release;
  int replicas;
};
struct SwitchRoute {  // route 100 % of traffic to `to`, atomically
  Colour to;
};
struct SwitchBack {  // route 100 % of traffic back to the previous colour `to`, atomically
  Colour to;
};
struct ScaleDown {  // scale `colour` to zero replicas (after draining it)
  Colour colour;
};
struct StartCanary {  // start `replicas` replicas of `release` on the canary track
  std::string release;
  int replicas;
};
struct SetWeights {  // stable + canary == 100
  int stable;
  int canary;
};
struct ScaleCanary {  // scale the canary track to `replicas` (0: drain and stop)
  int replicas;
};
struct UpdateStable {  // the stable track takes `release` (completes when it is ready)
  std::string release;
};
using Action = std::variant<StartNewColour, SwitchRoute, SwitchBack, ScaleDown, StartCanary,
                            SetWeights, ScaleCanary, UpdateStable>;
// One line for the journal: "SetWeights stable=95 canary=5".
std::string describe(const Action& action);

enum class RolloutResult { kInProgress, kPromoted, kRolledBack, kFailed };
const char* result_name(RolloutResult result);

// ---------------------------------------------------------------------------------------------
// Blue-green: start the idle colour with the new release, wait until ready, smoke test (the new
// colour's health answer carries the expected version), switch the route, verify with the judge
// for verify_window, keep the old colour warm for scale_down_delay (an automatic or manual
// rollback is an instant switch back), then scale the old colour down. A failure before the
// switch ends kFailed (the new colour is scaled down; traffic never moved); a failure after it
// switches back and ends kRolledBack.

struct BlueGreenConfig {
  std::chrono::seconds readiness_timeout{300};
  std::chrono::seconds ready_stability{10};
  std::chrono::seconds smoke_timeout{60};
  std::chrono::seconds verify_window{60};
  std::chrono::seconds max_inconclusive_extension{120};
  std::chrono::seconds scale_down_delay{300};
  JudgeConfig judge{.max_error_rate = 0.005, .max_latency_seconds = 0.2};
};

enum class BlueGreenPhase {
  kDeployingIdle,   // not started: the first step starts the new colour
  kWaitingReady,    // new colour's replicas starting
  kSmokeTest,       // asking the new colour's health endpoint for its version
  kVerifying,       // route switched; judging the new colour's traffic
  kScaleDownDelay,  // verified; old colour kept warm, still judging
  kDone,            // promoted, old colour scaled down
  kRolledBack,
  kFailed,
};
const char* phase_name(BlueGreenPhase phase);

struct BlueGreenObservation {
  int desired_replicas = 0;                  // of the new colour
  int ready_replicas = 0;                    // of the new colour
  std::optional<std::string> smoke_version;  // version in the new colour's health answer
  TrafficSample new_colour;                  // the new colour's traffic since the switch
};

struct BlueGreenState {
  BlueGreenPhase phase = BlueGreenPhase::kDeployingIdle;
  Colour active = Colour::kBlue;  // the colour serving before the rollout
  std::string release;            // the new release
  int replicas = 1;
  RolloutResult result = RolloutResult::kInProgress;
  std::string reason;
  TimePoint started{};
  TimePoint phase_started{};
  std::optional<TimePoint> ready_since;  // all replicas ready, uninterrupted, since
};
StateMap to_map(const BlueGreenState& state);
Result<BlueGreenState> blue_green_state_from_map(const StateMap& map);

struct BlueGreenDecision {
  std::vector<Action> actions;
  BlueGreenPhase phase = BlueGreenPhase::kDeployingIdle;
  bool finished = false;
  RolloutResult result = RolloutResult::kInProgress;
  std::string reason;
  Verdict evidence;                      // the latest judge verdict (empty before the switch)
  std::chrono::milliseconds elapsed{0};  // since the rollout started
};

class BlueGreenRollout {
 public:
  // A new rollout of `release` onto the colour other than `active`.
  BlueGreenRollout(BlueGreenConfig config, Colour active, std::string release, int replicas);
  // Resumes a persisted rollout.
  BlueGreenRollout(BlueGreenConfig config, BlueGreenState state);

  BlueGreenDecision step(const BlueGreenObservation& observation, TimePoint now);
  // Manual rollback: switch back if the route moved, scale the new colour down.
  BlueGreenDecision rollback(TimePoint now, const std::string& why = "rolled back by operator");
  BlueGreenDecision abort(TimePoint now) { return rollback(now, "aborted by operator"); }

  const BlueGreenState& state() const { return state_; }

 private:
  BlueGreenDecision wait_ready(const BlueGreenObservation& obs, TimePoint now);
  BlueGreenDecision smoke_test(const BlueGreenObservation& obs, TimePoint now);
  BlueGreenDecision verify(const BlueGreenObservation& obs, TimePoint now);
  BlueGreenDecision decision(TimePoint now, std::string reason, const Verdict& evidence = {}) const;
  BlueGreenDecision finish(TimePoint now, RolloutResult result, std::string reason,
                           std::vector<Action> actions, const Verdict& evidence = {});
  void enter(BlueGreenPhase phase, TimePoint now);

  BlueGreenConfig config_;
  BlueGreenState state_;
};

// ---------------------------------------------------------------------------------------------
// Canary: start canary replicas, wait until ready, then shift weight through `steps`, judging
// the canary continuously (every call). kFail rolls back at once (weight 0, canary scaled to 0).
// A step ends after step_duration on a kPass verdict. After the last step: promote (stable
// takes the release, weights back to stable 100, canary scaled to zero).

struct CanaryConfig {
  std::vector<int> steps{5, 10, 25, 50, 100};  // canary weight per step, increasing, 1..100
  std::chrono::seconds step_duration{60};
  std::chrono::seconds readiness_timeout{300};
  std::chrono::seconds ready_stability{10};
  std::chrono::seconds max_inconclusive_extension{120};  // 2 x step_duration
  JudgeConfig judge{};
};
// Ok, or what is wrong with the config (empty steps, weights not increasing in 1..100, ...).
Status validate(const CanaryConfig& config);

enum class CanaryPhase {
  kStartingCanary,  // not started: the first step starts the canary replicas
  kWaitingReady,
  kStep,       // weight steps[step_index]
  kPromoting,  // UpdateStable, SetWeights{100, 0}, ScaleCanary{0} ordered; next step: kDone
  kDone,       // promoted
  kRolledBack,
  kFailed,
};
const char* phase_name(CanaryPhase phase);

struct CanaryObservation {
  int desired_replicas = 0;             // of the canary track
  int ready_replicas = 0;               // of the canary track
  TrafficSample canary;                 // since the canary's first request
  std::optional<TrafficSample> stable;  // same window, for the comparison
};

struct CanaryState {
  CanaryPhase phase = CanaryPhase::kStartingCanary;
  std::string release;
  int replicas = 1;
  std::size_t step_index = 0;
  int canary_weight = 0;  // the weight last ordered
  RolloutResult result = RolloutResult::kInProgress;
  std::string reason;
  TimePoint started{};
  TimePoint phase_started{};  // of the current phase, or of the current step
  std::optional<TimePoint> ready_since;
};
StateMap to_map(const CanaryState& state);
Result<CanaryState> canary_state_from_map(const StateMap& map);

struct CanaryDecision {
  std::vector<Action> actions;
  CanaryPhase phase = CanaryPhase::kStartingCanary;
  std::size_t step_index = 0;
  int canary_weight = 0;
  bool finished = false;
  RolloutResult result = RolloutResult::kInProgress;
  std::string reason;
  Verdict evidence;
  std::chrono::milliseconds elapsed{0};       // since the rollout started
  std::chrono::milliseconds step_elapsed{0};  // since the current step started
};

class CanaryRollout {
 public:
  // `config` must pass validate().
  CanaryRollout(CanaryConfig config, std::string release, int replicas);
  CanaryRollout(CanaryConfig config, CanaryState state);

  CanaryDecision step(const CanaryObservation& observation, TimePoint now);
  // Manual promote: skip the remaining steps (only once the canary is ready and in a step).
  CanaryDecision promote(TimePoint now);
  // Manual abort: weight 0 at once, canary scaled to zero.
  CanaryDecision abort(TimePoint now, const std::string& why = "aborted by operator");

  const CanaryState& state() const { return state_; }

 private:
  CanaryDecision wait_ready(const CanaryObservation& obs, TimePoint now);
  CanaryDecision run_step(const CanaryObservation& obs, TimePoint now);
  CanaryDecision advance(TimePoint now, const Verdict& verdict);
  CanaryDecision decision(TimePoint now, std::string reason, const Verdict& evidence = {}) const;
  CanaryDecision finish(TimePoint now, RolloutResult result, std::string reason,
                        std::vector<Action> actions, const Verdict& evidence = {});
  CanaryDecision roll_back(TimePoint now, std::string reason, const Verdict& evidence = {});
  std::string step_label() const;

  CanaryConfig config_;
  CanaryState state_;
};

}  // namespace sg::control
