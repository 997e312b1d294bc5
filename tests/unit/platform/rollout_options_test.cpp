#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "platform/model.hpp"

namespace sg::platform {
namespace {

namespace json = boost::json;

json::object canary(json::object extra = {}) {
  json::object o{{"strategy", "canary"}, {"release", "v2"}};
  for (auto& [k, v] : extra) o[k] = v;
  return o;
}

json::object blue_green(json::object extra = {}) {
  json::object o{{"strategy", "blue-green"}, {"release", "v2"}};
  for (auto& [k, v] : extra) o[k] = v;
  return o;
}

TEST(RolloutOptionsJson, DefaultsApplyWhenOnlyStrategyAndReleaseAreGiven) {
  auto r = rollout_options_from_json(canary());
  ASSERT_TRUE(r) << r.error().message;
  const control::RolloutOptions defaults;
  EXPECT_EQ(r->strategy, control::Strategy::kCanary);
  EXPECT_EQ(r->release, "v2");
  EXPECT_EQ(r->timeout_s, 300);
  EXPECT_EQ(r->verify_s, 60);
  EXPECT_EQ(r->scale_down_delay_s, 300);
  EXPECT_EQ(r->step_interval_s, 60);
  EXPECT_EQ(r->steps, (std::vector<int>{5, 10, 25, 50, 100}));
  EXPECT_LT(r->max_error_rate, 0) << "negative means the strategy's default";
  EXPECT_LT(r->max_p95_ms, 0);
  EXPECT_EQ(r->ready_stability_s, defaults.ready_stability_s);
  EXPECT_EQ(r->min_requests, defaults.min_requests);
  EXPECT_EQ(r->canary_replicas, defaults.canary_replicas);

  auto bg = rollout_options_from_json(blue_green());
  ASSERT_TRUE(bg) << bg.error().message;
  EXPECT_EQ(bg->strategy, control::Strategy::kBlueGreen);
  EXPECT_EQ(bg->max_restarts, 0) << "any restart fails a rollout by default";
  EXPECT_EQ(bg->synthetic_rps, 50);
  EXPECT_EQ(bg->synthetic_paths,
            (std::vector<std::string>{"/api/v1/health", "/api/v1/content?limit=20"}));
}

TEST(RolloutOptionsJson, AcceptsStreamgateImageAsRelease) {
  auto r = rollout_options_from_json(blue_green({{"release", "streamgate:v2"}}));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->release, "v2");
}

TEST(RolloutOptionsJson, RefusesOtherImagesAndBadReleaseNames) {
  for (const char* release : {"nginx:v2", "", "v 2", "streamgate:"}) {
    auto r = rollout_options_from_json(canary({{"release", release}}));
    ASSERT_FALSE(r) << "release '" << release << "' accepted";
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  auto missing = rollout_options_from_json(json::object{{"strategy", "canary"}});
  EXPECT_FALSE(missing);
}

TEST(RolloutOptionsJson, UnknownStrategyIsRefusedByName) {
  for (const char* strategy : {"rolling", "", "Canary"}) {
    auto r = rollout_options_from_json(json::object{{"strategy", strategy}, {"release", "v2"}});
    ASSERT_FALSE(r) << "strategy '" << strategy << "' accepted";
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find("'" + std::string(strategy) + "'"), std::string::npos)
        << r.error().message;
  }
}

struct RangeCase {
  const char* key;
  json::value value;
  const char* flag;
};

TEST(RolloutOptionsJson, EveryRangeCheckNamesItsFlag) {
  const std::vector<RangeCase> cases{
      {"timeout_s", 0, "--timeout"},
      {"timeout_s", 86401, "--timeout"},
      {"verify_s", 0, "--verify"},
      {"verify_s", 86401, "--verify"},
      {"scale_down_delay_s", -1, "--scale-down-delay"},
      {"scale_down_delay_s", 86401, "--scale-down-delay"},
      {"step_interval_s", 0, "--step-interval"},
      {"step_interval_s", 86401, "--step-interval"},
      {"ready_stability_s", -1, "--ready-stability"},
      {"ready_stability_s", 3601, "--ready-stability"},
      {"min_requests", 0, "--min-requests"},
      {"min_requests", 1000001, "--min-requests"},
      {"canary_replicas", 0, "--canary-replicas"},
      {"canary_replicas", 51, "--canary-replicas"},
      {"max_error_rate", 0, "--max-error-rate"},
      {"max_error_rate", 0.5, "--max-error-rate"},
      {"max_error_rate", 1.0, "--max-error-rate"},
      {"max_p95_ms", 0.5, "--max-p95-ms"},
      {"max_p95_ms", 600001, "--max-p95-ms"},
      {"max_restarts", -1, "--max-restarts"},
      {"max_readiness_flaps", 1001, "--max-readiness-flaps"},
      {"synthetic_rps", -1, "--synthetic-rps"},
      {"synthetic_rps", 1001, "--synthetic-rps"},
      {"synthetic_max_requests", -1, "--synthetic-max-requests"},
      {"synthetic_paths", json::array{"no-slash"}, "--synthetic-path"},
      {"synthetic_paths", json::array{"/has space"}, "--synthetic-path"},
      {"synthetic_paths", json::array{}, "--synthetic-path"},
  };
  for (const auto& c : cases) {
    for (auto make : {&canary, &blue_green}) {
      auto r = rollout_options_from_json(make({{c.key, c.value}}));
      ASSERT_FALSE(r) << c.key << "=" << json::serialize(c.value) << " accepted";
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
      EXPECT_NE(r.error().message.find(c.flag), std::string::npos)
          << c.key << "=" << json::serialize(c.value) << ": " << r.error().message;
    }
  }
}

TEST(RolloutOptionsJson, RangeBoundsThemselvesAreAccepted) {
  const std::vector<std::pair<const char*, json::value>> edges{
      {"timeout_s", 1},
      {"timeout_s", 86400},
      {"verify_s", 1},
      {"verify_s", 86400},
      {"scale_down_delay_s", 0},
      {"scale_down_delay_s", 86400},
      {"step_interval_s", 1},
      {"step_interval_s", 86400},
      {"ready_stability_s", 0},
      {"ready_stability_s", 3600},
      {"min_requests", 1},
      {"min_requests", 1000000},
      {"canary_replicas", 1},
      {"canary_replicas", 50},
      {"max_error_rate", 0.0001},
      {"max_error_rate", 0.49},
      {"max_p95_ms", 1},
      {"max_p95_ms", 600000},
  };
  for (const auto& [key, value] : edges) {
    auto r = rollout_options_from_json(canary({{key, value}}));
    EXPECT_TRUE(r) << key << "=" << json::serialize(value) << ": " << r.error().message;
  }
  auto r = rollout_options_from_json(
      canary({{"max_error_rate", 0.02}, {"max_p95_ms", 250}, {"timeout_s", 42}}));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_DOUBLE_EQ(r->max_error_rate, 0.02);
  EXPECT_DOUBLE_EQ(r->max_p95_ms, 250);
  EXPECT_EQ(r->timeout_s, 42);
}

TEST(RolloutOptionsJson, CanaryStepsMustIncreaseStrictlyWithinOneToHundred) {
  auto ok = rollout_options_from_json(canary({{"steps", json::array{1, 50, 100}}}));
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->steps, (std::vector<int>{1, 50, 100}));

