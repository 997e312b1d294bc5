#include "gateway/core/track_schedule.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace sg::gateway {
namespace {

TrackSchedule make(std::vector<TrackWeight> weights) {
  auto schedule = TrackSchedule::create(std::move(weights));
  EXPECT_TRUE(schedule.is_ok()) << (schedule ? "" : schedule.error().message);
  return std::move(schedule).value();
}

std::vector<std::size_t> counts_over(const TrackSchedule& s, std::uint64_t first, std::uint64_t n,
                                     const std::vector<bool>& eligible) {
  std::vector<std::size_t> counts(s.track_count(), 0);
  for (std::uint64_t t = first; t < first + n; ++t) {
    auto track = s.pick(t, eligible);
    EXPECT_TRUE(track.has_value()) << "ticket " << t;
    if (track) ++counts[*track];
  }
  return counts;
}

TEST(TrackSchedule, AnyHundredConsecutiveTicketsGiveEachTrackExactlyItsWeight) {
  const std::vector<std::vector<TrackWeight>> routes = {
      {{"stable", 95}, {"canary", 5}},   {{"blue", 100}, {"green", 0}},
      {{"a", 50}, {"b", 30}, {"c", 20}}, {{"a", 1}, {"b", 1}, {"c", 98}},
      {{"a", 33}, {"b", 33}, {"c", 34}}, {{"a", 0}, {"b", 7}, {"c", 13}, {"d", 80}},
  };
  for (const auto& weights : routes) {
    const TrackSchedule s = make(weights);
    const std::vector<bool> all(weights.size(), true);
    for (std::uint64_t first : {0ULL, 1ULL, 17ULL, 99ULL, 1234567ULL, ~0ULL - 250}) {
      const auto counts = counts_over(s, first, 100, all);
      for (std::size_t i = 0; i < weights.size(); ++i) {
        EXPECT_EQ(counts[i], static_cast<std::size_t>(weights[i].weight))
            << "track " << weights[i].track << " from ticket " << first;
      }
    }
  }
}

TEST(TrackSchedule, CanaryOfFivePercentIsSpreadEvenly) {
  const TrackSchedule s = make({{"stable", 95}, {"canary", 5}});
  const std::vector<bool> all{true, true};
  std::vector<std::uint64_t> canary_tickets;
  for (std::uint64_t t = 0; t < 1000; ++t) {
    if (s.pick(t, all) == 1u) canary_tickets.push_back(t);
  }
  ASSERT_EQ(canary_tickets.size(), 50u);
  for (std::size_t i = 1; i < canary_tickets.size(); ++i) {
    const auto gap = canary_tickets[i] - canary_tickets[i - 1];
    EXPECT_GE(gap, 10u) << "canary at tickets " << canary_tickets[i - 1] << " and "
                        << canary_tickets[i];
    EXPECT_EQ(gap, 20u) << "canary at tickets " << canary_tickets[i - 1] << " and "
                        << canary_tickets[i];
  }
}

TEST(TrackSchedule, IneligibleTrackGivesItsSlotsToTheNextEligibleTrack) {
  const TrackSchedule s = make({{"stable", 95}, {"canary", 5}});
  auto counts = counts_over(s, 0, 100, {true, false});
  EXPECT_EQ(counts[0], 100u) << "stable must take the canary's 5 slots";
  counts = counts_over(s, 0, 100, {false, true});
  EXPECT_EQ(counts[1], 100u) << "canary must take all slots when stable is down";
}

TEST(TrackSchedule, ThreeTracksWithOneDownKeepServingFromTheOthers) {
  const TrackSchedule s = make({{"a", 50}, {"b", 30}, {"c", 20}});
  const auto counts = counts_over(s, 0, 1000, {true, false, true});
  EXPECT_EQ(counts[0] + counts[2], 1000u);
  EXPECT_EQ(counts[1], 0u);
  EXPECT_GT(counts[2], 200u) << "c must receive some of b's share, got " << counts[2];
}

TEST(TrackSchedule, ReturnsNulloptWhenNoWeightedTrackIsEligible) {
  const TrackSchedule s = make({{"blue", 100}, {"green", 0}});
  EXPECT_FALSE(s.pick(7, {false, true}).has_value()) << "weight-0 green must never get traffic";
  EXPECT_FALSE(s.pick(7, {false, false}).has_value());
  EXPECT_FALSE(s.pick(7, {}).has_value()) << "missing eligibility entries count as not eligible";
  EXPECT_FALSE(s.pick_sticky("viewer-1", {false, true}).has_value());
  EXPECT_EQ(s.pick(7, {true, false}), 0u);
}

TEST(TrackSchedule, RejectsInvalidWeightsWithTheNumbers) {
  struct Case {
    std::vector<TrackWeight> weights;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{}, "at least one track"},
      {{{"a", 95}, {"b", 10}}, "weights must sum to 100, got 105"},
      {{{"a", 90}, {"b", 5}}, "weights must sum to 100, got 95"},
      {{{"a", 101}, {"b", -1}}, "track 'a': weight must be 0..100, got 101"},
      {{{"a", 50}, {"b", -10}, {"c", 60}}, "track 'b': weight must be 0..100, got -10"},
      {{{"a", 50}, {"a", 50}}, "track 'a' appears twice"},
      {{{"", 100}}, "must not be empty"},
  };
  for (const auto& c : cases) {
    auto s = TrackSchedule::create(c.weights);
    ASSERT_FALSE(s.is_ok()) << c.message;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(s.error().message.find(c.message), std::string::npos)
        << "got '" << s.error().message << "', want it to contain '" << c.message << "'";
  }
}

