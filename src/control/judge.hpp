// The analysis judge: decides from one track's traffic whether a canary (or a new blue-green
// colour) meets its thresholds, breaks them, or cannot be judged yet. Pure function, no I/O.
//
// Method. Two binomial sequential probability ratio tests (Wald's SPRT) over the sample's
// counts, plus a comparison with the stable track in the same window.
//
//  * Errors. H0: p = p0 = max_error_rate / 2 against H1: p = p1 = max_error_rate, with
//      LLR = e * ln(p1 / p0) + (n - e) * ln((1 - p1) / (1 - p0)).
//    Fail when LLR >= A = ln((1 - beta) / alpha); pass side when LLR <= B = ln(beta / (1 - alpha)).
//    With the defaults (1 %, alpha = beta = 0.01) A = -B = 4.595; the LLR has zero drift at an
//    error rate of 0.72 %, so rates above it fail eventually and rates below it pass eventually.
//    A canary whose error rate is exactly max_error_rate is H1 and is failed, never passed:
//    the runbook's criterion is "error rate < 1 %".
//  * Latency. A request is "slow" when its latency exceeds max_latency_seconds. The slow count
//    comes from the histogram: buckets entirely above the threshold count fully, the bucket
//    straddling it counts its share above the threshold by linear interpolation, and the
//    overflow bucket (above the last bound) counts fully when the threshold lies in it. The
//    count is therefore off by at most the straddling bucket's count (reported as evidence
//    "slow_count_uncertainty"). Then the same SPRT on the slow fraction with
//    p1 = 1 - latency_quantile (0.05: "P95 < threshold") and p0 = p1 / 2.
//  * Comparison with stable, when a stable sample with >= min_requests is given: fail when the
//    canary's error rate > relative_error_factor * stable's AND exceeds it by more than
//    relative_min_excess AND a one-sided test rejects equal rates at level comparison_alpha
//    (0.001: the test is a fixed-sample test repeated at every look, and at alpha = 0.01 per
//    look it failed 1.75 % of healthy canaries over 30 looks; at 0.001, see the test). It is
//    the exact conditional binomial test (given the k errors of both tracks, the canary's
//    share is Binomial(k, canary requests / all requests) under equal rates), not the pooled
//    z-test: with rare errors and small windows the z-test's normal approximation failed
//    about 8 % of healthy canaries in the Monte-Carlo test instead of about 1 %. The z value
//    is still reported. A canary much worse than stable fails even under the absolute
//    threshold.
//
// Streaming signals (the sample's `streaming` part: HLS segments as viewers fetched them through
// the gateway), checked once the canary has served min_segments segments, so a release nobody
// watched is judged as before:
//  * Segment errors: the same binomial SPRT on segment_errors of segments with
//    p1 = max_segment_error_rate (0.5 %), p0 = p1 / 2.
//  * Segment time to first byte: the same SPRT on the fraction of segments slower than
//    max_segment_ttfb_seconds (300 ms) from the TTFB histogram, p1 = 1 - latency_quantile:
//    "P95 segment TTFB < 300 ms".
//  * Rebuffering relative to stable: CMCD buffer-starvation reports per session-minute. With a
//    stable sample that has min_session_minutes, fail when the canary's rate is above
//    rebuffer_factor x stable's AND above it by more than rebuffer_min_excess per minute AND
//    the exact conditional test rejects equal rates at comparison_alpha (given k reports on
//    both tracks, the canary's share is Binomial(k, canary minutes / all minutes) when the two
//    rates are equal: reports as Poisson counts over session-minutes).
// Any streaming check failing fails the verdict. For a pass, each streaming SPRT must be on its
// pass side once the canary served enough segments for a clean canary to get there (1,832 for
// segment errors at 0.5 %, 177 for TTFB at P95); with fewer segments the streaming checks can
// only fail a release. So a release watched by few viewers is not held back for lack of
// segments, at a price stated plainly: until those counts, a release whose segments fail too
// rarely to reach the fail boundary is not shown healthy by them, only not shown broken.
// The false-alarm bound below applies to each SPRT alike (four SPRTs: <= 4 alpha / (1 - beta)
// in all). 5 % failed segments fail after about 140 segments; 400 ms TTFB on every segment
// fails as soon as the checks apply (7 slow segments reach the boundary).
//
// Outcome. No verdict of any kind before the canary has min_requests requests (kInconclusive,
// reason "N of M requests"). kFail when any check fails; kPass only when both SPRTs reached
// their pass side and the comparison does not fail; otherwise kInconclusive.
//
// False-alarm rate. For a sample that holds counts cumulated since the track's first request
// and is judged repeatedly as it grows, a healthy canary (true error rate <= p0 and slow
// fraction <= p0) is failed by one SPRT with probability <= exp(-A) = alpha / (1 - beta)
// (about 1 %), even if judging continues after it reached the pass side (the LLR is then a
// supermartingale under H0 and cannot rise to A with higher probability). Both SPRTs together:
// <= 2 alpha / (1 - beta); the comparison adds at most comparison_alpha per look when canary
// and stable are equal (the exact test is conservative, so much less in practice). Measured
// (judge_test): 2 of 2,000 canaries at 0.3 % errors, judged every 100 requests up to 3,000
// against a 0.3 % stable, were failed (0.1 %). A sliding window re-uses requests across looks
// and only approximates these bounds. A bad canary (rate >= p1) reaches the pass side with
// probability <= beta.
//
// Traffic needed (defaults): a 5 % error canary is failed by the error SPRT after 168 requests
// on average (the comparison with a clean stable usually fails it sooner, at min_requests); a
// canary with no errors reaches the error pass side after 912 requests (1832 at the blue-green
// threshold of 0.5 %). Any verdict needs min_requests (50).
#pragma once

