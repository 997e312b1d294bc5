// What an autoscaler is asked for: the Kubernetes HorizontalPodAutoscaler's autoscaling/v2
// spec, reduced to the metrics the local platform measures, with the same defaults and
// limits ("Horizontal Pod Autoscaling", kubernetes.io, sections "Algorithm details" and
// "Configurable scaling behavior"; the HPAScalingRules API reference).
//
// Metrics (each a per-replica average, like the HPA's Resource and Pods metric sources):
//   * cpu: utilization in percent of the configured CPU request (Resource, type Utilization);
//   * rps: requests per second per replica (Pods, type AverageValue);
//   * in_flight: requests in flight per replica (Pods, type AverageValue).
// Values travel as integer milli-units (1 rps = 1000), as the HPA's quantities do, so the
// arithmetic (and its truncations) is the HPA's.
//
// Behavior defaults (the documented "Default Behavior"): scale up with no stabilization,
// at most max(4 pods, 100 %) added per 15 s (selectPolicy Max); scale down after a 300 s
// stabilization window, at most 100 % removed per 15 s. Tolerance 0.1; a replica's CPU is
// not trusted during its CPU initialization period (300 s) until it has been ready for one
// metric window; readiness transitions within 30 s of start count as initial.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace sg::control {

enum class HpaMetric { kCpu, kRps, kInFlight };
const char* hpa_metric_name(HpaMetric metric);  // "cpu" | "rps" | "in_flight"

struct HpaMetricTarget {
  HpaMetric metric = HpaMetric::kCpu;
  // kCpu: average utilization in percent of the request (1..1000); else the average value
  // per replica in milli-units (> 0).
  std::int64_t target = 70;
  bool operator==(const HpaMetricTarget&) const = default;
};

enum class ScalingPolicyType { kPods, kPercent };
struct ScalingPolicy {
  ScalingPolicyType type = ScalingPolicyType::kPercent;
  int value = 100;          // > 0
  int period_seconds = 15;  // 1..1800
  bool operator==(const ScalingPolicy&) const = default;
};

enum class SelectPolicy { kMax, kMin, kDisabled };
const char* select_policy_name(SelectPolicy p);  // "Max" | "Min" | "Disabled"

struct ScalingRules {
  int stabilization_window_seconds = 0;  // 0..3600
  SelectPolicy select_policy = SelectPolicy::kMax;
  std::vector<ScalingPolicy> policies;  // at least one unless Disabled
  bool operator==(const ScalingRules&) const = default;
};

ScalingRules default_scale_up();    // window 0; Percent 100 / 15 s, Pods 4 / 15 s; Max
ScalingRules default_scale_down();  // window 300; Percent 100 / 15 s; Max

struct HpaBehavior {
  ScalingRules scale_up = default_scale_up();
  ScalingRules scale_down = default_scale_down();
  bool operator==(const HpaBehavior&) const = default;
};

struct HpaSpec {
  int min_replicas = 2;   // 1..50
  int max_replicas = 10;  // min..50
  std::vector<HpaMetricTarget> metrics{{HpaMetric::kCpu, 70}};  // 1..3, one per kind
  std::int64_t cpu_request_millicores = 250;  // the CPU request utilization is relative to
  HpaBehavior behavior;
  double tolerance = 0.1;  // 0..1
  std::chrono::seconds cpu_initialization_period{300};
  std::chrono::seconds initial_readiness_delay{30};
  std::chrono::seconds sync_period{15};  // how often the loop evaluates (1..600 s)
  bool operator==(const HpaSpec&) const = default;
};

// Ok, or kInvalidArgument naming the field and the allowed range. (JSON codecs:
// src/platform/hpa_json.hpp.)
Status validate(const HpaSpec& spec);

// "250m" -> 250, "0.5" -> 500, "1" -> 1000 (Kubernetes CPU quantities); kInvalidArgument else.
Result<std::int64_t> parse_cpu_quantity(const std::string& text);

}  // namespace sg::control
