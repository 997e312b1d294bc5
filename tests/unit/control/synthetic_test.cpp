#include "control/synthetic.hpp"

#include <gtest/gtest.h>

#include "control/judge.hpp"
#include "traffic_sim.hpp"

namespace sg::control {
namespace {

// The judge's clean-sample pass points (judge.hpp: 912 at 1 %, ~1832 at 0.5 %), checked
// against the judge itself rather than restated.
TEST(Synthetic, RequestsToPassIsWhereACleanSampleReachesThePassSide) {
  for (double rate : {0.01, 0.005}) {
    JudgeConfig j;
    j.max_error_rate = rate;
    j.max_latency_seconds = 0.2;
    const std::uint64_t n = requests_to_pass(j);
    TrafficSample s = test::empty_sample();
    test::add_latency(s, 0.01, n);
    s.requests = n;
    EXPECT_EQ(judge(s, nullptr, j).outcome, Verdict::Outcome::kPass) << rate << ": " << n;
    TrafficSample fewer = test::empty_sample();
    test::add_latency(fewer, 0.01, n - 10);
    fewer.requests = n - 10;
    EXPECT_NE(judge(fewer, nullptr, j).outcome, Verdict::Outcome::kPass) << rate;
  }
  JudgeConfig defaults;
  EXPECT_NEAR(static_cast<double>(requests_to_pass(defaults)), 912, 2);
}

TEST(Synthetic, RateTopsOrganicTrafficUpAndNoMore) {
  const SyntheticConfig c{.max_rps = 50, .max_requests = 20000};
  // 912 needed in 60 s: ~15.2 rps with a 10 % margin.
  EXPECT_NEAR(synthetic_rps(c, {0, 912, 0, 60, 0}), 912.0 / 60 * 1.1, 0.01);
  EXPECT_EQ(synthetic_rps(c, {0, 912, 20, 60, 0}), 0) << "organic traffic suffices";
  EXPECT_EQ(synthetic_rps(c, {912, 912, 0, 30, 400}), 0) << "the sample has enough";
  EXPECT_EQ(synthetic_rps(c, {0, 1835, 0, 10, 0}), 50) << "capped";
  EXPECT_EQ(synthetic_rps(c, {100, 912, 0, -5, 100}), 50) << "window over: at the cap";
  EXPECT_EQ(synthetic_rps(c, {0, 912, 0, 60, 20000}), 0) << "budget spent";
  EXPECT_EQ(synthetic_rps({.max_rps = 0, .max_requests = 20000}, {0, 912, 0, 60, 0}), 0);
  EXPECT_EQ(synthetic_rps(c, {900, 912, 0, 60, 0}), 1) << "at least one a second";
}

TEST(Synthetic, MergeAddsCountsAndHistograms) {
  TrafficSample a = test::empty_sample();
  test::add_latency(a, 0.01, 3);
  a.requests = 3;
  a.errors = 1;
  TrafficSample b = test::empty_sample();
  test::add_latency(b, 0.3, 2);
  b.requests = 2;
  const TrafficSample m = merge_samples(a, b);
  EXPECT_EQ(m.requests, 5u);
  EXPECT_EQ(m.errors, 1u);
  std::uint64_t total = 0;
  for (auto c : m.counts) total += c;
  EXPECT_EQ(total, 5u);
  EXPECT_EQ(merge_samples(TrafficSample{}, b).counts, b.counts) << "an empty organic sample";
}

}  // namespace
}  // namespace sg::control
