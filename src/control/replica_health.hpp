// The judge's observations beyond HTTP: what the new version's replicas did since the rollout
// started them. A release that crashes every 20 s can look healthy over HTTP (the gateway
// retries the requests it loses and ejects the dead endpoint), so restarts and readiness
// flaps are judged on their own, at once, in every phase of a rollout.
//
// Verdict: kFail when restarts > max_restarts (default 0: any crash fails the rollout) or
// readiness flaps > max_readiness_flaps; kPass otherwise. No traffic is needed, so there is
// no inconclusive outcome. The evidence holds restarts, readiness_flaps and both budgets; the
// details hold the last exit's replica, reason (exit status or signal) and log tail.
#pragma once

#include <optional>
#include <string>

#include "control/analysis_types.hpp"

namespace sg::control {

struct ReplicaExit {
  std::string replica;   // "canary/v2 127.0.0.1:40123"
  std::string reason;    // "exit 1", "signal 9 (Killed)"
  std::string log_tail;  // the end of its log (the backend bounds it)
};

struct ReplicaHealth {
  int restarts = 0;         // unexpected exits of the new version's replicas
  int readiness_flaps = 0;  // ready -> unready while running
  std::optional<ReplicaExit> last_exit;
};

struct HealthBudget {
  int max_restarts = 0;
  int max_readiness_flaps = 3;
};

Verdict judge_health(const ReplicaHealth& health, const HealthBudget& budget);

}  // namespace sg::control
