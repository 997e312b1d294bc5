// The HPA's replica calculation for one metric (kubernetes.io, "Horizontal Pod Autoscaling",
// section "Algorithm details"), pure:
//
//   desiredReplicas = ceil[currentReplicas * (currentMetricValue / desiredMetricValue)]
//
// where currentMetricValue is the average over the replicas that have a usable value, and
// nothing changes while |1 - ratio| <= tolerance. Replicas are first sorted as the HPA sorts
// pods:
//   * ignored: being deleted (draining, terminating) or failed; discarded entirely;
//   * unready: pending (no process yet, or backing off); and, for CPU only, not yet ready:
//     within the CPU initialization period a replica counts as unready while it is not
//     ready or has been ready for less than one metric window; after it, only while it is
//     unready and its last readiness transition came within the initial readiness delay of
//     its start (it has never been ready);
//   * missing: running but without a value for the metric;
//   * ready: the rest, whose values form the base ratio.
// The conservative recompute: when values are missing, or some replicas are unready and the
// base ratio says scale up, the average is recomputed with missing replicas at 100 % of the
// target (CPU: max(100 %, target) of the request) on a scale down and 0 on a scale up, and
// unready ones at 0 on a scale up. If the new ratio is within the tolerance or reverses the
// direction, or the new count would move against the direction, the count stays. The value
// reported is always the base (original) average.
//
// Arithmetic as the HPA's: values in integer milli-units; CPU utilization is the integer
// percent (sum of usage * 100 / sum of requests, truncated) and the ratio is that integer
// over the target; a plain metric's average is the truncated integer mean.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "control/hpa_spec.hpp"

namespace sg::control {

using TimePoint = std::chrono::system_clock::time_point;

enum class HpaPodPhase { kPending, kRunning, kFailed };

struct HpaPodMetric {
  std::int64_t milli = 0;  // CPU: millicores used; rps: milli-requests/s; in_flight: milli
  TimePoint timestamp{};   // when the value was measured (end of its window)
  std::chrono::milliseconds window{0};  // the span it averages over
};

// One replica as the HPA sees a pod.
struct HpaPod {
  std::string name;
  HpaPodPhase phase = HpaPodPhase::kRunning;
  bool deleting = false;                // draining or terminating
  std::optional<TimePoint> start_time;  // none: not started
  std::optional<bool> ready;            // the Ready condition; none: not reported yet
  TimePoint ready_transition{};         // the condition's last transition
  std::map<HpaMetric, HpaPodMetric> metrics;
};

struct HpaMetricReplicas {
  int replicas = 0;                // the proposal
  std::int64_t current = 0;        // CPU: utilization percent; else the average in milli-units
  std::int64_t raw_average = 0;    // the average value in milli-units (CPU: millicores)
  int ready = 0;
  int unready = 0;
  int missing = 0;
  int ignored = 0;
  bool recomputed = false;  // the conservative recompute ran
};

// The proposal for one metric target. Errors (kUnavailable): no replicas, or no usable value
// from any of them; the message says which, as the HPA's does.
Result<HpaMetricReplicas> metric_replicas(const HpaSpec& spec, const HpaMetricTarget& target,
                                          int current_replicas, const std::vector<HpaPod>& pods,
                                          TimePoint now);

}  // namespace sg::control
