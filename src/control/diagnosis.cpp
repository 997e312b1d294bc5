#include "control/diagnosis.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sg::control {
namespace {

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string percent(double ratio) { return fixed(ratio * 100, 2) + " %"; }

bool new_release(const DiagnosisInput& in, const std::string& release, double recent_s) {
  const auto& d = in.last_deployment;
  return d && d->to == release &&
         (d->result == "in_progress" || (d->result == "promoted" && d->age_s <= recent_s));
}

std::optional<Diagnosis> dependency_down(const DiagnosisInput& in) {
  std::optional<Diagnosis> out;
  for (const DependencyCheck& c : in.dependencies) {
    if (c.status == "ok") continue;
    if (!out) {
      out = Diagnosis{Incident::kDependencyDown,
                      c.name + " (" + c.backend + ") is " + c.status,
                      {},
                      "",
                      SafeAction::kNone,
                      0};
      out->recommendation =
          c.name == "cache"
              ? "Restore the cache (Redis): check it answers (redis-cli -u URL PING) and restart "
                "it; replicas keep serving from storage meanwhile, slower. Once it is back, "
                "FLUSHALL clears stale entries if needed."
              : "Restore the storage: check the database answers (psql URL -c 'SELECT 1' or the "
                "SQLite file and its disk); replicas are not ready until it does.";
    }
    out->evidence.push_back("replica " + c.replica + ": " + c.name + " " + c.backend + " " +
                            c.status + (c.error.empty() ? "" : " (" + c.error + ")"));
  }
  return out;
}

std::optional<Diagnosis> deployment_failure(const DiagnosisInput& in, const DiagnosisLimits& l) {
  const auto& d = in.last_deployment;
  if (in.rollout_in_progress && in.rollout_elapsed_s > l.stuck_after_s && d) {
    std::vector<std::string> waiting;
    for (const TrackObservation& t : in.tracks) {
      if (t.release != d->to) continue;
      for (const ReplicaObservation& r : t.replicas) {
        if (r.phase != "ready") waiting.push_back(r.name + " " + r.phase);
      }
    }
    if (!waiting.empty()) {
      Diagnosis g{Incident::kDeploymentFailure,
                  "the " + d->strategy + " rollout of " + d->to + " has waited " +
                      fixed(in.rollout_elapsed_s, 0) + " s for replicas that are not ready",
                  {"rollout phase " + in.rollout_phase + ", running " +
                   fixed(in.rollout_elapsed_s, 0) + " s"},
                  "Abort the rollout (sgctl abort: the previous release keeps serving), then "
                  "read the new replicas' logs (sgctl logs --version " +
                      d->to + ") and events (sgctl events).",
                  SafeAction::kAbort,
                  0};
      for (const auto& w : waiting) g.evidence.push_back("not ready: " + w);
      return g;
    }
  }
  if (d && (d->result == "rolled_back" || d->result == "failed") && d->age_s <= l.recent_s) {
    return Diagnosis{Incident::kDeploymentFailure,
                     "the " + d->strategy + " deployment of " + d->to + " " + d->result + " " +
                         fixed(d->age_s, 0) + " s ago",
                     {"reason: " + d->reason},
                     "The previous release serves. Find why in sgctl history --journal and "
                     "sgctl logs --version " +
                         d->to + ", fix the release, deploy again.",
                     SafeAction::kNone,
                     0};
  }
  return std::nullopt;
}

std::optional<Diagnosis> pod_crash(const DiagnosisInput& in, const DiagnosisLimits& l) {
  const ReplicaObservation* crashing = nullptr;
  const TrackObservation* track = nullptr;
  for (const TrackObservation& t : in.tracks) {
    for (const ReplicaObservation& r : t.replicas) {
      if (r.phase == "backoff" || (in.recent_exits >= 2 && r.restarts > 0)) {
        if (!crashing || r.restarts > crashing->restarts) {
          crashing = &r;
          track = &t;
        }
      }
    }
  }
  if (!crashing) return std::nullopt;
  Diagnosis g{Incident::kPodCrash,
              "replica " + crashing->name + " (" + crashing->release + ") crashes: " +
                  std::to_string(crashing->restarts) + " restarts, last " + crashing->last_exit,
              {std::to_string(in.recent_exits) + " unexpected exits in the last " +
               fixed(l.recent_s / 60, 0) + " min"},
              "",
              SafeAction::kNone,
              0};
  if (!in.recent_exit.empty()) g.evidence.push_back("newest: " + in.recent_exit);
  if (new_release(in, crashing->release, l.recent_s)) {
    g.recommendation = "A code issue in the new release " + crashing->release +
                       ": roll back (sgctl rollback), then read its log (sgctl logs --version " +
                       crashing->release + ").";
    g.action = SafeAction::kRollback;
  } else {
    g.recommendation = "Read the crash in its log (sgctl logs --version " + crashing->release +
                       " --tail 200) and the exit reason; if it runs out of memory or CPU, add "
                       "replicas (sgctl scale --replicas " +
                       std::to_string(std::min(l.max_replicas, track->desired + 1)) +
                       "); if it is the code, deploy the previous release.";
  }
  return g;
}

const TrackObservation* worst(const DiagnosisInput& in, const DiagnosisLimits& l, bool errors) {
  const TrackObservation* out = nullptr;
  for (const TrackObservation& t : in.tracks) {
    if (t.weight <= 0 || t.rps < l.min_rps) continue;
    const bool bad = errors ? t.error_rate > l.max_error_rate : t.p95_ms > l.max_p95_ms;
    if (!bad) continue;
    if (!out || (errors ? t.error_rate > out->error_rate : t.p95_ms > out->p95_ms)) out = &t;
  }
  return out;
}

std::string traffic_line(const TrackObservation& t) {
  return "track " + t.track + " (" + t.release + ", weight " + std::to_string(t.weight) +
         "): " + fixed(t.rps, 1) + " req/s, error rate " + percent(t.error_rate) + ", P95 " +
         fixed(t.p95_ms, 0) + " ms";
}

std::optional<Diagnosis> high_error_rate(const DiagnosisInput& in, const DiagnosisLimits& l) {
  const TrackObservation* t = worst(in, l, true);
  if (!t) return std::nullopt;
  Diagnosis g{Incident::kHighErrorRate,
              "track " + t->track + " (" + t->release + ") fails " + percent(t->error_rate) +
                  " of its requests (threshold " + percent(l.max_error_rate) + ")",
              {traffic_line(*t)},
              "",
              SafeAction::kNone,
              0};
  for (const auto& line : in.error_log_lines) g.evidence.push_back("log: " + line);
  if (new_release(in, t->release, l.recent_s)) {
    g.recommendation =
        "The release " + t->release + " was deployed recently: roll back (sgctl rollback).";
    g.action = SafeAction::kRollback;
  } else {
    g.recommendation =
        "Read the errors (sgctl logs --tail 200), check storage and cache "
        "(curl GATEWAY/api/v1/health); if a release caused it, deploy the "
        "previous one; if overloaded, add replicas (sgctl scale).";
  }
  return g;
}

std::optional<Diagnosis> high_latency(const DiagnosisInput& in, const DiagnosisLimits& l) {
  const TrackObservation* t = worst(in, l, false);
  if (!t) return std::nullopt;
  Diagnosis g{Incident::kHighLatency,
              "track " + t->track + " (" + t->release + ") answers with P95 " +
                  fixed(t->p95_ms, 0) + " ms (threshold " + fixed(l.max_p95_ms, 0) + " ms)",
              {traffic_line(*t)},
              "",
              SafeAction::kNone,
              0};
  int busy = 0;
  for (const ReplicaObservation& r : t->replicas) {
    if (r.cpu_cores) {
      g.evidence.push_back("replica " + r.name + ": CPU " + fixed(*r.cpu_cores * 100, 0) + " %");
      if (*r.cpu_cores > 0.8) ++busy;
    }
  }
  if (new_release(in, t->release, l.recent_s)) {
    g.recommendation =
        "The release " + t->release + " was deployed recently: roll back (sgctl rollback).";
    g.action = SafeAction::kRollback;
  } else if (busy > 0 && busy * 2 >= static_cast<int>(t->replicas.size()) &&
             t->desired < l.max_replicas) {
    g.scale_to = std::min(l.max_replicas, t->desired + std::max(1, t->desired / 2));
    g.recommendation = "Replicas are CPU-bound: add replicas (sgctl scale --replicas " +
                       std::to_string(g.scale_to) + ").";
    g.action = SafeAction::kScale;
  } else {
    g.recommendation =
        "Not CPU-bound: check the database (connections, slow queries) and the "
        "cache (curl GATEWAY/api/v1/health; redis-cli FLUSHALL if it serves "
        "stale or oversized entries).";
  }
  return g;
}

std::optional<Diagnosis> scaling(const DiagnosisInput& in) {
  if (in.rollout_in_progress) return std::nullopt;
  for (const TrackObservation& t : in.tracks) {
    if (t.ready >= t.desired) continue;
    Diagnosis g{Incident::kScalingNotWorking,
                "track " + t.track + " has " + std::to_string(t.ready) + " ready of " +
                    std::to_string(t.desired) + " desired replicas",
                {},
                "Replicas do not come up: read their logs (sgctl logs --version " + t.release +
                    ") and events (sgctl events); check the release's executable "
                    "(sgctl release list).",
                SafeAction::kNone,
                0};
    for (const ReplicaObservation& r : t.replicas) {
      g.evidence.push_back("replica " + r.name + ": " + r.phase +
                           (r.last_exit.empty() ? "" : ", last exit " + r.last_exit));
    }
    return g;
  }
  return std::nullopt;
}

}  // namespace

