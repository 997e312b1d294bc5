#include "control/rollout_options.hpp"

#include "control/rollout.hpp"

namespace sg::control {

const char* strategy_name(Strategy strategy) {
  return strategy == Strategy::kCanary ? "canary" : "blue-green";
}

double RolloutOptions::error_rate_threshold() const {
  if (max_error_rate >= 0) return max_error_rate;
  return strategy == Strategy::kCanary ? RolloutDefaults::kCanaryMaxErrorRate
                                       : RolloutDefaults::kBlueGreenMaxErrorRate;
}

double RolloutOptions::p95_ms_threshold() const {
  if (max_p95_ms >= 0) return max_p95_ms;
  return strategy == Strategy::kCanary ? RolloutDefaults::kCanaryMaxP95Ms
                                       : RolloutDefaults::kBlueGreenMaxP95Ms;
}

bool valid_synthetic_path(const std::string& path) {
  if (path.empty() || path.size() > 256 || path.front() != '/') return false;
  for (char c : path) {
    if (c <= ' ' || c >= 0x7f) return false;
  }
  return true;
}

namespace {

Status bad(const std::string& message) {
  return Status(make_error(ErrorCode::kInvalidArgument, message));
}

bool within(int value, int lo, int hi) { return value >= lo && value <= hi; }

}  // namespace

Status validate(const RolloutOptions& r) {
  if (r.release.empty()) return bad("a release is required");
  if (!within(r.timeout_s, 1, 86400)) return bad("--timeout must be 1..86400 seconds");
  if (!within(r.verify_s, 1, 86400)) return bad("--verify must be 1..86400 seconds");
  if (!within(r.scale_down_delay_s, 0, 86400)) {
    return bad("--scale-down-delay must be 0..86400 seconds");
  }
  if (!within(r.step_interval_s, 1, 86400)) return bad("--step-interval must be 1..86400 seconds");
  if (!within(r.ready_stability_s, 0, 3600)) return bad("--ready-stability must be 0..3600 seconds");
  if (!within(r.min_requests, 1, 1000000)) return bad("--min-requests must be 1..1000000");
  if (!within(r.canary_replicas, 1, 50)) return bad("--canary-replicas must be 1..50");
  if (!within(r.max_restarts, 0, 1000)) return bad("--max-restarts must be 0..1000");
  if (!within(r.max_readiness_flaps, 0, 1000)) {
    return bad("--max-readiness-flaps must be 0..1000");
  }
  if (r.max_error_rate >= 0 && (r.max_error_rate <= 0 || r.max_error_rate >= 0.5)) {
    return bad("--max-error-rate must be in (0, 0.5), e.g. 0.01 for 1 %");
  }
  if (r.max_p95_ms >= 0 && (r.max_p95_ms < 1 || r.max_p95_ms > 600000)) {
    return bad("--max-p95-ms must be 1..600000");
  }
  if (!(r.max_segment_error_rate > 0 && r.max_segment_error_rate < 0.5)) {
    return bad("--max-segment-error-rate must be in (0, 0.5), e.g. 0.005 for 0.5 %");
  }
  if (!(r.max_segment_ttfb_ms >= 1 && r.max_segment_ttfb_ms <= 600000)) {
    return bad("--max-segment-ttfb-ms must be 1..600000");
  }
  if (!within(r.min_segments, 1, 1000000)) return bad("--min-segments must be 1..1000000");
  if (!(r.synthetic_rps >= 0 && r.synthetic_rps <= 1000)) {
    return bad("--synthetic-rps must be 0..1000 (0: no synthetic requests)");
  }
  if (!within(r.synthetic_max_requests, 0, 1000000)) {
    return bad("--synthetic-max-requests must be 0..1000000");
  }
  if (r.synthetic_paths.empty() && r.synthetic_rps > 0) {
    return bad("--synthetic-path: give at least one path, or --synthetic-rps 0");
  }
  if (r.synthetic_paths.size() > 16) return bad("--synthetic-path: at most 16 paths");
  for (const auto& p : r.synthetic_paths) {
    if (!valid_synthetic_path(p)) {
      return bad("--synthetic-path '" + p +
                 "' must be an absolute path (/...) of printable ASCII, at most 256 bytes");
    }
  }
  if (r.strategy == Strategy::kCanary) {
    CanaryConfig c;
    c.steps = r.steps;
    c.judge = judge_config(r);
    if (Status s = validate(c); !s) return s;
  }
  return Status::ok();
}

JudgeConfig judge_config(const RolloutOptions& r) {
  JudgeConfig j;
  j.max_error_rate = r.error_rate_threshold();
  j.max_latency_seconds = r.p95_ms_threshold() / 1000.0;
  j.min_requests = static_cast<std::uint64_t>(r.min_requests);
  j.max_segment_error_rate = r.max_segment_error_rate;
  j.max_segment_ttfb_seconds = r.max_segment_ttfb_ms / 1000.0;
  j.min_segments = static_cast<std::uint64_t>(r.min_segments);
  return j;
}

HealthBudget health_budget(const RolloutOptions& r) {
  return {.max_restarts = r.max_restarts, .max_readiness_flaps = r.max_readiness_flaps};
}

SyntheticConfig synthetic_config(const RolloutOptions& r) {
  return {.max_rps = r.synthetic_rps,
          .max_requests = static_cast<std::uint64_t>(r.synthetic_max_requests)};
}

}  // namespace sg::control
