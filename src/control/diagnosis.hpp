// The incident runbook (../shared/runbook.md, "Incident Response" and "Troubleshooting") as a
// pure function: observations of the platform in, the incident type, its evidence and the
// runbook's recommended action out. `sgctl diagnose` gathers the observations (status,
// events, deployments, each replica's health checks) and prints the result; `--apply` carries
// out the safe action.
//
// Classification, first match wins (a cause before its symptoms):
//   dependency_down     a replica reports storage unavailable or the cache degraded
//                       (GET /api/v1/health checks).                 action: restore it
//   deployment_failure  a rollout has run > `stuck_after_s` with new replicas not ready, or
//                       the last deployment ended rolled_back/failed within `recent_s`.
//                       action: abort (safe) while it runs; else fix the release
//   pod_crash           a replica backs off after a crash now, or >= 2 unexpected exits in
//                       the last `recent_s`.             action: roll back a new release (safe)
//                                                        or add replicas
//   high_error_rate     a track with weight has >= `min_rps` and error rate > `max_error_rate`
//                       (1 %).                action: roll back (safe) when a deployment made
//                                             its release active within `recent_s`
//   high_latency        as above with P95 > `max_p95_ms` (500 ms).   action: add replicas
//                       (safe) when they use > 80 % of a core; roll back a new release (safe);
//                       else check storage and cache
//   scaling_not_working no rollout, and a track has had fewer ready than desired replicas
//                       (the engine's desired count is not reached)  action: read their logs
//   healthy             none of the above.
// Rates are over the gateway's last ~10 s (sgctl status); without traffic a rate says
// nothing, so it is only judged at >= min_rps.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace sg::control {

enum class Incident {
  kHealthy,
  kDependencyDown,
  kDeploymentFailure,
  kPodCrash,
  kHighErrorRate,
  kHighLatency,
  kScalingNotWorking,
};
const char* incident_name(Incident incident);  // "healthy", "pod_crash", ...

enum class SafeAction { kNone, kRollback, kAbort, kScale };
const char* safe_action_name(SafeAction action);  // "none", "rollback", "abort", "scale"

struct ReplicaObservation {
  std::string name;
  std::string release;
  std::string phase;  // starting, ready, unready, backoff, draining, terminating
  int restarts = 0;
  std::string last_exit;
  std::optional<double> cpu_cores;
};

struct TrackObservation {
  std::string track;
  std::string release;
  int desired = 0;
  int ready = 0;
  int weight = 0;
  double rps = 0;
  double error_rate = 0;
  double p95_ms = 0;
  std::vector<ReplicaObservation> replicas;
};

struct DependencyCheck {
  std::string replica;
  std::string name;     // storage | cache
  std::string backend;  // sqlite, postgresql, memory, redis
  std::string status;   // ok | degraded | unavailable | unreachable (no answer)
  std::string error;
};

struct DeploymentObservation {
  std::string strategy;
  std::string to;
  std::string result;  // in_progress | promoted | rolled_back | failed
  std::string reason;
  double age_s = 0;  // since it finished (since it started while in progress)
};

struct DiagnosisInput {
  std::vector<TrackObservation> tracks;
  std::vector<DependencyCheck> dependencies;
  std::optional<DeploymentObservation> last_deployment;
  bool rollout_in_progress = false;
  std::string rollout_phase;
  double rollout_elapsed_s = 0;
  int recent_exits = 0;     // unexpected replica exits in the last recent_s (events)
  std::string recent_exit;  // the newest one's message
  std::vector<std::string> error_log_lines;  // recent error lines of the replicas' logs
};

struct DiagnosisLimits {
  double max_error_rate = 0.01;
  double max_p95_ms = 500;
  double min_rps = 1;
  double recent_s = 900;
  double stuck_after_s = 60;
  int max_replicas = 10;
};

struct Diagnosis {
  Incident incident = Incident::kHealthy;
  std::string summary;                // one line
  std::vector<std::string> evidence;  // what was seen, with numbers
  std::string recommendation;         // the runbook's action, as commands
  SafeAction action = SafeAction::kNone;
  int scale_to = 0;  // for kScale: the stable track's new replica count
};

Diagnosis diagnose(const DiagnosisInput& input, const DiagnosisLimits& limits = {});

}  // namespace sg::control
