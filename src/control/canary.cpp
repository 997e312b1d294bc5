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

CanaryRollout::CanaryRollout(CanaryConfig config, std::string release, int replicas)
    : config_(std::move(config)) {
  if (const Status s = validate(config_); !s) throw std::invalid_argument(s.error().message);
  if (replicas <= 0) throw std::invalid_argument("canary rollout needs replicas > 0");
  state_.release = std::move(release);
  state_.replicas = replicas;
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
      return finish(now, RolloutResult::kPromoted,
                    "promoted: stable serves " + state_.release + "; " + state_.reason, {});
    case CanaryPhase::kDone:
    case CanaryPhase::kRolledBack:
    case CanaryPhase::kFailed:
      break;
  }
  return decision(now, "rollout finished: " + state_.reason);
}

CanaryDecision CanaryRollout::wait_ready(const CanaryObservation& obs, TimePoint now) {
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

CanaryDecision CanaryRollout::run_step(const CanaryObservation& obs, TimePoint now) {
  Verdict v = judge(obs.canary, obs.stable ? &*obs.stable : nullptr, config_.judge);
  if (v.outcome == Verdict::Outcome::kFail) {
    return roll_back(now, step_label() + ": " + v.reason, v);
  }
  const auto in_step = now - state_.phase_started;
  if (in_step < config_.step_duration) return decision(now, step_label() + ": " + v.reason, v);
  if (v.outcome == Verdict::Outcome::kPass) return advance(now, v);
  if (in_step >= config_.step_duration + config_.max_inconclusive_extension) {
    return roll_back(now,
                     step_label() + ": not enough traffic to judge after " +
                         std::to_string(detail::seconds(in_step)) + " s: " + v.reason,
                     v);
  }
  return decision(now, step_label() + " extended: " + v.reason, v);
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
  state_.reason =
      "all " + std::to_string(config_.steps.size()) + " steps passed, last: " + verdict.reason;
  state_.phase = CanaryPhase::kPromoting;
  state_.phase_started = now;
  state_.canary_weight = 0;
  auto d = decision(now, "promoting: " + state_.reason, verdict);
  d.actions = {UpdateStable{state_.release}, SetWeights{100, 0}, ScaleCanary{0}};
  return d;
}

CanaryDecision CanaryRollout::promote(TimePoint now) {
  if (state_.phase != CanaryPhase::kStep) {
    return decision(now, std::string("promote ignored in phase ") + phase_name(state_.phase) +
                             ": only a ready canary in a step can be promoted");
  }
  state_.reason = "promoted by operator at " + step_label();
  state_.phase = CanaryPhase::kPromoting;
  state_.phase_started = now;
  state_.canary_weight = 0;
  auto d = decision(now, "promoting: " + state_.reason);
  d.actions = {UpdateStable{state_.release}, SetWeights{100, 0}, ScaleCanary{0}};
  return d;
}

CanaryDecision CanaryRollout::abort(TimePoint now, const std::string& why) {
  switch (state_.phase) {
    case CanaryPhase::kStartingCanary:
      state_.started = now;
      return finish(now, RolloutResult::kRolledBack, why + " before start", {});
    case CanaryPhase::kWaitingReady:
    case CanaryPhase::kStep:
      return roll_back(now, why);
    case CanaryPhase::kPromoting:
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
  return finish(now, RolloutResult::kRolledBack, "rolled back: " + std::move(reason),
                {SetWeights{100, 0}, ScaleCanary{0}}, evidence);
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
          {"phase", phase_name(s.phase)},
          {"release", s.release},
          {"replicas", std::to_string(s.replicas)},
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
  CanaryState s;
  s.phase = r.enumerated("phase", CanaryPhase::kFailed, phase_name);
  s.release = r.text("release");
  s.replicas = static_cast<int>(r.integer("replicas", 1, 100000));
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
