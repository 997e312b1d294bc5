// The engine carrying out a rollout's actions on the desired state, and the operator's
// commands (deploy, rollback, promote, abort, scale).
#include <boost/json.hpp>
#include <type_traits>

#include "platform/engine/engine.hpp"

namespace sg::platform {

void Engine::switch_to(const std::string& colour) {
  if (colour == routes_.active) {
    routes_.weights = {{colour, 100}};
    return;
  }
  const std::string old = routes_.active;
  const control::TrackTarget old_target = targets_.effective(old);
  const control::TrackTarget new_target = targets_.effective(colour);
  const std::string why = "route switched from " + old + " to " + colour;
  // The old colour stays up (kept warm, never scaled up) until an action scales it down.
  record(targets_.claim(old, {old_target, false}, why + "; old colour kept warm"));
  record(targets_.set_stable(colour, new_target.release, why));
  record(targets_.release(colour, why));
  routes_.active = colour;
  routes_.weights = {{colour, 100}};
  event("route", "all traffic to " + colour + " (" + new_target.release + ")");
}

void Engine::move_sessions_if_rejected(const std::string& track) {
  // Session-aware draining keeps the viewers of a version that is being stopped on it until
  // they finish, which is right for the healthy old version after a promotion (and for a
  // promoted canary). A release that was rolled back or failed is presumed broken: its
  // viewers are better served by the version that stays, so its sessions move at once
  // (the gateway re-routes a pinned session whose track has no available endpoint).
  if (!rollout_ || !rollout_->finished()) return;
  const auto result = rollout_->result();
  if (result != control::RolloutResult::kRolledBack && result != control::RolloutResult::kFailed) {
    return;
  }
  if (targets_.effective(track).release != rollout_->options().release) return;
  targets_.move_sessions_on_stop(track);
}

void Engine::carry_out(const control::Action& action) {
  const std::string why =
      "deployment " + std::to_string(rollout_ ? rollout_->record().id : 0) + ": " +
      control::describe(action);
  std::visit(
      [&](const auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, control::StartNewColour>) {
          record(targets_.claim(control::colour_name(a.colour), {{a.release, a.replicas}, true},
                                why));
        } else if constexpr (std::is_same_v<T, control::SwitchRoute> ||
                             std::is_same_v<T, control::SwitchBack>) {
          switch_to(control::colour_name(a.to));
        } else if constexpr (std::is_same_v<T, control::ScaleDown>) {
          const std::string c = control::colour_name(a.colour);
          if (c != routes_.active) {
            move_sessions_if_rejected(c);
            record(targets_.release(c, why));
          }
        } else if constexpr (std::is_same_v<T, control::StartCanary>) {
          record(targets_.claim("canary", {{a.release, a.replicas}, true}, why));
        } else if constexpr (std::is_same_v<T, control::SetWeights>) {
          routes_.weights.clear();
          if (a.stable > 0) routes_.weights[routes_.active] = a.stable;
          if (a.canary > 0) routes_.weights["canary"] = a.canary;
          event("route", routes_.active + " " + std::to_string(a.stable) + " / canary " +
                             std::to_string(a.canary));
        } else {
          static_assert(std::is_same_v<T, control::ScaleCanary>);
          if (a.replicas <= 0) {
            move_sessions_if_rejected("canary");
            record(targets_.release("canary", why));
          } else {
            const control::TrackTarget t = targets_.effective("canary");
            record(targets_.claim("canary", {{t.release, a.replicas}, true}, why));
          }
        }
      },
      action);
  save_settings();
}

Result<std::int64_t> Engine::deploy(const control::RolloutOptions& options) {
  std::lock_guard lock(mu_);
  return deploy_locked(options);
}

