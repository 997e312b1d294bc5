// What a deployment asks for, and every default the runbook sets for it, in one place: the
// engine builds the state machines' configs from a RolloutOptions, the control API and the
// CLI read and write one, and nothing else writes a threshold down.
//
// Defaults (../shared/DESIGN.md, "Defaults taken from the runbook"): blue-green readiness
// timeout 300 s, success = error rate < 0.5 % and P95 < 200 ms over a 60 s verification
// window, old colour kept warm 300 s; canary steps 5, 10, 25, 50, 100 % of 60 s each,
// success = error rate < 1 % and P95 < 500 ms. Beyond the runbook: replicas must stay ready
// 10 s before traffic; no verdict before 50 requests; any restart of the new version's
// replicas fails the rollout (budget 0), more than 3 readiness flaps too; with too little
// organic traffic up to 50 synthetic GETs a second (at most 20,000 per rollout) verify it.
// Streaming (viewers' HLS segments, both strategies, from 50 segments on): segment errors
// < 0.5 %, P95 segment time to first byte < 300 ms, rebuffering not significantly above
// stable's (judge.hpp).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "control/judge.hpp"
#include "control/replica_health.hpp"
#include "control/synthetic.hpp"

namespace sg::control {

struct RolloutDefaults {
  static constexpr double kBlueGreenMaxErrorRate = 0.005;
  static constexpr double kBlueGreenMaxP95Ms = 200;
  static constexpr double kCanaryMaxErrorRate = 0.01;
  static constexpr double kCanaryMaxP95Ms = 500;
  static constexpr int kTimeoutS = 300;
  static constexpr int kVerifyS = 60;
  static constexpr int kScaleDownDelayS = 300;
  static constexpr int kStepIntervalS = 60;
  static constexpr int kReadyStabilityS = 10;
  static constexpr int kMinRequests = 50;
  static constexpr int kCanaryReplicas = 1;
  static constexpr int kMaxRestarts = 0;
  static constexpr int kMaxReadinessFlaps = 3;
  static constexpr double kSyntheticRps = 50;
  static constexpr int kSyntheticMaxRequests = 20000;
  static constexpr double kMaxSegmentErrorRate = 0.005;
  static constexpr double kMaxSegmentTtfbMs = 300;
  static constexpr int kMinSegments = 50;
  static std::vector<int> steps() { return {5, 10, 25, 50, 100}; }
  static std::vector<std::string> synthetic_paths() {
    return {"/api/v1/health", "/api/v1/content?limit=20"};
  }
};

enum class Strategy { kBlueGreen, kCanary };
const char* strategy_name(Strategy strategy);  // "blue-green" | "canary"

struct RolloutOptions {
  Strategy strategy = Strategy::kBlueGreen;
  std::string release;
  int timeout_s = RolloutDefaults::kTimeoutS;  // new replicas ready (and a promotion's new stable)
  int verify_s = RolloutDefaults::kVerifyS;    // blue-green verification window
  int scale_down_delay_s = RolloutDefaults::kScaleDownDelayS;  // blue-green: old colour warm
  int step_interval_s = RolloutDefaults::kStepIntervalS;       // canary step duration
  std::vector<int> steps = RolloutDefaults::steps();
  double max_error_rate = -1;  // < 0: the strategy's default
  double max_p95_ms = -1;      // < 0: the strategy's default
  int ready_stability_s = RolloutDefaults::kReadyStabilityS;
  int min_requests = RolloutDefaults::kMinRequests;
  int canary_replicas = RolloutDefaults::kCanaryReplicas;
  int max_restarts = RolloutDefaults::kMaxRestarts;
  int max_readiness_flaps = RolloutDefaults::kMaxReadinessFlaps;
  double synthetic_rps = RolloutDefaults::kSyntheticRps;  // 0: no synthetic traffic
  int synthetic_max_requests = RolloutDefaults::kSyntheticMaxRequests;
  std::vector<std::string> synthetic_paths = RolloutDefaults::synthetic_paths();
  double max_segment_error_rate = RolloutDefaults::kMaxSegmentErrorRate;
  double max_segment_ttfb_ms = RolloutDefaults::kMaxSegmentTtfbMs;
  int min_segments = RolloutDefaults::kMinSegments;

  double error_rate_threshold() const;  // max_error_rate or the strategy's default
  double p95_ms_threshold() const;
};

// Ok, or kInvalidArgument naming the flag and its range ("--timeout must be 1..86400
// seconds"); a release name must already be valid.
Status validate(const RolloutOptions& options);

// A synthetic path: absolute, ASCII, no spaces or control characters, at most 256 bytes.
bool valid_synthetic_path(const std::string& path);

// The judge's configuration for these options.
JudgeConfig judge_config(const RolloutOptions& options);
HealthBudget health_budget(const RolloutOptions& options);
SyntheticConfig synthetic_config(const RolloutOptions& options);

}  // namespace sg::control
