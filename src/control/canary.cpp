#include <stdexcept>
#include <utility>

#include "control/rollout.hpp"
#include "control/rollout_internal.hpp"

namespace sg::control {

const char* phase_name(CanaryPhase phase) {
  switch (phase) {
    case CanaryPhase::kStartingCanary:
      return "starting_canary";
    case CanaryPhase::kWaitingReady:
      return "waiting_ready";
    case CanaryPhase::kStep:
      return "step";
    case CanaryPhase::kPromoting:
      return "promoting";
    case CanaryPhase::kDone:
      return "done";
    case CanaryPhase::kRolledBack:
      return "rolled_back";
    case CanaryPhase::kFailed:
      return "failed";
  }
  return "failed";
}

Status validate(const CanaryConfig& c) {
  auto bad = [](const std::string& what) {
    return Status(make_error(ErrorCode::kInvalidArgument, "canary config: " + what));
  };
  if (c.steps.empty()) return bad("steps is empty; give weights such as 5,10,25,50,100");
  int previous = 0;
  for (int w : c.steps) {
    if (w <= previous || w > 100) {
      return bad("steps must increase strictly within 1..100, got " + std::to_string(w) +
                 " after " + std::to_string(previous));
    }
    previous = w;
  }
  if (c.step_duration.count() <= 0) return bad("step duration must be > 0 s");
  if (c.readiness_timeout.count() <= 0) return bad("readiness timeout must be > 0 s");
  const JudgeConfig& j = c.judge;
  if (!(j.max_error_rate > 0 && j.max_error_rate < 0.5)) {
    return bad("max error rate must be in (0, 0.5)");
  }
  if (!(j.latency_quantile > 0.5 && j.latency_quantile < 1)) {
    return bad("latency quantile must be in (0.5, 1)");
  }
  if (!(j.alpha > 0 && j.alpha < 0.5 && j.beta > 0 && j.beta < 0.5)) {
    return bad("alpha and beta must be in (0, 0.5)");
  }
  return Status::ok();
}

void CanaryRollout::pause_clock(std::chrono::milliseconds undriven) {
  // Only a step measures; the other phases wait for the cluster, which went on meanwhile.
  if (undriven <= std::chrono::milliseconds(0) || state_.phase != CanaryPhase::kStep) return;
  state_.phase_started += undriven;
}

CanaryRollout::CanaryRollout(CanaryConfig config, std::string release, int replicas,
                             Colour active, int stable_replicas)
    : config_(std::move(config)) {
  if (const Status s = validate(config_); !s) throw std::invalid_argument(s.error().message);
  if (replicas <= 0 || stable_replicas <= 0) {
    throw std::invalid_argument("canary rollout needs replicas > 0");
  }
  state_.release = std::move(release);
  state_.replicas = replicas;
  state_.active = active;
  state_.stable_replicas = stable_replicas;
}

Result<CanaryRollout> CanaryRollout::resume(CanaryConfig config, CanaryState state) {
  if (const Status s = validate(config); !s) return s.error();
  if (state.step_index >= config.steps.size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "canary state: step " + std::to_string(state.step_index + 1) +
                          " is beyond the " + std::to_string(config.steps.size()) +
                          " configured steps");
  }
  return CanaryRollout(std::move(config), std::move(state));
}

CanaryRollout::CanaryRollout(CanaryConfig config, CanaryState state)
    : config_(std::move(config)), state_(std::move(state)) {
  if (const Status s = validate(config_); !s) throw std::invalid_argument(s.error().message);
  if (state_.step_index >= config_.steps.size()) {
    throw std::invalid_argument("canary state: step index beyond the configured steps");
  }
}