const char* incident_name(Incident incident) {
  switch (incident) {
    case Incident::kHealthy:
      return "healthy";
    case Incident::kDependencyDown:
      return "dependency_down";
    case Incident::kDeploymentFailure:
      return "deployment_failure";
    case Incident::kPodCrash:
      return "pod_crash";
    case Incident::kHighErrorRate:
      return "high_error_rate";
    case Incident::kHighLatency:
      return "high_latency";
    case Incident::kScalingNotWorking:
      return "scaling_not_working";
  }
  return "unknown";
}

const char* safe_action_name(SafeAction action) {
  switch (action) {
    case SafeAction::kNone:
      return "none";
    case SafeAction::kRollback:
      return "rollback";
    case SafeAction::kAbort:
      return "abort";
    case SafeAction::kScale:
      return "scale";
  }
  return "none";
}

Diagnosis diagnose(const DiagnosisInput& in, const DiagnosisLimits& l) {
  if (auto d = dependency_down(in)) return *d;
  if (auto d = deployment_failure(in, l)) return *d;
  if (auto d = pod_crash(in, l)) return *d;
  if (auto d = high_error_rate(in, l)) return *d;
  if (auto d = high_latency(in, l)) return *d;
  if (auto d = scaling(in)) return *d;
  Diagnosis g;
  g.summary = "healthy: no incident found";
  for (const TrackObservation& t : in.tracks) {
    g.evidence.push_back(traffic_line(t) + "; " + std::to_string(t.ready) + "/" +
                         std::to_string(t.desired) + " ready");
  }
  g.recommendation = "Nothing to do.";
  return g;
}

}  // namespace sg::control