  const std::vector<json::array> bad{
      {5, 5, 10}, {10, 5}, {0, 10}, {10, 101}, {-5, 10}, {},
  };
  for (const auto& steps : bad) {
    auto r = rollout_options_from_json(canary({{"steps", steps}}));
    ASSERT_FALSE(r) << "steps " << json::serialize(steps) << " accepted";
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find("steps"), std::string::npos) << r.error().message;
  }
}

TEST(RolloutOptionsJson, StepsMustBeAnArrayOfIntegers) {
  for (const json::value& steps :
       {json::value(json::array{"5", "10"}), json::value(json::array{5.5, 10}),
        json::value("5,10,25"), json::value(25)}) {
    auto r = rollout_options_from_json(canary({{"steps", steps}}));
    ASSERT_FALSE(r) << "steps " << json::serialize(steps) << " accepted";
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find("steps"), std::string::npos) << r.error().message;
  }
}

TEST(RolloutOptionsJson, IntegersOutOfRangeOrOfTheWrongTypeAreRefusedNotWrapped) {
  // 4294967297 would wrap to 1 through a plain int cast; "30" and 30.0 are not integers.
  for (const json::value& timeout :
       {json::value(std::int64_t{4294967297}), json::value("30"), json::value(30.0)}) {
    auto r = rollout_options_from_json(canary({{"timeout_s", timeout}}));
    ASSERT_FALSE(r) << "timeout_s " << json::serialize(timeout) << " accepted";
    EXPECT_NE(r.error().message.find("timeout_s"), std::string::npos) << r.error().message;
  }
  auto steps =
      rollout_options_from_json(canary({{"steps", json::array{std::int64_t{4294967301}, 10}}}));
  ASSERT_FALSE(steps);
  auto rate = rollout_options_from_json(canary({{"max_error_rate", "0.01"}}));
  ASSERT_FALSE(rate);
  EXPECT_NE(rate.error().message.find("max_error_rate"), std::string::npos);
}

TEST(RolloutOptionsJson, RoundTripsThroughToJson) {
  // A resumed rollout re-reads its options from the JSON the store kept.
  auto first = rollout_options_from_json(canary({{"release", "streamgate:v3"},
                                                {"timeout_s", 120},
                                                {"step_interval_s", 15},
                                                {"steps", json::array{10, 30, 100}},
                                                {"max_error_rate", 0.02},
                                                {"min_requests", 80},
                                                {"canary_replicas", 3}}));
  ASSERT_TRUE(first) << first.error().message;
  auto again = rollout_options_from_json(to_json(*first));
  ASSERT_TRUE(again) << again.error().message << " for " << json::serialize(to_json(*first));
  EXPECT_EQ(json::serialize(to_json(*again)), json::serialize(to_json(*first)));
  EXPECT_EQ(again->release, "v3");
  EXPECT_EQ(again->steps, (std::vector<int>{10, 30, 100}));
  EXPECT_LT(again->max_p95_ms, 0) << "an unset threshold stays unset";
}

TEST(RolloutOptionsJson, UnknownFieldsAreRefusedByName) {
  auto r = rollout_options_from_json(canary({{"step_intervall_s", 5}}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("unknown field 'step_intervall_s'"), std::string::npos)
      << r.error().message;
  EXPECT_FALSE(rollout_options_from_json(json::value("canary")));
}

}  // namespace
}  // namespace sg::platform
