// The judge's streaming signals (judge.hpp): segment errors and segment time to first byte by
// the same SPRT as the request checks, rebuffering compared with stable, and the pass rule
// with viewers' traffic.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include "control/judge.hpp"
#include "control/synthetic.hpp"
#include "traffic_sim.hpp"

namespace sg::control {
namespace {

using test::add_requests;
using test::empty_sample;
using test::kBounds;
using test::Rng;
using Outcome = Verdict::Outcome;

double evidence(const Verdict& v, const std::string& name) {
  for (const auto& [key, value] : v.evidence) {
    if (key == name) return value;
  }
  return NAN;
}

// Adds `n` segments to the sample's streaming part (and as requests of the sample): each a
// 5xx with probability `error_rate`, each with a TTFB drawn uniformly in [0.5, 1.5) x `ttfb`.
void add_segments(TrafficSample& s, std::uint64_t n, double error_rate, double ttfb, Rng& rng) {
  StreamingSample& st = s.streaming;
  if (st.ttfb_bounds.empty()) {
    st.ttfb_bounds = kBounds;
    st.ttfb_counts.assign(kBounds.size() + 1, 0);
  }
  for (std::uint64_t i = 0; i < n; ++i) {
    const bool error = rng.uniform() < error_rate;
    const double t = ttfb * (0.5 + rng.uniform());
    ++st.segments;
    ++s.requests;
    if (error) {
      ++st.segment_errors;
      ++s.errors;
    }
    std::size_t b = 0;
    while (b < kBounds.size() && t > kBounds[b]) ++b;
    ++st.ttfb_counts[b];
    test::add_latency(s, t);
  }
}

// An API-healthy canary: `api` requests at 20 ms, no errors.
TrafficSample healthy_api(std::uint64_t api, Rng& rng) {
  TrafficSample s = empty_sample();
  add_requests(s, api, 0, 0.02, rng);
  return s;
}

TEST(JudgeStreaming, SlowSegmentsFailWhileTheRequestChecksPass) {
  Rng rng(7);
  TrafficSample canary = healthy_api(3000, rng);
  // 400 ms to first byte: under the request threshold (500 ms), over the segment one (300 ms).
  add_segments(canary, 150, 0, 0.4, rng);
  const Verdict v = judge(canary, nullptr, JudgeConfig{});
  EXPECT_EQ(v.outcome, Outcome::kFail) << v.reason;
  EXPECT_NE(v.reason.find("segments slower than 300 ms to first byte"), std::string::npos)
      << v.reason;
  EXPECT_EQ(v.reason.find("error rate"), std::string::npos) << v.reason;
  EXPECT_EQ(v.reason.find("of requests slower"), std::string::npos) << v.reason;
  EXPECT_LT(evidence(v, "p95_ms"), 500);
  EXPECT_EQ(evidence(v, "error_rate"), 0);
  EXPECT_GT(evidence(v, "segment_ttfb_p95_ms"), 300);
  EXPECT_GT(evidence(v, "llr_segment_ttfb"), evidence(v, "sprt_fail_boundary"));
}

TEST(JudgeStreaming, FailingSegmentsFailWhileTheRequestErrorRateStaysUnderItsThreshold) {
  Rng rng(8);
  TrafficSample canary = healthy_api(6000, rng);
  add_segments(canary, 1000, 0.03, 0.02, rng);  // 3 % of segments: ~0.4 % of all requests
  const Verdict v = judge(canary, nullptr, JudgeConfig{});
  EXPECT_EQ(v.outcome, Outcome::kFail) << v.reason;
  EXPECT_NE(v.reason.find("segment error rate"), std::string::npos) << v.reason;
  EXPECT_EQ(v.reason.rfind("error rate", 0), std::string::npos) << "request check: " << v.reason;
  EXPECT_LT(evidence(v, "error_rate"), 0.01);
  EXPECT_GT(evidence(v, "segment_error_rate"), 0.005);
}

TEST(JudgeStreaming, BelowMinSegmentsTheStreamingChecksDoNotApply) {
  Rng rng(9);
  TrafficSample canary = healthy_api(3000, rng);
  add_segments(canary, 49, 0.5, 2.0, rng);  // terrible, but only 49 segments
  // The 49 segments are requests too: keep the request checks passing with clean ones.
  add_requests(canary, 2000, 0, 0.02, rng);
  const Verdict v = judge(canary, nullptr, JudgeConfig{});
  EXPECT_EQ(v.outcome, Outcome::kPass) << v.reason;
  EXPECT_NE(v.reason.find("49 of 50 needed for the streaming checks"), std::string::npos)
      << v.reason;
}

TEST(JudgeStreaming, SegmentTestsMustPassOnceEnoughSegmentsCouldHavePassed) {
  const JudgeConfig config;
  EXPECT_EQ(clean_trials_to_pass(0.01, config), 913u);
  EXPECT_EQ(clean_trials_to_pass(0.005, config), 1832u);
  EXPECT_EQ(clean_trials_to_pass(0.05, config), 177u);
  Rng rng(10);
  // Below 1,832 segments a clean canary passes on the TTFB test (177) and requests alone.
  TrafficSample canary = healthy_api(3000, rng);
  add_segments(canary, 1800, 0, 0.05, rng);
  Verdict v = judge(canary, nullptr, config);
  EXPECT_EQ(v.outcome, Outcome::kPass) << v.reason;
  EXPECT_NE(v.reason.find("(the segment tests must pass from 1832)"), std::string::npos)
      << v.reason;
  // From 1,832 on the segment-error SPRT must be on its pass side: 4 errors in 2,400
  // segments (0.17 %) leave it undecided...
  canary = healthy_api(3000, rng);
  add_segments(canary, 2396, 0, 0.05, rng);
  add_segments(canary, 4, 1, 0.05, rng);
  v = judge(canary, nullptr, config);
  EXPECT_EQ(v.outcome, Outcome::kInconclusive) << v.reason;
  EXPECT_GT(evidence(v, "llr_segment_errors"), evidence(v, "sprt_pass_boundary"));
  // ... until enough clean ones follow.
  add_segments(canary, 600, 0, 0.05, rng);
  v = judge(canary, nullptr, config);
  EXPECT_EQ(v.outcome, Outcome::kPass) << v.reason;
  EXPECT_LE(evidence(v, "llr_segment_errors"), evidence(v, "sprt_pass_boundary"));
}

TEST(JudgeStreaming, RebufferingFarAboveStableFails) {
  Rng rng(11);
  TrafficSample canary = healthy_api(3000, rng);
  add_segments(canary, 2000, 0, 0.05, rng);
  TrafficSample stable = healthy_api(3000, rng);
  add_segments(stable, 2000, 0, 0.05, rng);
  canary.streaming.session_minutes = 40;
  canary.streaming.rebuffer_reports = 30;  // 0.75 per session-minute
  stable.streaming.session_minutes = 100;
  stable.streaming.rebuffer_reports = 3;  // 0.03
  Verdict v = judge(canary, &stable, JudgeConfig{});
  EXPECT_EQ(v.outcome, Outcome::kFail) << v.reason;
  EXPECT_NE(v.reason.find("rebuffering 0.75/session-minute vs stable 0.03"), std::string::npos)
      << v.reason;
  EXPECT_LT(evidence(v, "rebuffer_p_value"), 0.001);
  // The same rate on both tracks is not a failure, nor is a small excess.
  canary.streaming.rebuffer_reports = 2;  // 0.05 per minute vs 0.03
  v = judge(canary, &stable, JudgeConfig{});
  EXPECT_EQ(v.outcome, Outcome::kPass) << v.reason;
  EXPECT_NE(v.reason.find("rebuffering 0.05/min vs stable 0.03"), std::string::npos) << v.reason;
  // Too few session-minutes on stable: no comparison.
  canary.streaming.rebuffer_reports = 30;
  stable.streaming.session_minutes = 9;
  v = judge(canary, &stable, JudgeConfig{});
  EXPECT_NE(v.outcome, Outcome::kFail) << v.reason;
  EXPECT_TRUE(std::isnan(evidence(v, "rebuffer_p_value")));
}

TEST(JudgeStreaming, ApiOnlyTrafficCarriesNoStreamingEvidence) {
  Rng rng(12);
  const TrafficSample canary = healthy_api(3000, rng);
  const Verdict v = judge(canary, nullptr, JudgeConfig{});
  EXPECT_EQ(v.outcome, Outcome::kPass) << v.reason;
  EXPECT_TRUE(std::isnan(evidence(v, "segments")));
  EXPECT_EQ(v.reason.find("segments"), std::string::npos) << v.reason;
}

TEST(JudgeStreaming, MergeSamplesAddsTheStreamingCounts) {
  Rng rng(13);
  TrafficSample a = empty_sample(), b = empty_sample();
  add_segments(a, 10, 0, 0.05, rng);
  add_segments(b, 5, 1, 0.05, rng);
  a.streaming.session_minutes = 2;
  b.streaming.session_minutes = 3;
  b.streaming.throughput_reports = 4;
  b.streaming.throughput_kbps_sum = 4000;
  const TrafficSample m = merge_samples(a, b);
  EXPECT_EQ(m.streaming.segments, 15u);
  EXPECT_EQ(m.streaming.segment_errors, 5u);
  EXPECT_EQ(m.streaming.session_minutes, 5u);
  EXPECT_EQ(m.streaming.throughput_reports, 4u);
  EXPECT_EQ(m.streaming.throughput_kbps_sum, 4000);
  std::uint64_t total = 0;
  for (auto c : m.streaming.ttfb_counts) total += c;
  EXPECT_EQ(total, 15u);
}

// The stated false-alarm rate with viewers' traffic: healthy canaries (0.1 % segment errors,
// 60 ms TTFB, clean API), judged every 100 segments up to 3,000, are rarely failed; bad
// ones (1 % segment errors) are nearly always failed.
TEST(JudgeStreaming, HealthyStreamingCanariesAreRarelyFailedAndBadOnesAreCaught) {
  const int canaries = 1000;
  int healthy_failed = 0, bad_failed = 0, bad_passed = 0;
  for (int c = 0; c < canaries; ++c) {
    for (const double rate : {0.001, 0.01}) {
      Rng rng(20000 + c * 2 + (rate > 0.005 ? 1 : 0));
      TrafficSample canary = healthy_api(1000, rng);
      Outcome last = Outcome::kInconclusive;
      while (canary.streaming.segments < 3000 && last != Outcome::kFail) {
        add_segments(canary, 100, rate, 0.06, rng);
        last = judge(canary, nullptr, JudgeConfig{}).outcome;
      }
      if (rate < 0.005) healthy_failed += last == Outcome::kFail;
      if (rate > 0.005) {
        bad_failed += last == Outcome::kFail;
        bad_passed += last == Outcome::kPass;
      }
    }
  }
  std::printf("streaming: %d of %d healthy canaries failed; of %d bad ones %d failed, %d passed\n",
              healthy_failed, canaries, canaries, bad_failed, bad_passed);
  EXPECT_LT(healthy_failed, canaries * 2 * JudgeConfig{}.alpha);
  EXPECT_GT(bad_failed, canaries * 95 / 100);
  EXPECT_LE(bad_passed, canaries * JudgeConfig{}.beta * 2);
}

}  // namespace
}  // namespace sg::control
