#include <stdexcept>
#include <utility>

#include "control/rollout.hpp"
#include "control/rollout_internal.hpp"

namespace sg::control {

const char* phase_name(BlueGreenPhase phase) {
  switch (phase) {
    case BlueGreenPhase::kDeployingIdle:
      return "deploying_idle";
    case BlueGreenPhase::kWaitingReady:
      return "waiting_ready";
    case BlueGreenPhase::kSmokeTest:
      return "smoke_test";
    case BlueGreenPhase::kVerifying:
      return "verifying";
    case BlueGreenPhase::kScaleDownDelay:
      return "scale_down_delay";
    case BlueGreenPhase::kDone:
      return "done";
    case BlueGreenPhase::kRolledBack:
      return "rolled_back";
    case BlueGreenPhase::kFailed:
      return "failed";
  }
  return "failed";
}

void BlueGreenRollout::pause_clock(std::chrono::milliseconds undriven) {
  // Only the verification window measures; the other phases wait for the cluster, which went
  // on meanwhile (a stuck rollout must not fail later for the pause).
  if (undriven <= std::chrono::milliseconds(0) || state_.phase != BlueGreenPhase::kVerifying) return;
  state_.phase_started += undriven;
}

BlueGreenRollout::BlueGreenRollout(BlueGreenConfig config, Colour active, std::string release,
                                   int replicas)
    : config_(std::move(config)) {
  if (replicas <= 0) throw std::invalid_argument("blue-green rollout needs replicas > 0");
  state_.active = active;
  state_.release = std::move(release);
  state_.replicas = replicas;
}

BlueGreenRollout::BlueGreenRollout(BlueGreenConfig config, BlueGreenState state)
    : config_(std::move(config)), state_(std::move(state)) {}

Result<BlueGreenRollout> BlueGreenRollout::resume(BlueGreenConfig config, BlueGreenState state) {
  if (state.replicas <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "blue-green state: replicas must be > 0");
  }
  return BlueGreenRollout(std::move(config), std::move(state));
}

BlueGreenDecision BlueGreenRollout::step(const BlueGreenObservation& obs, TimePoint now) {
  switch (state_.phase) {
    case BlueGreenPhase::kDeployingIdle: {
      state_.started = now;
      enter(BlueGreenPhase::kWaitingReady, now);
      const Colour idle = other(state_.active);
      auto d = decision(now, "starting " + state_.release + " on idle colour " + colour_name(idle));
      d.actions.emplace_back(StartNewColour{idle, state_.release, state_.replicas});
      return d;
    }
    case BlueGreenPhase::kWaitingReady:
      if (auto failed = check_health(obs, now)) return *failed;
      return wait_ready(obs, now);
    case BlueGreenPhase::kSmokeTest:
      if (auto failed = check_health(obs, now)) return *failed;
      return smoke_test(obs, now);
    case BlueGreenPhase::kVerifying:
    case BlueGreenPhase::kScaleDownDelay:
      if (auto failed = check_health(obs, now)) return *failed;
      return verify(obs, now);
    case BlueGreenPhase::kDone:
    case BlueGreenPhase::kRolledBack:
    case BlueGreenPhase::kFailed:
      break;
  }
  return decision(now, "rollout finished: " + state_.reason);
}

std::optional<BlueGreenDecision> BlueGreenRollout::check_health(const BlueGreenObservation& obs,
                                                               TimePoint now) {
  const Verdict health = judge_health(obs.health, config_.health);
  if (health.outcome != Verdict::Outcome::kFail) return std::nullopt;
  const Colour fresh = other(state_.active);
  const std::string where = std::string(phase_name(state_.phase)) + ": new colour " +
                            colour_name(fresh) + ": " + health.reason;
  if (state_.phase == BlueGreenPhase::kWaitingReady || state_.phase == BlueGreenPhase::kSmokeTest) {
    return finish(now, RolloutResult::kFailed, where + "; traffic never moved", {ScaleDown{fresh}},
                  health);
  }
  return finish(now, RolloutResult::kRolledBack, "switched back: " + where,
                {SwitchBack{state_.active}, ScaleDown{fresh}}, health);
}