CanaryDecision CanaryRollout::step(const CanaryObservation& obs, TimePoint now) {
  switch (state_.phase) {
    case CanaryPhase::kStartingCanary: {
      state_.started = now;
      state_.phase = CanaryPhase::kWaitingReady;
      state_.phase_started = now;
      state_.ready_since.reset();
      auto d = decision(now, "starting canary " + state_.release);
      d.actions.emplace_back(StartCanary{state_.release, state_.replicas});
      return d;
    }
    case CanaryPhase::kWaitingReady:
      return wait_ready(obs, now);
    case CanaryPhase::kStep:
      return run_step(obs, now);
    case CanaryPhase::kPromoting:
      return promoting(obs, now);
    case CanaryPhase::kDone:
    case CanaryPhase::kRolledBack:
    case CanaryPhase::kFailed:
      break;
  }
  return decision(now, "rollout finished: " + state_.reason);
}

CanaryDecision CanaryRollout::wait_ready(const CanaryObservation& obs, TimePoint now) {
  const Verdict health = judge_health(obs.health, config_.health);
  if (health.outcome == Verdict::Outcome::kFail) {
    return finish(now, RolloutResult::kFailed,
                  "waiting_ready: canary " + health.reason + "; it never received traffic",
                  {ScaleCanary{0}}, health);
  }
  const std::string replicas = detail::replicas_text(obs.ready_replicas, obs.desired_replicas);
  if (detail::held_ready(state_.ready_since, obs.desired_replicas, obs.ready_replicas, now,
                         config_.ready_stability)) {
    state_.phase = CanaryPhase::kStep;
    state_.step_index = 0;
    state_.phase_started = now;
    state_.canary_weight = config_.steps[0];
    auto d = decision(now, "canary ready (" + replicas + "); " + step_label());
    d.actions.emplace_back(SetWeights{100 - state_.canary_weight, state_.canary_weight});
    return d;
  }
  if (now - state_.phase_started >= config_.readiness_timeout) {
    return finish(now, RolloutResult::kFailed,
                  "canary not ready: " + replicas + " after " +
                      std::to_string(detail::seconds(now - state_.phase_started)) + " s (timeout " +
                      std::to_string(config_.readiness_timeout.count()) +
                      " s); it never received traffic",
                  {ScaleCanary{0}});
  }
  return decision(now, "waiting for canary: " + replicas);
}

Verdict CanaryRollout::judge_canary(const CanaryObservation& obs) const {
  const Verdict health = judge_health(obs.health, config_.health);
  if (health.outcome == Verdict::Outcome::kFail) return health;
  const TrafficSample sample = merge_samples(obs.canary, obs.synthetic);
  Verdict v = judge(sample, obs.stable ? &*obs.stable : nullptr, config_.judge);
  detail::add_synthetic_evidence(v, sample, obs.synthetic);
  detail::add_health_evidence(v, health);
  return v;
}

CanaryDecision CanaryRollout::run_step(const CanaryObservation& obs, TimePoint now) {
  Verdict v = judge_canary(obs);
  if (v.outcome == Verdict::Outcome::kFail) {
    return roll_back(now, step_label() + ": " + v.reason, v);
  }
  const auto in_step = now - state_.phase_started;
  const TrafficSample sample = merge_samples(obs.canary, obs.synthetic);
  const std::uint64_t needed = requests_to_pass(config_.judge);
  const auto plan = [&](CanaryDecision d) {
    d.synthetic_rps = synthetic_rps(
        config_.synthetic,
        {.sample_requests = sample.requests,
         .needed = needed,
         .organic_rps = obs.organic_rps,
         .time_left_s = std::chrono::duration<double>(config_.step_duration - in_step).count(),
         .synthetic_sent = obs.synthetic.requests});
    return d;
  };
  if (in_step < config_.step_duration) return plan(decision(now, step_label() + ": " + v.reason, v));
  if (v.outcome == Verdict::Outcome::kPass) return advance(now, v);
  if (in_step >= config_.step_duration + config_.max_inconclusive_extension) {
    const std::string what = sample.requests >= needed ? ": inconclusive after "
                                                       : ": not enough traffic to judge after ";
    return roll_back(now, step_label() + what + std::to_string(detail::seconds(in_step)) +
                              " s: " + v.reason,
                     v);
  }
  return plan(decision(now, step_label() + " extended: " + v.reason, v));
}

