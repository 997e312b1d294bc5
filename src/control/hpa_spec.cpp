#include "control/hpa_spec.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <set>

namespace sg::control {

const char* hpa_metric_name(HpaMetric metric) {
  switch (metric) {
    case HpaMetric::kCpu:
      return "cpu";
    case HpaMetric::kRps:
      return "rps";
    case HpaMetric::kInFlight:
      return "in_flight";
  }
  return "?";
}

const char* select_policy_name(SelectPolicy p) {
  switch (p) {
    case SelectPolicy::kMax:
      return "Max";
    case SelectPolicy::kMin:
      return "Min";
    case SelectPolicy::kDisabled:
      return "Disabled";
  }
  return "?";
}

ScalingRules default_scale_up() {
  return {0,
          SelectPolicy::kMax,
          {{ScalingPolicyType::kPercent, 100, 15}, {ScalingPolicyType::kPods, 4, 15}}};
}

ScalingRules default_scale_down() {
  return {300, SelectPolicy::kMax, {{ScalingPolicyType::kPercent, 100, 15}}};
}

namespace {

Status bad(const std::string& message) { return make_error(ErrorCode::kInvalidArgument, message); }

Status validate_rules(const ScalingRules& r, const std::string& name) {
  if (r.stabilization_window_seconds < 0 || r.stabilization_window_seconds > 3600) {
    return bad(name + ".stabilizationWindowSeconds must be 0..3600, got " +
               std::to_string(r.stabilization_window_seconds));
  }
  if (r.policies.empty() && r.select_policy != SelectPolicy::kDisabled) {
    return bad(name + ".policies: at least one policy is required");
  }
  if (r.policies.size() > 10) return bad(name + ".policies: at most 10");
  for (std::size_t i = 0; i < r.policies.size(); ++i) {
    const auto& p = r.policies[i];
    const std::string at = name + ".policies[" + std::to_string(i) + "]";
    if (p.value <= 0) return bad(at + ".value must be > 0, got " + std::to_string(p.value));
    if (p.period_seconds <= 0 || p.period_seconds > 1800) {
      return bad(at + ".periodSeconds must be 1..1800, got " + std::to_string(p.period_seconds));
    }
  }
  return Status::ok();
}

}  // namespace

Status validate(const HpaSpec& s) {
  if (s.min_replicas < 1 || s.min_replicas > 50) {
    return bad("--min must be 1..50, got " + std::to_string(s.min_replicas));
  }
  if (s.max_replicas < s.min_replicas || s.max_replicas > 50) {
    return bad("--max must be " + std::to_string(s.min_replicas) + "..50 (at least --min), got " +
               std::to_string(s.max_replicas));
  }
  if (s.metrics.empty()) return bad("at least one metric target is required (--cpu, --rps or --in-flight)");
  std::set<HpaMetric> seen;
  for (const auto& m : s.metrics) {
    if (!seen.insert(m.metric).second) {
      return bad(std::string("metric ") + hpa_metric_name(m.metric) + " is given twice");
    }
    if (m.metric == HpaMetric::kCpu && (m.target < 1 || m.target > 1000)) {
      return bad("--cpu must be 1..1000 (percent of the CPU request), got " +
                 std::to_string(m.target));
    }
    if (m.metric != HpaMetric::kCpu && (m.target <= 0 || m.target > 1'000'000'000)) {
      return bad(std::string("--") + (m.metric == HpaMetric::kRps ? "rps" : "in-flight") +
                 " must be > 0 and at most 1000000");
    }
  }
  if (s.cpu_request_millicores < 1 || s.cpu_request_millicores > 64'000) {
    return bad("--cpu-request must be 1m..64, got " + std::to_string(s.cpu_request_millicores) + "m");
  }
  if (!(s.tolerance >= 0 && s.tolerance <= 1)) return bad("tolerance must be 0..1");
  if (s.sync_period.count() < 1 || s.sync_period.count() > 600) {
    return bad("--sync-period must be 1..600 seconds, got " + std::to_string(s.sync_period.count()));
  }
  if (s.cpu_initialization_period.count() < 0 || s.cpu_initialization_period.count() > 3600 ||
      s.initial_readiness_delay.count() < 0 || s.initial_readiness_delay.count() > 3600) {
    return bad("cpu_initialization_period and initial_readiness_delay must be 0..3600 seconds");
  }
  if (Status st = validate_rules(s.behavior.scale_up, "behavior.scaleUp"); !st) return st;
  return validate_rules(s.behavior.scale_down, "behavior.scaleDown");
}

Result<std::int64_t> parse_cpu_quantity(const std::string& text) {
  auto refuse = [&] {
    return make_error(ErrorCode::kInvalidArgument,
                      "--cpu-request must be a CPU quantity like 250m, 0.5 or 1, got '" + text + "'");
  };
  if (text.empty() || text.size() > 16) return refuse();
  if (text.back() == 'm') {
    std::int64_t n = 0;
    const char* end = text.data() + text.size() - 1;
    auto [p, ec] = std::from_chars(text.data(), end, n);
    if (ec != std::errc() || p != end || n <= 0) return refuse();
    return n;
  }
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.') return refuse();
  }
  double cores = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), cores);
  if (ec != std::errc() || p != text.data() + text.size() || !(cores > 0)) return refuse();
  const double milli = std::ceil(cores * 1000.0 - 1e-9);  // a quantity rounds up to 1m
  if (milli > 64'000) return refuse();
  return static_cast<std::int64_t>(milli);
}

}  // namespace sg::control