BlueGreenDecision BlueGreenRollout::wait_ready(const BlueGreenObservation& obs, TimePoint now) {
  const Colour fresh = other(state_.active);
  const std::string replicas = detail::replicas_text(obs.ready_replicas, obs.desired_replicas);
  if (detail::held_ready(state_.ready_since, obs.desired_replicas, obs.ready_replicas, now,
                         config_.ready_stability)) {
    enter(BlueGreenPhase::kSmokeTest, now);
    return decision(now, std::string("new colour ") + colour_name(fresh) + " ready: " + replicas +
                             " for " + std::to_string(config_.ready_stability.count()) + " s");
  }
  if (now - state_.phase_started >= config_.readiness_timeout) {
    return finish(now, RolloutResult::kFailed,
                  std::string("new colour ") + colour_name(fresh) + " not ready: " + replicas +
                      " after " + std::to_string(detail::seconds(now - state_.phase_started)) +
                      " s (timeout " + std::to_string(config_.readiness_timeout.count()) +
                      " s); traffic never moved",
                  {ScaleDown{fresh}});
  }
  return decision(now, "waiting for new colour: " + replicas);
}

BlueGreenDecision BlueGreenRollout::smoke_test(const BlueGreenObservation& obs, TimePoint now) {
  const Colour fresh = other(state_.active);
  if (obs.smoke_version && *obs.smoke_version == state_.release) {
    enter(BlueGreenPhase::kVerifying, now);
    auto d = decision(now, "smoke test passed (health answers " + state_.release +
                               "); route switched to " + colour_name(fresh));
    d.actions.emplace_back(SwitchRoute{fresh});
    return d;
  }
  if (obs.smoke_version) {
    return finish(now, RolloutResult::kFailed,
                  "smoke test failed: new colour answers version '" + *obs.smoke_version +
                      "', expected '" + state_.release + "'; traffic never moved",
                  {ScaleDown{fresh}});
  }
  if (now - state_.phase_started >= config_.smoke_timeout) {
    return finish(now, RolloutResult::kFailed,
                  "smoke test failed: no health answer from new colour after " +
                      std::to_string(detail::seconds(now - state_.phase_started)) +
                      " s; traffic never moved",
                  {ScaleDown{fresh}});
  }
  return decision(now, "smoke test: waiting for the new colour's health answer");
}

BlueGreenDecision BlueGreenRollout::verify(const BlueGreenObservation& obs, TimePoint now) {
  const Colour fresh = other(state_.active);
  const TrafficSample sample = merge_samples(obs.new_colour, obs.synthetic);
  Verdict v = judge(sample, nullptr, config_.judge);
  detail::add_synthetic_evidence(v, sample, obs.synthetic);
  detail::add_health_evidence(v, judge_health(obs.health, config_.health));
  if (v.outcome == Verdict::Outcome::kFail) {
    const std::string why = std::string(phase_name(state_.phase)) + ": " + v.reason;
    return finish(now, RolloutResult::kRolledBack, "switched back: " + why,
                  {SwitchBack{state_.active}, ScaleDown{fresh}}, v);
  }
  const auto in_phase = now - state_.phase_started;
  if (state_.phase == BlueGreenPhase::kScaleDownDelay) {
    if (in_phase >= config_.scale_down_delay) {
      return finish(now, RolloutResult::kPromoted,
                    std::string("promoted: ") + colour_name(fresh) + " serves " + state_.release +
                        "; old colour " + colour_name(state_.active) + " scaled down after " +
                        std::to_string(detail::seconds(in_phase)) + " s",
                    {ScaleDown{state_.active}}, v);
    }
    return decision(now, "old colour kept warm for rollback: " + v.reason, v);
  }
  const std::uint64_t needed = requests_to_pass(config_.judge);
  const auto plan = [&](BlueGreenDecision d) {
    d.synthetic_rps = synthetic_rps(
        config_.synthetic,
        {.sample_requests = sample.requests,
         .needed = needed,
         .organic_rps = obs.organic_rps,
         .time_left_s = std::chrono::duration<double>(config_.verify_window - in_phase).count(),
         .synthetic_sent = obs.synthetic.requests});
    return d;
  };
  if (in_phase < config_.verify_window) return plan(decision(now, "verifying: " + v.reason, v));
  if (v.outcome == Verdict::Outcome::kPass) {
    enter(BlueGreenPhase::kScaleDownDelay, now);
    return decision(now, "verified: " + v.reason, v);
  }
  if (in_phase >= config_.verify_window + config_.max_inconclusive_extension) {
    const std::string what = sample.requests >= needed ? "inconclusive after "
                                                       : "not enough traffic to verify after ";
    return finish(now, RolloutResult::kRolledBack,
                  "switched back: " + what + std::to_string(detail::seconds(in_phase)) +
                      " s: " + v.reason,
                  {SwitchBack{state_.active}, ScaleDown{fresh}}, v);
  }
  return plan(decision(now, "verification extended: " + v.reason, v));
}