Result<std::int64_t> Engine::deploy_locked(const control::RolloutOptions& options) {
  if (Status st = control::validate(options); !st) return st.error();
  if (opts_.check_release) {
    if (Status st = opts_.check_release(options.release); !st) return st.error();
  }
  const std::string from = targets_.stable_release();
  const bool warm = rollout_ && rollout_->serving_new();
  if (rollout_ && !warm) {
    const DeploymentRecord& r = rollout_->record();
    return make_error(ErrorCode::kConflict, "deployment " + std::to_string(r.id) + " (" +
                                                r.strategy + " of " + r.to_release +
                                                ") is in progress; wait for it or run sgctl abort");
  }
  if (from == options.release && !warm) {
    return make_error(ErrorCode::kConflict, "release " + options.release + " is already active");
  }
  auto baseline = backend_.traffic();
  if (!baseline) {
    return make_error(ErrorCode::kUnavailable,
                      "the per-track traffic cannot be read yet (" + baseline.error().message +
                          "); try again in a moment");
  }
  if (warm) {
    // The previous blue-green rollout was verified; its warm colour goes now.
    (void)rollout_->promote(now());
    carry_out_pending();
    end_rollout();
    if (targets_.stable_release() == options.release) {
      return make_error(ErrorCode::kConflict, "release " + options.release + " is already active");
    }
  }
  const int stable = std::max(1, targets_.effective(routes_.active).replicas);
  auto runner = RolloutRunner::start(
      store_, options, targets_.stable_release(), routes_.active == "green"
                                                      ? control::Colour::kGreen
                                                      : control::Colour::kBlue,
      stable, std::move(*baseline), [this](const std::string& k, const std::string& m) {
        event(k, m);
      });
  if (!runner) return runner.error();
  rollout_ = std::move(*runner);
  synthetic_->reset();
  synthetic_offset_ = control::TrafficSample{};
  save_synthetic(true);
  const DeploymentRecord& r = rollout_->record();
  event("rollout", "deployment " + std::to_string(r.id) + ": " + r.strategy + " " +
                       r.from_release + " -> " + r.to_release + " started");
  return r.id;
}

Result<RollbackStarted> Engine::rollback() {
  std::lock_guard lock(mu_);
  if (rollout_) {
    const std::int64_t id = rollout_->record().id;
    if (Status st = rollout_->rollback(now()); !st) return st.error();
    step_rollout(now());  // carries the actions out now
    push_desired();
    backend_.sync_routes();  // and the route change, before any replica is drained
    return RollbackStarted{id, true};
  }
  auto history = store_.deployments(20);
  if (!history) return history.error();
  for (const auto& d : *history) {
    if (d.result != "promoted") continue;
    control::RolloutOptions options;
    boost::system::error_code ec;
    if (auto parsed = rollout_options_from_json(boost::json::parse(d.options, ec)); !ec && parsed) {
      options = *parsed;
    }
    options.strategy = control::Strategy::kBlueGreen;
    options.release = d.from_release;
    auto id = deploy_locked(options);
    if (!id) return id.error();
    return RollbackStarted{*id, false};
  }
  return make_error(ErrorCode::kConflict,
                    "nothing to roll back: no rollout in progress and no promoted deployment "
                    "in the history");
}

Status Engine::promote() {
  std::lock_guard lock(mu_);
  if (!rollout_) return make_error(ErrorCode::kConflict, "no rollout in progress");
  if (Status st = rollout_->promote(now()); !st) return st;
  step_rollout(now());
  push_desired();
  backend_.sync_routes();
  return Status::ok();
}

Status Engine::abort() {
  std::lock_guard lock(mu_);
  if (!rollout_) return make_error(ErrorCode::kConflict, "no rollout in progress");
  if (Status st = rollout_->abort(now()); !st) return st;
  step_rollout(now());
  push_desired();
  backend_.sync_routes();
  return Status::ok();
}

Status Engine::scale(int replicas) {
  if (replicas < 1 || replicas > 50) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--replicas must be 1..50, got " + std::to_string(replicas));
  }
  std::lock_guard lock(mu_);
  if (targets_.stable_release().empty()) {
    return make_error(ErrorCode::kConflict, "no active track to scale");
  }
  if (autoscaler_) {
    return make_error(ErrorCode::kConflict,
                      "autoscaling is on (min " + std::to_string(autoscaler_->spec().min_replicas) +
                          ", max " + std::to_string(autoscaler_->spec().max_replicas) +
                          "): change its bounds with sgctl autoscale, or run sgctl autoscale off "
                          "first");
  }
  record(targets_.set_operator_replicas(replicas, "sgctl scale --replicas " +
                                                      std::to_string(replicas)));
  save_settings();
  event("scale", "track " + routes_.active + " (" + targets_.stable_release() + ") scaled to " +
                     std::to_string(replicas) + " replicas");
  return Status::ok();
}

}  // namespace sg::platform
