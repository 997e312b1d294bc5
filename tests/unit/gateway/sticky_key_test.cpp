// StickyKey: a sticky value's track is stable for one key and unknowable without it.
#include "gateway/core/sticky_key.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gateway/core/track_schedule.hpp"

namespace sg::gateway {
namespace {

TrackSchedule route_95_5() {
  auto s = TrackSchedule::create({{"stable", 95}, {"canary", 5}});
  EXPECT_TRUE(s.is_ok());
  return std::move(*s);
}

// Issue 19, item 2: with the public hash a client could compute offline which values land on
// the canary and send only those. Under a secret key those values land on the canary no more
// often than any others: about its weight.
TEST(StickyKey, ValuesChosenOfflineForTheCanaryLandThereOnlyAtItsWeight) {
  const TrackSchedule route = route_95_5();
  const std::vector<bool> all{true, true};
  std::vector<std::string> chosen;  // what an attacker computes from the public hash
  for (int i = 0; chosen.size() < 2000; ++i) {
    const std::string v = "viewer-" + std::to_string(i);
    if (route.pick_sticky(v, all) == 1u) chosen.push_back(v);
  }
  const StickyKey key("a-secret-shared-by-every-gateway");
  int on_canary = 0;
  for (const auto& v : chosen) on_canary += route.pick_sticky_hash(key.hash(v), all) == 1u;
  // 5 % of 2000 = 100, sigma ~ 9.7: well inside 160 unless the key leaks the choice.
  EXPECT_LT(on_canary, 160) << on_canary << " of 2000 chosen values reached the canary";
  EXPECT_GT(on_canary, 40);
}

TEST(StickyKey, OneKeyMapsAValueAlikeEverywhereAnotherKeyDoesNot) {
  const StickyKey a("a-secret-shared-by-every-gateway");
  const StickyKey a_again("a-secret-shared-by-every-gateway");
  const StickyKey b("another-secret-for-another-fleet");
  int differ = 0;
  for (int i = 0; i < 100; ++i) {
    const std::string v = "v" + std::to_string(i);
    EXPECT_EQ(a.hash(v), a_again.hash(v)) << v;
    differ += a.hash(v) != b.hash(v);
  }
  EXPECT_EQ(differ, 100);
  EXPECT_NE(StickyKey::random().hash("v"), StickyKey::random().hash("v"));
}

}  // namespace
}  // namespace sg::gateway