CanaryDecision CanaryRollout::advance(TimePoint now, const Verdict& verdict) {
  if (state_.step_index + 1 < config_.steps.size()) {
    ++state_.step_index;
    state_.phase_started = now;
    state_.canary_weight = config_.steps[state_.step_index];
    auto d = decision(now, step_label() + " after: " + verdict.reason, verdict);
    d.actions.emplace_back(SetWeights{100 - state_.canary_weight, state_.canary_weight});
    return d;
  }
  return begin_promotion(
      now, "all " + std::to_string(config_.steps.size()) + " steps passed, last: " + verdict.reason,
      verdict);
}

CanaryDecision CanaryRollout::begin_promotion(TimePoint now, std::string why,
                                              const Verdict& verdict) {
  const Colour idle = other(state_.active);
  state_.reason = std::move(why);
  state_.phase = CanaryPhase::kPromoting;
  state_.phase_started = now;
  state_.ready_since.reset();
  auto d = decision(now,
                    "promoting: " + state_.reason + "; starting " +
                        std::to_string(state_.stable_replicas) + " replicas of " + state_.release +
                        " on " + colour_name(idle) + " as the new stable",
                    verdict);
  d.actions.emplace_back(StartNewColour{idle, state_.release, state_.stable_replicas});
  return d;
}

CanaryDecision CanaryRollout::promoting(const CanaryObservation& obs, TimePoint now) {
  const Colour idle = other(state_.active);
  // The canary still serves (at its last weight) until the switch: keep judging it.
  Verdict v = judge_canary(obs);
  if (v.outcome == Verdict::Outcome::kFail) return roll_back(now, "promoting: " + v.reason, v);
  const Verdict fresh = judge_health(obs.promotion_health, config_.health);
  if (fresh.outcome == Verdict::Outcome::kFail) {
    return roll_back(now, "promotion failed: new stable " + std::string(colour_name(idle)) + ": " +
                              fresh.reason,
                     fresh);
  }
  const std::string replicas =
      detail::replicas_text(obs.promotion_ready, obs.promotion_desired);
  if (detail::held_ready(state_.ready_since, obs.promotion_desired, obs.promotion_ready, now,
                         config_.ready_stability)) {
    state_.canary_weight = 0;
    return finish(now, RolloutResult::kPromoted,
                  "promoted: " + std::string(colour_name(idle)) + " serves " + state_.release +
                      " (" + replicas + "); " + state_.reason,
                  {SwitchRoute{idle}, ScaleDown{state_.active}, ScaleCanary{0}}, v);
  }
  const auto waited = now - state_.phase_started;
  if (waited >= config_.promotion_timeout) {
    return roll_back(now,
                     "promotion failed: new stable " + std::string(colour_name(idle)) + " " +
                         replicas + " after " + std::to_string(detail::seconds(waited)) +
                         " s (timeout " + std::to_string(config_.promotion_timeout.count()) +
                         " s); stable keeps serving",
                     v);
  }
  return decision(now, "promoting: new stable " + std::string(colour_name(idle)) + " " + replicas,
                  v);
}

CanaryDecision CanaryRollout::promote(TimePoint now) {
  if (state_.phase != CanaryPhase::kStep) {
    return decision(now, std::string("promote ignored in phase ") + phase_name(state_.phase) +
                             ": only a ready canary in a step can be promoted");
  }
  return begin_promotion(now, "promoted by operator at " + step_label(), {});
}

