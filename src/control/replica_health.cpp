#include "control/replica_health.hpp"

namespace sg::control {

Verdict judge_health(const ReplicaHealth& h, const HealthBudget& budget) {
  Verdict v;
  v.evidence = {{"restarts", h.restarts},
                {"max_restarts", budget.max_restarts},
                {"readiness_flaps", h.readiness_flaps},
                {"max_readiness_flaps", budget.max_readiness_flaps}};
  if (h.last_exit) {
    v.details = {{"exited_replica", h.last_exit->replica},
                 {"exit_reason", h.last_exit->reason},
                 {"log_tail", h.last_exit->log_tail}};
  }
  if (h.restarts > budget.max_restarts) {
    v.outcome = Verdict::Outcome::kFail;
    v.reason = std::to_string(h.restarts) + (h.restarts == 1 ? " restart" : " restarts") +
               " of the new version (budget " + std::to_string(budget.max_restarts) + ")";
    if (h.last_exit) {
      v.reason += ": " + h.last_exit->replica + " exited (" + h.last_exit->reason + ")";
    }
    return v;
  }
  if (h.readiness_flaps > budget.max_readiness_flaps) {
    v.outcome = Verdict::Outcome::kFail;
    v.reason = std::to_string(h.readiness_flaps) +
               " readiness flaps of the new version (budget " +
               std::to_string(budget.max_readiness_flaps) + ")";
    return v;
  }
  v.outcome = Verdict::Outcome::kPass;
  v.reason = "replicas healthy";
  return v;
}

}  // namespace sg::control