BlueGreenDecision BlueGreenRollout::rollback(TimePoint now, const std::string& why) {
  const Colour fresh = other(state_.active);
  switch (state_.phase) {
    case BlueGreenPhase::kDeployingIdle:
      state_.started = now;
      return finish(now, RolloutResult::kRolledBack, why + " before start", {});
    case BlueGreenPhase::kWaitingReady:
    case BlueGreenPhase::kSmokeTest:
      return finish(now, RolloutResult::kRolledBack, why + "; traffic never moved",
                    {ScaleDown{fresh}});
    case BlueGreenPhase::kVerifying:
    case BlueGreenPhase::kScaleDownDelay:
      return finish(now, RolloutResult::kRolledBack,
                    why + "; switched back to " + colour_name(state_.active),
                    {SwitchBack{state_.active}, ScaleDown{fresh}});
    case BlueGreenPhase::kDone:
    case BlueGreenPhase::kRolledBack:
    case BlueGreenPhase::kFailed:
      break;
  }
  return decision(now, "rollout already finished: " + state_.reason);
}

BlueGreenDecision BlueGreenRollout::promote(TimePoint now) {
  if (state_.phase != BlueGreenPhase::kScaleDownDelay) {
    return decision(now, std::string("blue-green can be promoted only after verification (phase "
                                     "scale_down_delay); now: ") +
                             phase_name(state_.phase));
  }
  return finish(now, RolloutResult::kPromoted,
                "promoted by operator: old colour " + std::string(colour_name(state_.active)) +
                    " scaled down before its delay ended",
                {ScaleDown{state_.active}});
}

void BlueGreenRollout::enter(BlueGreenPhase phase, TimePoint now) {
  state_.phase = phase;
  state_.phase_started = now;
  state_.ready_since.reset();
}

BlueGreenDecision BlueGreenRollout::decision(TimePoint now, std::string reason,
                                             const Verdict& evidence) const {
  return detail::state_decision<BlueGreenDecision>(state_, now, std::move(reason), evidence);
}

BlueGreenDecision BlueGreenRollout::finish(TimePoint now, RolloutResult result, std::string reason,
                                           std::vector<Action> actions, const Verdict& evidence) {
  detail::end_rollout(state_, now, result, reason, BlueGreenPhase::kDone,
                      BlueGreenPhase::kRolledBack, BlueGreenPhase::kFailed);
  auto d = decision(now, std::move(reason), evidence);
  d.actions = std::move(actions);
  return d;
}

StateMap to_map(const BlueGreenState& s) {
  return {{"strategy", "blue_green"},
          {"version", detail::kStateVersion},
          {"phase", phase_name(s.phase)},
          {"active", colour_name(s.active)},
          {"release", s.release},
          {"replicas", std::to_string(s.replicas)},
          {"result", result_name(s.result)},
          {"reason", s.reason},
          {"started", detail::encode_time(s.started)},
          {"phase_started", detail::encode_time(s.phase_started)},
          {"ready_since", detail::encode_time(s.ready_since)}};
}

Result<BlueGreenState> blue_green_state_from_map(const StateMap& map) {
  detail::StateReader r(map, "blue-green");
  if (r.text("strategy") != "blue_green" && !r.error()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "blue-green state: key 'strategy' is not 'blue_green'");
  }
  r.check_version();
  BlueGreenState s;
  s.phase = r.enumerated("phase", BlueGreenPhase::kFailed, phase_name);
  s.active = r.enumerated("active", Colour::kGreen, colour_name);
  s.release = r.text("release");
  s.replicas = static_cast<int>(r.integer("replicas", 1, 100000));
  s.result = r.enumerated("result", RolloutResult::kFailed, result_name);
  s.reason = r.text("reason");
  s.started = r.time("started");
  s.phase_started = r.time("phase_started");
  s.ready_since = r.optional_time("ready_since");
  if (r.error()) return *r.error();
  return s;
}

}  // namespace sg::control
