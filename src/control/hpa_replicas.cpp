#include "control/hpa_replicas.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace sg::control {

namespace {

struct Groups {
  int ready = 0;
  std::set<std::string> unready;
  std::set<std::string> missing;
  std::set<std::string> ignored;
};

// Whether a running replica's CPU value is set aside as "not yet ready".
bool cpu_unready(const HpaSpec& spec, const HpaPod& pod, const HpaPodMetric& m, TimePoint now) {
  if (!pod.ready || !pod.start_time) return true;
  if (*pod.start_time + spec.cpu_initialization_period > now) {
    // Within initialization: unready, or not one full metric window since it became ready.
    return !*pod.ready || m.timestamp < pod.ready_transition + m.window;
  }
  // After it: only a replica that is unready and has never been ready.
  return !*pod.ready && *pod.start_time + spec.initial_readiness_delay > pod.ready_transition;
}

Groups group(const HpaSpec& spec, HpaMetric metric, const std::vector<HpaPod>& pods,
             std::map<std::string, std::int64_t>& values, TimePoint now) {
  Groups g;
  for (const auto& pod : pods) {
    if (pod.deleting || pod.phase == HpaPodPhase::kFailed) {
      g.ignored.insert(pod.name);
      continue;
    }
    if (pod.phase == HpaPodPhase::kPending) {
      g.unready.insert(pod.name);
      continue;
    }
    const auto m = pod.metrics.find(metric);
    if (m == pod.metrics.end()) {
      g.missing.insert(pod.name);
      continue;
    }
    if (metric == HpaMetric::kCpu && cpu_unready(spec, pod, m->second, now)) {
      g.unready.insert(pod.name);
      continue;
    }
    values[pod.name] = m->second.milli;
    ++g.ready;
  }
  return g;
}

struct Usage {
  double ratio = 0;
  std::int64_t current = 0;
  std::int64_t raw = 0;
};

// CPU: integer utilization percent of the summed requests (every replica has the same one).
Usage cpu_usage(const std::map<std::string, std::int64_t>& values, std::int64_t request,
                std::int64_t target) {
  std::int64_t total = 0;
  for (const auto& [name, v] : values) total += v;
  const std::int64_t requests = request * static_cast<std::int64_t>(values.size());
  Usage u;
  u.current = total * 100 / requests;
  u.ratio = static_cast<double>(u.current) / static_cast<double>(target);
  u.raw = total / static_cast<std::int64_t>(values.size());
  return u;
}

Usage plain_usage(const std::map<std::string, std::int64_t>& values, std::int64_t target) {
  std::int64_t total = 0;
  for (const auto& [name, v] : values) total += v;
  Usage u;
  u.current = total / static_cast<std::int64_t>(values.size());
  u.raw = u.current;
  u.ratio = static_cast<double>(u.current) / static_cast<double>(target);
  return u;
}

bool within(double tolerance, double ratio) { return std::abs(1.0 - ratio) <= tolerance; }

int ceil_count(double ratio, std::size_t n) {
  return static_cast<int>(std::ceil(ratio * static_cast<double>(n)));
}

}  // namespace

Result<HpaMetricReplicas> metric_replicas(const HpaSpec& spec, const HpaMetricTarget& target,
                                          int current_replicas, const std::vector<HpaPod>& pods,
                                          TimePoint now) {
  if (pods.empty()) {
    return make_error(ErrorCode::kUnavailable,
                      "no replicas returned by the track while calculating replica count");
  }
  const bool cpu = target.metric == HpaMetric::kCpu;
  std::map<std::string, std::int64_t> values;
  const Groups g = group(spec, target.metric, pods, values, now);
  if (values.empty()) {
    return make_error(ErrorCode::kUnavailable,
                      "did not receive metrics for targeted replicas (replicas might be unready)");
  }
  auto usage = [&] {
    return cpu ? cpu_usage(values, spec.cpu_request_millicores, target.target)
               : plain_usage(values, target.target);
  };
  const Usage base = usage();
  HpaMetricReplicas out;
  out.current = base.current;
  out.raw_average = base.raw;
  out.ready = g.ready;
  out.unready = static_cast<int>(g.unready.size());
  out.missing = static_cast<int>(g.missing.size());
  out.ignored = static_cast<int>(g.ignored.size());

  const bool scale_up_with_unready = !g.unready.empty() && base.ratio > 1.0;
  if (!scale_up_with_unready && g.missing.empty()) {
    out.replicas = within(spec.tolerance, base.ratio) ? current_replicas
                                                      : ceil_count(base.ratio, g.ready);
    return out;
  }
  out.recomputed = true;
  if (base.ratio < 1.0) {
    // A scale down: missing replicas count as using the target (CPU: their whole request, or
    // the target where it is above 100 %).
    const std::int64_t fallback =
        cpu ? spec.cpu_request_millicores * std::max<std::int64_t>(100, target.target) / 100
            : target.target;
    for (const auto& name : g.missing) values[name] = fallback;
  } else if (base.ratio > 1.0) {
    for (const auto& name : g.missing) values[name] = 0;
  }
  if (scale_up_with_unready) {
    for (const auto& name : g.unready) values[name] = 0;
  }
  const Usage next = usage();
  if (within(spec.tolerance, next.ratio) || (base.ratio < 1.0 && next.ratio > 1.0) ||
      (base.ratio > 1.0 && next.ratio < 1.0)) {
    out.replicas = current_replicas;
    return out;
  }
  const int proposal = ceil_count(next.ratio, values.size());
  if ((next.ratio < 1.0 && proposal > current_replicas) ||
      (next.ratio > 1.0 && proposal < current_replicas)) {
    out.replicas = current_replicas;
    return out;
  }
  out.replicas = proposal;
  return out;
}

}  // namespace sg::control
