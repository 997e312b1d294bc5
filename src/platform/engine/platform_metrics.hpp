// The control plane's Prometheus metrics (GET /metrics on the control API): the platform's
// state under the names kube-state-metrics and cAdvisor use on Kubernetes, so that one set of
// alert rules and one dashboard (deploy/prometheus, deploy/grafana) serve both platforms.
//
// Labels: namespace="streamgate" on every series; deployment="streamgate-<track>";
// pod="<replica name>"; container="streamgate-server". Series, all from one PlatformStatus:
//   kube_deployment_spec_replicas, kube_deployment_status_replicas (replicas not being
//     stopped), _ready and _available (ready replicas of the track's release), _unavailable
//     (desired - available, not below 0)                                     per track
//   kube_pod_container_status_restarts_total, kube_pod_container_status_ready,
//   kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff"} (only while backing
//     off after a crash, as kube-state-metrics shows only waiting containers)
//   container_cpu_usage_seconds_total, container_memory_working_set_bytes (resident memory)
//     where measured                                                         per replica
//   kube_pod_container_resource_limits{resource="cpu",unit="core"|resource="memory",
//     unit="byte"} where `limits` gives them                                 per replica
//   streamgate_replica_info{pod,deployment,track,release} 1, streamgate_track_info{track,
//     deployment,release} 1 (join a track or pod to its release)
//   streamgate_canary_weight (0 without a canary), streamgate_rollout_in_progress,
//   streamgate_rollout_phase{strategy,phase} 1, streamgate_rollout_elapsed_seconds{strategy},
//   streamgate_rollout_step{strategy} (canary), streamgate_rollouts_total{strategy,result}
//     (finished deployments: promoted | rolled_back | failed, every pair always present so
//     increase() sees the first one), streamgate_gateway_up
//   kube_horizontalpodautoscaler_info{scaletargetref_kind="Deployment",scaletargetref_name},
//   _spec_min_replicas, _spec_max_replicas, _status_current_replicas,
//   _status_desired_replicas, _spec_target_metric and _status_target_metric{metric_name
//     (cpu|rps|in_flight), metric_target_type (utilization|average)}, _status_condition
//     {condition, status="true"|"false"|"unknown"}: per autoscaled track, with
//     horizontalpodautoscaler="streamgate-hpa-<track>" (kube-state-metrics' names and labels)
// Values that are not known are left out, never reported as 0.
// Thread-safety: a pure function.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "platform/model.hpp"
#include "platform/store/state_store.hpp"

namespace sg::platform {

// What a replica may use. Locally a replica has no limit of its own: the local control plane
// passes what the machine gives it (the CPUs it may run on, its memory or cgroup limit), so
// "near the limit" means the machine is exhausted.
struct ReplicaLimits {
  std::optional<double> cpu_cores;
  std::optional<double> memory_bytes;
};

std::string render_platform_metrics(const PlatformStatus& status,
                                    const std::vector<DeploymentCount>& deployments,
                                    const ReplicaLimits& limits);

}  // namespace sg::platform
