#include "control/session_drain.hpp"

#include <algorithm>

namespace sg::control {
namespace {

SessionDrainDecision stop(std::string reason) {
  return {SessionDrainDecision::Outcome::kStop, std::move(reason), 0};
}

std::string seconds_text(std::chrono::duration<double> d) {
  return std::to_string(static_cast<long long>(d.count())) + " s";
}

}  // namespace

std::string validate(const SessionDrainPolicy& p) {
  const auto idle = p.idle.count();
  const auto max = p.max.count();
  if (idle < 1 || idle > SessionDrainPolicy::kMaxIdleS) {
    return "--session-drain-idle must be 1.." + std::to_string(SessionDrainPolicy::kMaxIdleS) +
           " seconds, got " + std::to_string(idle);
  }
  if (max < 0 || max > SessionDrainPolicy::kMaxMaxS) {
    return "--session-drain-max must be 0 (off).." + std::to_string(SessionDrainPolicy::kMaxMaxS) +
           " seconds, got " + std::to_string(max);
  }
  if (max > 0 && idle > max) {
    return "--session-drain-idle (" + std::to_string(idle) +
           " s) must not exceed --session-drain-max (" + std::to_string(max) + " s)";
  }
  return {};
}

SessionDrainDecision decide_session_drain(const SessionDrainPolicy& policy,
                                          const TrackTarget& target,
                                          const std::optional<TrackSessions>& activity,
                                          std::chrono::steady_clock::duration waited) {
  if (policy.max.count() <= 0) return stop("off");
  if (target.replicas > 0) return stop("track serves");
  if (target.move_sessions) return stop("sessions moved at once (rolled-back or failed release)");
  if (waited >= policy.max) {
    return stop("drain limit reached (" + std::to_string(policy.max.count()) + " s)" +
                (activity && activity->active > 0
                     ? "; " + std::to_string(activity->active) + " sessions still active"
                     : std::string()));
  }
  if (!activity) return {SessionDrainDecision::Outcome::kWait, "waiting: sessions unknown", 0};
  if (activity->sessions == 0 || !activity->idle) return stop("no sessions");
  if (*activity->idle >= policy.idle) {
    return stop("sessions idle (" + std::to_string(activity->sessions) +
                " sessions, latest request " + seconds_text(*activity->idle) + " ago)");
  }
  // The latest request is recent: at least that session is active, whatever the count says.
  const std::size_t n = std::max<std::size_t>(1, activity->active);
  return {SessionDrainDecision::Outcome::kWait, "waiting for " + std::to_string(n) + " sessions",
          n};
}

}  // namespace sg::control
