// Rollout state machines: blue-green and canary. Pure and deterministic: each call takes an
// observation and the current time and returns a decision (actions for the backend to carry
// out, the phase, the evidence); the machine never reads a clock and never does I/O, so tests
// drive whole rollouts on a simulated clock in milliseconds.
//
// Contract with the caller (the engine, on one thread):
//  * Call step(observation, now) every few seconds; `now` must not go backwards.
//  * Carry out decision.actions in order. Each action is idempotent (setting weights, scaling to
//    a count) so a re-sent action after a restart is harmless. Every wait (replicas ready, a
//    promotion's new stable ready, its deadline) is a phase of the machine, not of the caller.
//  * Journal every decision (reason + evidence) and persist state() once its actions are carried
//    out (a crash in between re-runs the same call, and the actions are idempotent): the state
//    is a plain struct serialisable to a string map, so a restarted control plane resumes with
//    CanaryRollout(config, state). Time points are wall-clock (system_clock, stored as Unix
//    milliseconds), so a rollout resumed after a reboot still knows how long its phase ran;
//    the caller keeps `now` from going backwards when the wall clock steps back.
//  * TrafficSample observations should hold counts cumulated since the track's first request
//    in this rollout (see judge.hpp for why: that is what the stated false-alarm rate assumes).
//  * Observations carry the new version's replica health (restarts, readiness flaps; see
//    replica_health.hpp), judged in every phase: a crash fails the rollout at once.
//  * Verification without users: each decision says at what rate the caller should send
//    synthetic GETs to the new version (synthetic_rps, see synthetic.hpp); the observation
//    carries what they measured (synthetic) apart from organic traffic, and the judge weighs
//    both together, the evidence saying how many were synthetic.
//
// Readiness. "Ready" means ready_replicas >= desired_replicas > 0, held for ready_stability
// (10 s) without interruption: a replica that flaps (passes, fails, passes its health check)
// restarts that wait, so a flapping release times out instead of receiving traffic.
//
// Insufficient traffic. A step (or the blue-green verification window) ends only on a kPass
// verdict. While the verdict stays kInconclusive the step is extended, up to
// max_inconclusive_extension; then the rollout is rolled back: fail-safe, since a release
// nobody could measure was never shown to be healthy. With synthetic traffic on (the
// default) a thin organic load is topped up, so low traffic alone does not end there; only a
// sample whose rate sits between the judge's pass and fail sides does ("inconclusive").
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
#include "control/replica_health.hpp"
#include "control/synthetic.hpp"

namespace sg::control {

using TimePoint = std::chrono::system_clock::time_point;
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
using Action = std::variant<StartNewColour, SwitchRoute, SwitchBack, ScaleDown, StartCanary,
                            SetWeights, ScaleCanary>;
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
  HealthBudget health{};
  SyntheticConfig synthetic{};
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
  ReplicaHealth health;                      // of the new colour's replicas
  std::optional<std::string> smoke_version;  // version in the new colour's health answer
  TrafficSample new_colour;                  // the new colour's organic traffic since the switch
  TrafficSample synthetic;                   // synthetic requests to it since the switch
  double organic_rps = 0;                    // its organic request rate now
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
  double synthetic_rps = 0;              // synthetic GETs per second to send to the new colour
};

class BlueGreenRollout {
 public:
  // A new rollout of `release` onto the colour other than `active`.
  BlueGreenRollout(BlueGreenConfig config, Colour active, std::string release, int replicas);
  // Resumes a persisted rollout.
  BlueGreenRollout(BlueGreenConfig config, BlueGreenState state);
  static Result<BlueGreenRollout> resume(BlueGreenConfig config, BlueGreenState state);
  // A stretch nobody drove the rollout (the control plane down, a Lease changing hands): a
  // measuring phase's clock resumes where it stopped, so a step is not judged short of the
  // time it was never driven. Waits on the platform (readiness, promotion) are not paused.
  void pause_clock(std::chrono::milliseconds undriven);

  BlueGreenDecision step(const BlueGreenObservation& observation, TimePoint now);
  // Manual rollback: switch back if the route moved, scale the new colour down.
  BlueGreenDecision rollback(TimePoint now, const std::string& why = "rolled back by operator");
  BlueGreenDecision abort(TimePoint now) { return rollback(now, "aborted by operator"); }
  // Manual promote: once verified (scale-down delay), scale the old colour down now. Ignored
  // (no actions, not finished) in any other phase.
  BlueGreenDecision promote(TimePoint now);

  const BlueGreenState& state() const { return state_; }