#include <cstdint>
#include <vector>

#include "control/analysis_types.hpp"

namespace sg::control {

struct JudgeConfig {
  double max_error_rate = 0.01;        // fail at or above; pass needs the rate well below
  double max_latency_seconds = 0.5;    // the latency quantile must stay under this
  double latency_quantile = 0.95;      // P95
  double alpha = 0.01;                 // false alarm: a healthy canary failed
  double beta = 0.01;                  // missed bad canary: a bad canary passed
  std::uint64_t min_requests = 50;     // no verdict before this many canary requests
  double relative_error_factor = 3.0;  // comparison: canary rate > factor * stable rate ...
  double relative_min_excess = 0.005;  // ... and canary rate - stable rate > this
  double comparison_alpha = 0.001;     // ... and the exact test rejects equal rates at this level
  // Streaming signals (see above).
  double max_segment_error_rate = 0.005;   // segment 5xx: fail at or above
  double max_segment_ttfb_seconds = 0.3;   // the segment TTFB quantile must stay under this
  std::uint64_t min_segments = 50;         // streaming checks apply from this many segments
  double rebuffer_factor = 2.0;            // rebuffering: canary rate > factor * stable's ...
  double rebuffer_min_excess = 0.1;        // ... and above it by this many per session-minute
  double min_session_minutes = 10;         // ... with this many session-minutes on each track
};

// Judges `canary` against `config`, and against `stable` when it is given (may be null).
// The verdict's evidence holds: requests, errors, error_rate, p95_ms, slow_fraction,
// slow_count_uncertainty, llr_errors, llr_latency, sprt_fail_boundary, sprt_pass_boundary,
// threshold_error_rate, threshold_latency_ms, latency_quantile, min_requests and, with a
// stable sample, stable_requests, stable_error_rate, comparison_z, comparison_p_value. With
// streaming traffic also: segments, segment_errors, segment_error_rate, segment_ttfb_p50_ms,
// segment_ttfb_p95_ms, segment_slow_fraction, llr_segment_errors, llr_segment_ttfb,
// threshold_segment_error_rate, threshold_segment_ttfb_ms, sessions_started,
// session_minutes, rebuffer_reports, rebuffer_per_minute, mean_throughput_kbps and, with a
// stable sample, stable_rebuffer_per_minute, rebuffer_p_value.
Verdict judge(const TrafficSample& canary, const TrafficSample* stable, const JudgeConfig& config);

// Clean trials (no error, nothing slow) for one binomial SPRT with p1 (p0 = p1 / 2) to fall
// from 0 to its pass boundary: each adds ln((1 - p1) / (1 - p0)) < 0 to the LLR. 913 at
// p1 = 1 %, 1,832 at 0.5 %, 177 at 5 % (alpha = beta = 0.01).
std::uint64_t clean_trials_to_pass(double p1, const JudgeConfig& config);

// The latency quantile q (0..1) estimated from the sample's histogram by linear interpolation
// inside the bucket holding it, in seconds; the last bound when it falls in the overflow
// bucket (a lower bound then); -1 when the histogram is empty or malformed.
double histogram_quantile(const TrafficSample& sample, double q);
// The same for any histogram in that shape (counts.size() == bounds.size() + 1).
double histogram_quantile(const std::vector<double>& bounds,
                          const std::vector<std::uint64_t>& counts, double q);

// The (fractional) number of requests slower than `threshold_seconds`, as described above,
// the count of the bucket straddling the threshold (the error bound) and the histogram's
// total. All zero when the histogram is empty or malformed (counts.size() != bounds.size() + 1).
struct SlowCount {
  double slow = 0;
  double uncertainty = 0;
  double total = 0;
};
SlowCount count_slow(const TrafficSample& sample, double threshold_seconds);
SlowCount count_slow(const std::vector<double>& bounds, const std::vector<std::uint64_t>& counts,
                     double threshold_seconds);

}  // namespace sg::control
