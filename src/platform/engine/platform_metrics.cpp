#include "platform/engine/platform_metrics.hpp"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <map>
#include <string_view>
#include <utility>

#include "common/metrics.hpp"

namespace sg::platform {
namespace {

constexpr const char* kNamespace = "streamgate";
constexpr const char* kContainer = "streamgate-server";

using Labels = std::vector<std::pair<std::string, std::string>>;

// One family: its head, then all its samples together (the text format wants a family's
// lines in one group, and the loops below fill several families at once). Written to `out`
// when it goes out of scope.
class Family {
 public:
  Family(std::string& out, const char* name, const char* type, const char* help)
      : out_(out), name_(name), type_(type), help_(help) {}
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;
  ~Family() {
    metrics::append_family_head(out_, name_, type_, help_);
    out_ += samples_;
  }
  Family& add(const Labels& labels, double value) {
    std::vector<std::string> names{"namespace"};
    std::vector<std::string> values{kNamespace};
    for (const auto& [k, v] : labels) {
      names.push_back(k);
      values.push_back(v);
    }
    metrics::append_sample(samples_, name_, names, values, value);
    return *this;
  }

 private:
  std::string& out_;
  const char* name_;
  const char* type_;
  const char* help_;
  std::string samples_;
};

std::string deployment_of(const std::string& track) { return "streamgate-" + track; }

bool stopping(const ReplicaView& r) { return r.phase == "draining" || r.phase == "terminating"; }

void deployments(std::string& out, const PlatformStatus& s) {
  Family spec(out, "kube_deployment_spec_replicas", "gauge", "Desired replicas of a track.");
  Family current(out, "kube_deployment_status_replicas", "gauge",
                 "Replicas of a track that exist and are not being stopped.");
  Family ready(out, "kube_deployment_status_replicas_ready", "gauge",
               "Ready replicas of the track's release.");
  Family available(out, "kube_deployment_status_replicas_available", "gauge",
                   "Available (ready) replicas of the track's release.");
  Family unavailable(out, "kube_deployment_status_replicas_unavailable", "gauge",
                     "Desired replicas that are not available.");
  Family info(out, "streamgate_track_info", "gauge", "The release a track runs; always 1.");
  for (const auto& [track, t] : s.tracks) {
    const Labels l{{"deployment", deployment_of(track)}};
    const auto existing = std::count_if(t.replicas.begin(), t.replicas.end(),
                                        [](const ReplicaView& r) { return !stopping(r); });
    spec.add(l, t.desired);
    current.add(l, static_cast<double>(existing));
    ready.add(l, t.ready);
    available.add(l, t.ready);
    unavailable.add(l, std::max(0, t.desired - t.ready));
    info.add({{"deployment", deployment_of(track)}, {"track", track}, {"release", t.release}}, 1);
  }
}

void pods(std::string& out, const PlatformStatus& s, const ReplicaLimits& limits) {
  Family restarts(out, "kube_pod_container_status_restarts_total", "counter",
                  "Unexpected exits of a replica since it was created.");
  Family ready(out, "kube_pod_container_status_ready", "gauge",
               "1 when the replica's readiness probe passes.");
  Family waiting(out, "kube_pod_container_status_waiting_reason", "gauge",
                 "1 while a replica waits to be restarted after a crash.");
  Family cpu(out, "container_cpu_usage_seconds_total", "counter",
             "CPU time of the replica's current process.");
  Family memory(out, "container_memory_working_set_bytes", "gauge",
                "Resident memory of the replica's process.");
  Family limit(out, "kube_pod_container_resource_limits", "gauge",
               "What a replica may use: locally the machine's CPUs and memory.");
  Family info(out, "streamgate_replica_info", "gauge", "A replica's track and release; always 1.");
  for (const auto& [track, t] : s.tracks) {
    for (const ReplicaView& r : t.replicas) {
      const Labels l{{"pod", r.name}, {"container", kContainer}};
      restarts.add(l, r.restarts);
      ready.add(l, r.phase == "ready" ? 1 : 0);
      if (r.phase == "backoff") {
        waiting.add({{"pod", r.name}, {"container", kContainer}, {"reason", "CrashLoopBackOff"}},
                    1);
      }
      if (r.cpu_seconds) cpu.add(l, *r.cpu_seconds);
      if (r.rss_mib) memory.add(l, *r.rss_mib * 1024.0 * 1024.0);
      if (limits.cpu_cores) {
        limit.add(
            {{"pod", r.name}, {"container", kContainer}, {"resource", "cpu"}, {"unit", "core"}},
            *limits.cpu_cores);
      }
      if (limits.memory_bytes) {
        limit.add(
            {{"pod", r.name}, {"container", kContainer}, {"resource", "memory"}, {"unit", "byte"}},
            *limits.memory_bytes);
      }
      info.add({{"pod", r.name},
                {"deployment", deployment_of(track)},
                {"track", track},
                {"release", r.release}},
               1);
    }
  }
}

void rollouts(std::string& out, const PlatformStatus& s,
              const std::vector<DeploymentCount>& counts) {
  const auto w = s.weights.find("canary");
  Family(out, "streamgate_canary_weight", "gauge", "Percent of traffic sent to the canary.")
      .add({}, w == s.weights.end() ? 0 : w->second);
  Family(out, "streamgate_gateway_up", "gauge", "1 when the gateway's admin API answers.")
      .add({}, s.gateway.running ? 1 : 0);
  Family(out, "streamgate_rollout_in_progress", "gauge", "1 while a rollout runs.")
      .add({}, s.rollout ? 1 : 0);
  Family phase(out, "streamgate_rollout_phase", "gauge", "The running rollout's phase; 1.");
  Family elapsed(out, "streamgate_rollout_elapsed_seconds", "gauge",
                 "How long the running rollout has run.");
  Family step(out, "streamgate_rollout_step", "gauge", "The running canary's step, from 1.");
  if (s.rollout) {
    const RolloutView& r = *s.rollout;
    phase.add({{"strategy", r.strategy}, {"phase", r.phase}}, 1);
    elapsed.add({{"strategy", r.strategy}}, r.elapsed_s);
    if (r.step) step.add({{"strategy", r.strategy}}, *r.step);
  }
  std::map<std::pair<std::string, std::string>, std::int64_t> finished;
  for (const char* strategy : {"blue-green", "canary"}) {
    for (const char* result : {"promoted", "rolled_back", "failed"}) {
      finished[{strategy, result}] = 0;
    }
  }
  for (const DeploymentCount& c : counts) {
    if (c.result != "in_progress") finished[{c.strategy, c.result}] += c.count;
  }
  Family total(out, "streamgate_rollouts_total", "counter",
               "Finished deployments by strategy and result.");
  for (const auto& [key, n] : finished) {
    total.add({{"strategy", key.first}, {"result", key.second}}, static_cast<double>(n));
  }
}

// kube-state-metrics' HPA series: one autoscaler per track (as the per-version HPAs on
// Kubernetes), horizontalpodautoscaler="streamgate-hpa-<track>".
void autoscalers(std::string& out, const PlatformStatus& s) {
  Family info(out, "kube_horizontalpodautoscaler_info", "gauge",
              "The track an autoscaler scales; always 1.");
  Family min(out, "kube_horizontalpodautoscaler_spec_min_replicas", "gauge",
             "Lower limit of the autoscaler's replicas.");
  Family max(out, "kube_horizontalpodautoscaler_spec_max_replicas", "gauge",
             "Upper limit of the autoscaler's replicas.");
  Family target(out, "kube_horizontalpodautoscaler_spec_target_metric", "gauge",
                "The autoscaler's target per metric (percent of the CPU request, or per replica).");
  Family current(out, "kube_horizontalpodautoscaler_status_current_replicas", "gauge",
                 "Replicas the autoscaler saw at its last evaluation.");
  Family desired(out, "kube_horizontalpodautoscaler_status_desired_replicas", "gauge",
                 "Replicas the autoscaler wants.");
  Family measured(out, "kube_horizontalpodautoscaler_status_target_metric", "gauge",
                  "The metric's value at the last evaluation, in the target's unit.");
  Family condition(out, "kube_horizontalpodautoscaler_status_condition", "gauge",
                   "The autoscaler's conditions: 1 for the status it has, 0 for the others.");
  if (!s.autoscaler) return;
  for (const auto& [track, t] : s.autoscaler->tracks) {
    const std::string hpa = "streamgate-hpa-" + track;
    const Labels l{{"horizontalpodautoscaler", hpa}};
    info.add({{"horizontalpodautoscaler", hpa},
              {"scaletargetref_kind", "Deployment"},
              {"scaletargetref_name", deployment_of(track)}},
             1);
    min.add(l, t.min_replicas);
    max.add(l, t.max_replicas);
    current.add(l, t.current_replicas);
    desired.add(l, t.desired_replicas);
    for (const HpaMetricView& m : t.metrics) {
      const char* type = m.metric == "cpu" ? "utilization" : "average";
      const Labels ml{{"horizontalpodautoscaler", hpa},
                      {"metric_name", m.metric},
                      {"metric_target_type", type}};
      target.add(ml, m.target);
      if (m.current) measured.add(ml, *m.current);
    }
    for (const HpaConditionView& c : t.conditions) {
      for (const char* status : {"true", "false", "unknown"}) {
        const bool has = std::string_view(status) == (c.status ? "true" : "false");
        condition.add(
            {{"horizontalpodautoscaler", hpa}, {"condition", c.type}, {"status", status}},
            has ? 1 : 0);
      }
    }
  }
}

}  // namespace

std::string render_platform_metrics(const PlatformStatus& status,
                                    const std::vector<DeploymentCount>& deployment_counts,
                                    const ReplicaLimits& limits) {
  std::string out;
  out.reserve(8192);
  deployments(out, status);
  pods(out, status, limits);
  rollouts(out, status, deployment_counts);
  autoscalers(out, status);
  return out;
}

}  // namespace sg::platform