 private:
  std::optional<BlueGreenDecision> check_health(const BlueGreenObservation& obs, TimePoint now);
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
// A step ends after step_duration on a kPass verdict. After the last step (or a manual
// promote): promotion. The idle colour starts the release with the stable replica count
// while the canary keeps serving (still judged); once those replicas are ready (held for
// ready_stability) one route change sends all traffic to them (SwitchRoute), and the old
// colour and the canary are scaled to zero. If they are not ready within promotion_timeout,
// or crash, the rollout rolls back: stable 100, canary and the new colour scaled to zero.

struct CanaryConfig {
  std::vector<int> steps{5, 10, 25, 50, 100};  // canary weight per step, increasing, 1..100
  std::chrono::seconds step_duration{60};
  std::chrono::seconds readiness_timeout{300};
  std::chrono::seconds ready_stability{10};
  std::chrono::seconds max_inconclusive_extension{120};  // 2 x step_duration
  std::chrono::seconds promotion_timeout{300};           // the new stable's readiness
  JudgeConfig judge{};
  HealthBudget health{};
  SyntheticConfig synthetic{};
};
// Ok, or what is wrong with the config (empty steps, weights not increasing in 1..100, ...).
Status validate(const CanaryConfig& config);

enum class CanaryPhase {
  kStartingCanary,  // not started: the first step starts the canary replicas
  kWaitingReady,
  kStep,       // weight steps[step_index]
  kPromoting,  // the idle colour starts the release as the new stable; the canary serves
  kDone,       // promoted
  kRolledBack,
  kFailed,
};
const char* phase_name(CanaryPhase phase);

struct CanaryObservation {
  int desired_replicas = 0;             // of the canary track
  int ready_replicas = 0;               // of the canary track
  ReplicaHealth health;                 // of the canary's replicas
  TrafficSample canary;                 // organic, since the canary's first request
  std::optional<TrafficSample> stable;  // same window, for the comparison
  TrafficSample synthetic;              // synthetic requests to the canary
  double organic_rps = 0;               // the canary's organic request rate now
  // During promotion: the idle colour's replicas of the release (the new stable).
  int promotion_desired = 0;
  int promotion_ready = 0;
  ReplicaHealth promotion_health;
};

struct CanaryState {
  CanaryPhase phase = CanaryPhase::kStartingCanary;
  std::string release;
  int replicas = 1;                // canary replicas
  Colour active = Colour::kBlue;   // the stable colour before the rollout
  int stable_replicas = 1;         // the new stable's replicas at promotion
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
  double synthetic_rps = 0;                   // synthetic GETs per second to send to the canary
};

class CanaryRollout {
 public:
  // `config` must pass validate(). `active` serves as stable now, with `stable_replicas`.
  CanaryRollout(CanaryConfig config, std::string release, int replicas, Colour active,
                int stable_replicas);
  CanaryRollout(CanaryConfig config, CanaryState state);
  // Resumes a persisted rollout; an error (never an exception) when `state` does not fit
  // `config` (e.g. a step beyond the configured steps).
  static Result<CanaryRollout> resume(CanaryConfig config, CanaryState state);
  // A stretch nobody drove the rollout (the control plane down, a Lease changing hands): a
  // measuring phase's clock resumes where it stopped, so a step is not judged short of the
  // time it was never driven. Waits on the platform (readiness, promotion) are not paused.
  void pause_clock(std::chrono::milliseconds undriven);

  CanaryDecision step(const CanaryObservation& observation, TimePoint now);
  // Manual promote: skip the remaining steps (only once the canary is ready and in a step).
  CanaryDecision promote(TimePoint now);
  // Manual abort: weight 0 at once, canary (and a promotion's new colour) scaled to zero.
  CanaryDecision abort(TimePoint now, const std::string& why = "aborted by operator");

  const CanaryState& state() const { return state_; }

 private:
  CanaryDecision wait_ready(const CanaryObservation& obs, TimePoint now);
  CanaryDecision run_step(const CanaryObservation& obs, TimePoint now);
  CanaryDecision promoting(const CanaryObservation& obs, TimePoint now);
  CanaryDecision advance(TimePoint now, const Verdict& verdict);
  CanaryDecision begin_promotion(TimePoint now, std::string why, const Verdict& verdict);
  Verdict judge_canary(const CanaryObservation& obs) const;
  CanaryDecision decision(TimePoint now, std::string reason, const Verdict& evidence = {}) const;
  CanaryDecision finish(TimePoint now, RolloutResult result, std::string reason,
                        std::vector<Action> actions, const Verdict& evidence = {});
  CanaryDecision roll_back(TimePoint now, std::string reason, const Verdict& evidence = {});
  std::string step_label() const;

  CanaryConfig config_;
  CanaryState state_;
};

}  // namespace sg::control
