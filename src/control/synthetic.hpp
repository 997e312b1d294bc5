// Verification without users. When organic traffic is too thin for the judge to reach a
// verdict within its window, the engine sends synthetic GETs to the new version (read-only
// paths, a rate cap, a per-rollout budget) and the judge weighs them like user traffic; the
// evidence says how many of the requests behind a verdict were synthetic. This file decides
// how many: the rate that tops organic traffic up to what the judge needs, and nothing when
// organic traffic suffices. Pure functions.
//
// Limitation, stated in the docs: synthetic GETs exercise what they ask for (health and list
// by default); a release that fails only on other routes is caught by organic traffic on
// them, which the synthetic requests dilute only as far as needed to reach a verdict.
#pragma once

#include <cstdint>

#include "control/analysis_types.hpp"
#include "control/judge.hpp"

namespace sg::control {

struct SyntheticConfig {
  double max_rps = 50;                 // 0: never send synthetic requests
  std::uint64_t max_requests = 20000;  // per rollout
};

// Requests a sample without errors or slow requests needs for both of the judge's SPRTs to
// reach their pass side (and at least min_requests): 912 at the canary defaults, 1835 at
// the blue-green ones.
std::uint64_t requests_to_pass(const JudgeConfig& judge);

struct SyntheticInput {
  std::uint64_t sample_requests = 0;  // organic + synthetic requests judged so far
  std::uint64_t needed = 0;           // requests_to_pass
  double organic_rps = 0;             // organic rate on the new version now
  double time_left_s = 0;             // until the window ends (<= 0: it has ended)
  std::uint64_t synthetic_sent = 0;   // this rollout's synthetic requests so far
};

// The synthetic rate (requests per second) to send now: enough with the organic rate to
// reach `needed` by the end of the window (the cap once the window has ended), 0 when the
// sample has enough or organic traffic alone gets there, or the budget is spent.
double synthetic_rps(const SyntheticConfig& config, const SyntheticInput& input);

// Adds `b` into `a` (counts and histogram; a histogram with other bounds is ignored).
TrafficSample merge_samples(TrafficSample a, const TrafficSample& b);

}  // namespace sg::control
