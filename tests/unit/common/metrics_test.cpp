#include "common/metrics.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace sg::metrics {
namespace {

TEST(MetricsRegistry, RendersCounterWithEscapedLabelsInTextFormat) {
  Registry r;
  auto& f = r.counter("http_requests_total", "Requests.", {"method", "route"});
  f.with({"GET", "/a\"b\\c\nd"}).inc(3);
  const std::string out = r.render();
  EXPECT_NE(out.find("# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("http_requests_total{method=\"GET\",route=\"/a\\\"b\\\\c\\nd\"} 3\n"),
            std::string::npos)
      << out;
}

TEST(MetricsRegistry, SameLabelsReturnSameChild) {
  Registry r;
  auto& f = r.counter("x_total", "X.", {"a"});
  f.with({"1"}).inc();
  f.with({"1"}).inc();
  f.with({"2"}).inc();
  EXPECT_EQ(f.with({"1"}).value(), 2u);
  EXPECT_EQ(f.with({"2"}).value(), 1u);
}

TEST(MetricsRegistry, WrongLabelCountThrows) {
  Registry r;
  auto& f = r.counter("x_total", "X.", {"a", "b"});
  EXPECT_THROW(f.with({"1"}), std::invalid_argument);
}

TEST(MetricsRegistry, DuplicateFamilyNameIsRejected) {
  Registry r;
  r.counter("x_total", "X.");
  EXPECT_THROW(r.gauge("x_total", "X."), std::invalid_argument);
}

TEST(Histogram, BucketsAreCumulativeAndCountMatchesInfBucket) {
  Registry r;
  const double bounds[] = {0.1, 0.5, 1.0};
  auto& h = r.histogram("lat_seconds", "Latency.", {"route"}, bounds).with({"/x"});
  for (double v : {0.05, 0.1, 0.3, 0.7, 2.0}) h.observe(v);
  auto s = h.snapshot();
  ASSERT_EQ(s.cumulative.size(), 4u);
  EXPECT_EQ(s.cumulative[0], 2u);  // 0.05 and 0.1 (le is inclusive)
  EXPECT_EQ(s.cumulative[1], 3u);
  EXPECT_EQ(s.cumulative[2], 4u);
  EXPECT_EQ(s.cumulative[3], 5u);
  EXPECT_EQ(s.count, 5u);
  EXPECT_NEAR(s.sum, 3.15, 1e-9);
  const std::string out = r.render();
  EXPECT_NE(out.find("lat_seconds_bucket{route=\"/x\",le=\"0.5\"} 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("lat_seconds_bucket{route=\"/x\",le=\"+Inf\"} 5\n"), std::string::npos) << out;
  EXPECT_NE(out.find("lat_seconds_count{route=\"/x\"} 5\n"), std::string::npos) << out;
}

TEST(Histogram, RejectsUnsortedBounds) {
  const double bounds[] = {1.0, 0.5};
  EXPECT_THROW(Histogram h(bounds), std::invalid_argument);
}

TEST(MetricsRegistry, ConcurrentIncrementsAreNotLost) {
  Registry r;
  auto& f = r.counter("c_total", "C.", {"k"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&f, t] {
      for (int i = 0; i < 10000; ++i) f.with({(i + t) % 2 ? "a" : "b"}).inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(f.with({"a"}).value() + f.with({"b"}).value(), 40000u);
}

// More threads than shards: some threads share a shard, and nothing may be lost either way.
TEST(Histogram, ConcurrentObservationsFromMoreThreadsThanShardsAreAllCounted) {
  const double bounds[] = {1.0, 2.0};
  Histogram h(bounds);
  Counter c;
  std::vector<std::thread> threads;
  const int n = static_cast<int>(sg::kThreadShards) + 4;
  for (int t = 0; t < n; ++t) {
    threads.emplace_back([&h, &c, t] {
      for (int i = 0; i < 5000; ++i) {
        h.observe(t % 3 == 0 ? 0.5 : 1.5);
        c.inc(2);
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto s = h.snapshot();
  const std::uint64_t low = 5000u * static_cast<std::uint64_t>((n + 2) / 3);
  EXPECT_EQ(s.count, 5000u * static_cast<std::uint64_t>(n));
  EXPECT_EQ(s.cumulative[0], low);
  EXPECT_EQ(s.cumulative[1], s.count);
  EXPECT_DOUBLE_EQ(s.sum,
                   0.5 * static_cast<double>(low) + 1.5 * static_cast<double>(s.count - low));
  EXPECT_EQ(c.value(), 10000u * static_cast<std::uint64_t>(n));
}

}  // namespace
}  // namespace sg::metrics