CanaryDecision CanaryRollout::abort(TimePoint now, const std::string& why) {
  switch (state_.phase) {
    case CanaryPhase::kStartingCanary:
      state_.started = now;
      return finish(now, RolloutResult::kRolledBack, why + " before start", {});
    case CanaryPhase::kWaitingReady:
    case CanaryPhase::kStep:
    case CanaryPhase::kPromoting:
      return roll_back(now, why);
    case CanaryPhase::kDone:
    case CanaryPhase::kRolledBack:
    case CanaryPhase::kFailed:
      break;
  }
  return decision(now, std::string("abort ignored in phase ") + phase_name(state_.phase) + ": " +
                           state_.reason);
}

CanaryDecision CanaryRollout::roll_back(TimePoint now, std::string reason,
                                        const Verdict& evidence) {
  state_.canary_weight = 0;
  std::vector<Action> actions{SetWeights{100, 0}, ScaleCanary{0}};
  if (state_.phase == CanaryPhase::kPromoting) actions.emplace_back(ScaleDown{other(state_.active)});
  return finish(now, RolloutResult::kRolledBack, "rolled back: " + std::move(reason),
                std::move(actions), evidence);
}

std::string CanaryRollout::step_label() const {
  return "step " + std::to_string(state_.step_index + 1) + "/" +
         std::to_string(config_.steps.size()) + " (" +
         std::to_string(config_.steps[state_.step_index]) + "%)";
}

CanaryDecision CanaryRollout::decision(TimePoint now, std::string reason,
                                       const Verdict& evidence) const {
  auto d = detail::state_decision<CanaryDecision>(state_, now, std::move(reason), evidence);
  d.step_index = state_.step_index;
  d.canary_weight = state_.canary_weight;
  d.step_elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(now - state_.phase_started);
  return d;
}

CanaryDecision CanaryRollout::finish(TimePoint now, RolloutResult result, std::string reason,
                                     std::vector<Action> actions, const Verdict& evidence) {
  detail::end_rollout(state_, now, result, reason, CanaryPhase::kDone, CanaryPhase::kRolledBack,
                      CanaryPhase::kFailed);
  auto d = decision(now, std::move(reason), evidence);
  d.actions = std::move(actions);
  return d;
}

StateMap to_map(const CanaryState& s) {
  return {{"strategy", "canary"},
          {"version", detail::kStateVersion},
          {"phase", phase_name(s.phase)},
          {"release", s.release},
          {"replicas", std::to_string(s.replicas)},
          {"active", colour_name(s.active)},
          {"stable_replicas", std::to_string(s.stable_replicas)},
          {"step_index", std::to_string(s.step_index)},
          {"canary_weight", std::to_string(s.canary_weight)},
          {"result", result_name(s.result)},
          {"reason", s.reason},
          {"started", detail::encode_time(s.started)},
          {"phase_started", detail::encode_time(s.phase_started)},
          {"ready_since", detail::encode_time(s.ready_since)}};
}

Result<CanaryState> canary_state_from_map(const StateMap& map) {
  detail::StateReader r(map, "canary");
  if (r.text("strategy") != "canary" && !r.error()) {
    return make_error(ErrorCode::kInvalidArgument, "canary state: key 'strategy' is not 'canary'");
  }
  r.check_version();
  CanaryState s;
  s.phase = r.enumerated("phase", CanaryPhase::kFailed, phase_name);
  s.release = r.text("release");
  s.replicas = static_cast<int>(r.integer("replicas", 1, 100000));
  s.active = r.enumerated("active", Colour::kGreen, colour_name);
  s.stable_replicas = static_cast<int>(r.integer("stable_replicas", 1, 100000));
  s.step_index = static_cast<std::size_t>(r.integer("step_index", 0, 1000));
  s.canary_weight = static_cast<int>(r.integer("canary_weight", 0, 100));
  s.result = r.enumerated("result", RolloutResult::kFailed, result_name);
  s.reason = r.text("reason");
  s.started = r.time("started");
  s.phase_started = r.time("phase_started");
  s.ready_since = r.optional_time("ready_since");
  if (r.error()) return *r.error();
  return s;
}

}  // namespace sg::control
