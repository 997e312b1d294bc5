#include "control/judge.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include "traffic_sim.hpp"

namespace sg::control {
namespace {

using test::add_requests;
using test::empty_sample;
using test::fixed_sample;
using test::Rng;
using Outcome = Verdict::Outcome;

double evidence(const Verdict& v, const std::string& name) {
  for (const auto& [key, value] : v.evidence) {
    if (key == name) return value;
  }
  ADD_FAILURE() << "no evidence named " << name;
  return NAN;
}

// Feeds a canary 10 requests at a time until the judge fails it; returns the requests needed
// (0 if it never failed within `limit`).
std::uint64_t requests_to_fail(double error_rate, std::uint64_t seed, std::uint64_t limit) {
  Rng rng(seed);
  TrafficSample s = empty_sample();
  const JudgeConfig config;
  while (s.requests < limit) {
    add_requests(s, 10, error_rate, 0.02, rng);
    if (judge(s, nullptr, config).outcome == Outcome::kFail) return s.requests;
  }
  return 0;
}

TEST(Judge, FailsFivePercentErrorsWithinAFewHundredRequests) {
  const std::uint64_t n = requests_to_fail(0.05, 1, 5000);
  EXPECT_GT(n, 0u) << "a 5% error canary was never failed in 5000 requests";
  EXPECT_LE(n, 400u) << "a 5% error canary needed " << n << " requests to fail";
  double total = 0;
  std::uint64_t worst = 0;
  const int runs = 500;
  for (int seed = 100; seed < 100 + runs; ++seed) {
    const std::uint64_t k = requests_to_fail(0.05, seed, 5000);
    ASSERT_GT(k, 0u) << "seed " << seed << ": a 5% error canary was never failed";
    total += static_cast<double>(k);
    worst = std::max(worst, k);
  }
  const double mean = total / runs;
  EXPECT_LT(mean, 250) << "mean requests to fail a 5% error canary: " << mean << " (worst " << worst
                       << ")";
  RecordProperty("mean_requests_to_fail_5pct", std::to_string(mean));
  std::printf("5%% errors: first run failed after %llu requests; mean %.0f, worst %llu over %d\n",
              static_cast<unsigned long long>(n), mean, static_cast<unsigned long long>(worst),
              runs);
}

TEST(Judge, PassesTwoTenthsPercentErrors) {
  Rng rng(7);
  TrafficSample s = empty_sample();
  Verdict v;
  while (s.requests < 10000 && v.outcome != Outcome::kPass) {
    add_requests(s, 50, 0.002, 0.02, rng);
    v = judge(s, nullptr, JudgeConfig{});
    ASSERT_NE(v.outcome, Outcome::kFail)
        << "0.2% canary failed at " << s.requests << ": " << v.reason;
  }
  EXPECT_EQ(v.outcome, Outcome::kPass) << v.reason;
  EXPECT_LE(s.requests, 3000u) << "0.2% canary needed " << s.requests << " requests to pass";
}

TEST(Judge, NoTrafficIsInconclusive) {
  const Verdict v = judge(TrafficSample{}, nullptr, JudgeConfig{});
  EXPECT_EQ(v.outcome, Outcome::kInconclusive) << v.reason;
  EXPECT_NE(v.reason.find("0 of 50 requests"), std::string::npos) << v.reason;
}

TEST(Judge, OneRequestShortOfMinimumIsInconclusiveEvenIfAllFail) {
  const Verdict v = judge(fixed_sample(49, 49, 3.0), nullptr, JudgeConfig{});
  EXPECT_EQ(v.outcome, Outcome::kInconclusive) << v.reason;
  EXPECT_NE(v.reason.find("49 of 50 requests"), std::string::npos) << v.reason;
  const Verdict at_min = judge(fixed_sample(50, 50, 3.0), nullptr, JudgeConfig{});
  EXPECT_EQ(at_min.outcome, Outcome::kFail) << at_min.reason;
}

TEST(Judge, FailsEightHundredMillisecondLatencyOnAllRequests) {
  const Verdict v = judge(fixed_sample(50, 0, 0.8), nullptr, JudgeConfig{});
  EXPECT_EQ(v.outcome, Outcome::kFail) << v.reason;
  EXPECT_NE(v.reason.find("slower than 500 ms"), std::string::npos) << v.reason;
  EXPECT_DOUBLE_EQ(evidence(v, "slow_fraction"), 1.0) << "bucket (0.5, 1] is all above 500 ms";
  EXPECT_GT(evidence(v, "p95_ms"), 500) << v.reason;
}

// Exactly 1 % errors is H1 of the error SPRT ("error rate < 1 %" is the criterion), so with
// 10,000 requests the LLR is 100 ln 2 + 9900 ln(0.99 / 0.995) = 19.4, far past the fail
// boundary 4.6: the outcome is kFail, never kPass.
TEST(Judge, ErrorRateExactlyOnThresholdFails) {
  const Verdict v = judge(fixed_sample(10000, 100, 0.02), nullptr, JudgeConfig{});
  EXPECT_EQ(v.outcome, Outcome::kFail) << v.reason;
  EXPECT_NEAR(evidence(v, "llr_errors"), 19.4, 0.1) << v.reason;
  EXPECT_NEAR(evidence(v, "sprt_fail_boundary"), std::log(99.0), 1e-9);
}

// Latency exactly at the threshold is not slow ("exceeds" is strict, and a bucket's upper bound
// is inclusive): 500 ms on every request passes the latency check.
TEST(Judge, LatencyExactlyOnThresholdIsNotSlow) {
  const Verdict v = judge(fixed_sample(2000, 0, 0.5), nullptr, JudgeConfig{});
  EXPECT_EQ(v.outcome, Outcome::kPass) << v.reason;
  EXPECT_DOUBLE_EQ(evidence(v, "slow_fraction"), 0.0) << v.reason;
}

TEST(Judge, NineTenthsPercentAgainstCleanStableFails) {
  const TrafficSample canary = fixed_sample(20000, 180, 0.02);
  const TrafficSample stable = fixed_sample(20000, 0, 0.02);
  const Verdict v = judge(canary, &stable, JudgeConfig{});
  EXPECT_EQ(v.outcome, Outcome::kFail) << v.reason;
  EXPECT_NE(v.reason.find("vs stable 0.00%"), std::string::npos) << v.reason;
  EXPECT_LT(evidence(v, "comparison_p_value"), JudgeConfig{}.comparison_alpha) << v.reason;
}

// 0.6 % errors is under the absolute threshold (the error SPRT reaches its pass side) but
// much worse than a clean stable: only the comparison fails it.
TEST(Judge, MuchWorseThanStableFailsUnderAbsoluteThreshold) {
  const TrafficSample canary = fixed_sample(20000, 120, 0.02);
  const TrafficSample clean = fixed_sample(20000, 0, 0.02);
  const Verdict v = judge(canary, &clean, JudgeConfig{});
  EXPECT_EQ(v.outcome, Outcome::kFail) << v.reason;
  EXPECT_LT(evidence(v, "llr_errors"), evidence(v, "sprt_pass_boundary")) << v.reason;
  EXPECT_EQ(v.reason.find(">= 1.00%"), std::string::npos) << v.reason;

  const TrafficSample similar = fixed_sample(20000, 100, 0.02);  // stable at 0.5 %
  const Verdict ok = judge(canary, &similar, JudgeConfig{});
  EXPECT_EQ(ok.outcome, Outcome::kPass) << ok.reason;
}

TEST(Judge, StableBelowMinimumIsNotCompared) {
  const TrafficSample canary = fixed_sample(20000, 120, 0.02);
  const TrafficSample stable = fixed_sample(49, 0, 0.02);
  const Verdict v = judge(canary, &stable, JudgeConfig{});
  EXPECT_EQ(v.outcome, Outcome::kPass) << v.reason;
}

TEST(Judge, MissingHistogramIsNeverAPass) {
  TrafficSample s;
  s.requests = 5000;
  const Verdict v = judge(s, nullptr, JudgeConfig{});
  EXPECT_EQ(v.outcome, Outcome::kInconclusive) << v.reason;
}

TEST(Judge, StraddlingBucketCountsItsShareAboveThreshold) {
  TrafficSample s;
  s.bounds = {0.1, 0.2, 0.5, 1.0};
  s.counts = {10, 10, 30, 10, 5};
  const SlowCount slow = count_slow(s, 0.3);
  EXPECT_DOUBLE_EQ(slow.slow, 20 + 10 + 5) << "2/3 of (0.2, 0.5] plus everything above";
  EXPECT_DOUBLE_EQ(slow.uncertainty, 30);
  EXPECT_DOUBLE_EQ(slow.total, 65);
  // The overflow bucket straddles a threshold beyond the last bound: counted fully.
  EXPECT_DOUBLE_EQ(count_slow(s, 2.0).slow, 5);
  // Median: rank 32.5 falls in (0.2, 0.5] at 12.5 / 30 of the way.
  EXPECT_NEAR(histogram_quantile(s, 0.5), 0.2 + 0.3 * 12.5 / 30, 1e-12);
  EXPECT_DOUBLE_EQ(histogram_quantile(s, 0.99), 1.0) << "overflow bucket: the last bound";
  s.counts.pop_back();
  EXPECT_DOUBLE_EQ(count_slow(s, 0.3).total, 0) << "malformed histogram";
  EXPECT_DOUBLE_EQ(histogram_quantile(s, 0.5), -1);
}

// 2,000 healthy canaries (0.3 % errors, 20 ms) judged every 100 requests up to 3,000 against a
// healthy stable with 19 times the traffic: the share ever failed must stay near alpha.
TEST(Judge, HealthyCanariesAreRarelyFailedByNoise) {
  const int canaries = 2000;
  int failed = 0;
  int passed = 0;
  int by_comparison = 0;
  int by_errors = 0;
  for (int c = 0; c < canaries; ++c) {
    Rng rng(1000 + c);
    std::mt19937_64 stable_rng(5000 + c);
    TrafficSample canary = empty_sample();
    TrafficSample stable = empty_sample();
    bool was_failed = false;
    Verdict last;
    while (canary.requests < 3000 && !was_failed) {
      add_requests(canary, 100, 0.003, 0.02, rng);
      // Stable's latencies do not matter to the judge: draw only its error count.
      stable.requests += 1900;
      stable.errors += std::binomial_distribution<std::uint64_t>(1900, 0.003)(stable_rng);
      const Verdict v = judge(canary, &stable, JudgeConfig{});
      last = v;
      was_failed = v.outcome == Outcome::kFail;
      if (canary.requests == 3000 && v.outcome == Outcome::kPass) ++passed;
    }
    if (was_failed) ++failed;
    if (was_failed && last.reason.find("vs stable") != std::string::npos) ++by_comparison;
    if (was_failed && last.reason.find(">= 1.00%") != std::string::npos) ++by_errors;
  }
  const double rate = static_cast<double>(failed) / canaries;
  std::printf(
      "false-fail rate: %d of %d healthy canaries (%.2f%%: %d by the error SPRT, %d by the "
      "comparison); %d passed at 3000\n",
      failed, canaries, rate * 100, by_errors, by_comparison, passed);
  RecordProperty("false_fail_rate", std::to_string(rate));
  EXPECT_LT(rate, 2 * JudgeConfig{}.alpha)
      << failed << " of " << canaries << " healthy canaries were failed";
}

}  // namespace
}  // namespace sg::control