TEST(TrackSchedule, StickyKeyAlwaysMapsToTheSameTrack) {
  const TrackSchedule s = make({{"stable", 90}, {"canary", 10}});
  const TrackSchedule again = make({{"stable", 90}, {"canary", 10}});
  const std::vector<bool> all{true, true};
  std::size_t canary = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::string key = "viewer-" + std::to_string(i);
    const auto first = s.pick_sticky(key, all);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(s.pick_sticky(key, all), first) << key;
    EXPECT_EQ(again.pick_sticky(key, all), first) << key;
    if (*first == 1) ++canary;
  }
  // 10 % of 10000 keys, within a generous 4 sigma (sigma = 30).
  EXPECT_NEAR(static_cast<double>(canary), 1000.0, 120.0) << "canary keys " << canary;
}

TEST(TrackSchedule, StickyKeysMoveOnlyWhenTheirRangeMoves) {
  const TrackSchedule before = make({{"stable", 95}, {"canary", 5}});
  const TrackSchedule after = make({{"stable", 90}, {"canary", 10}});
  const std::vector<bool> all{true, true};
  for (int i = 0; i < 5000; ++i) {
    const std::string key = "v" + std::to_string(i);
    if (before.pick_sticky(key, all) == 1u) {
      EXPECT_EQ(after.pick_sticky(key, all), 1u) << key << " left the canary when it grew";
    }
  }
}

TEST(TrackSchedule, StickyFallsBackWhenItsTrackIsIneligible) {
  const TrackSchedule s = make({{"stable", 50}, {"canary", 50}});
  for (int i = 0; i < 200; ++i) {
    const std::string key = "k" + std::to_string(i);
    EXPECT_EQ(s.pick_sticky(key, {true, false}), 0u) << key;
    EXPECT_EQ(s.pick_sticky(key, {false, true}), 1u) << key;
  }
}

TEST(TrackSchedule, StableHashIsFixedAcrossBuilds) {
  // Golden values from an independent implementation (Python); changing the hash would move every
  // sticky viewer after an upgrade.
  EXPECT_EQ(stable_hash(""), stable_hash(""));
  EXPECT_NE(stable_hash("a"), stable_hash("b"));
  const std::map<std::string, std::uint64_t> golden = {
      {"", 0xefd01f60ba992926ULL},
      {"viewer-42", 0x889e3b1e77ea2dacULL},
  };
  for (const auto& [key, value] : golden) EXPECT_EQ(stable_hash(key), value) << "'" << key << "'";
}

TEST(TrackSchedule, IndexOfFindsTracksByName) {
  const TrackSchedule s = make({{"stable", 95}, {"canary", 5}});
  EXPECT_EQ(s.index_of("canary"), 1u);
  EXPECT_FALSE(s.index_of("green").has_value());
  EXPECT_EQ(s.sequence().size(), 100u);
}

}  // namespace
}  // namespace sg::gateway
