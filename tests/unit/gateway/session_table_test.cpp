#include "gateway/core/session_table.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace sg::gateway {
namespace {

using Clock = SessionTable::Clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

Clock::time_point at(std::int64_t ms) { return Clock::time_point{} + milliseconds(ms); }

TEST(SessionTable, StartupIsFirstPlaylistToFirstSegmentDelivered) {
  SessionTable t;
  EXPECT_FALSE(t.record("s1", HlsKind::kPlaylist, true, "canary", at(1000)).started);
  t.record("s1", HlsKind::kPlaylist, true, "canary", at(1100));  // the media playlist
  EXPECT_FALSE(t.record("s1", HlsKind::kInit, true, "canary", at(1200)).started)
      << "the init section is not a segment of media";
  EXPECT_FALSE(t.record("s1", HlsKind::kSegment, false, "canary", at(1300)).started)
      << "a failed segment was not delivered";
  const auto out = t.record("s1", HlsKind::kSegment, true, "canary", at(1750));
  EXPECT_TRUE(out.started);
  ASSERT_TRUE(out.startup_seconds);
  EXPECT_NEAR(*out.startup_seconds, 0.75, 1e-9);
  EXPECT_FALSE(t.record("s1", HlsKind::kSegment, true, "canary", at(2000)).started)
      << "a session starts once";
}

TEST(SessionTable, StartupCountsFromWhenThePlaylistRequestArrived) {
  SessionTable t;
  t.record("s", HlsKind::kPlaylist, true, "a", at(1000), at(1300));
  const auto out = t.record("s", HlsKind::kSegment, true, "a", at(1400), at(2000));
  ASSERT_TRUE(out.startup_seconds);
  EXPECT_NEAR(*out.startup_seconds, 1.0, 1e-9);
}

TEST(SessionTable, SessionStartingWithASegmentHasNoStartupTime) {
  SessionTable t;
  const auto out = t.record("s1", HlsKind::kSegment, true, "stable", at(0));
  EXPECT_TRUE(out.started);
  EXPECT_FALSE(out.startup_seconds);
}

TEST(SessionTable, CountsEachMinuteOfASessionWithARequestOnce) {
  SessionTable t;
  EXPECT_TRUE(t.record("s", HlsKind::kPlaylist, true, "a", at(0)).new_minute);
  EXPECT_FALSE(t.record("s", HlsKind::kSegment, true, "a", at(59'999)).new_minute);
  EXPECT_TRUE(t.record("s", HlsKind::kSegment, true, "a", at(60'000)).new_minute);
  EXPECT_FALSE(t.record("s", HlsKind::kSegment, true, "a", at(61'000)).new_minute);
  // A quiet minute is not counted: the next request counts the minute it falls in.
  EXPECT_TRUE(t.record("s", HlsKind::kSegment, true, "a", at(185'000)).new_minute);
  EXPECT_TRUE(t.record("other", HlsKind::kSegment, true, "a", at(185'000)).new_minute);
}

TEST(SessionTable, PinsTheTrackOfTheFirstAnswerForTheSessionsLife) {
  SessionTable t({.capacity = 100, .idle = seconds(60)});
  EXPECT_EQ(t.pinned_track("s", at(0)), std::nullopt);
  t.record("s", HlsKind::kPlaylist, true, "canary", at(0));
  t.record("s", HlsKind::kSegment, true, "stable", at(10'000));  // e.g. a retry elsewhere
  EXPECT_EQ(t.pinned_track("s", at(20'000)), "canary");
  EXPECT_EQ(t.pinned_track("s", at(69'999)), "canary") << "idle for 59.999 s";
  EXPECT_EQ(t.pinned_track("s", at(70'000)), std::nullopt) << "idle for the limit";
  // The key comes back after the limit: a new session, pinned afresh, startup measured again.
  EXPECT_TRUE(t.record("s", HlsKind::kSegment, true, "stable", at(70'000)).started);
  EXPECT_EQ(t.pinned_track("s", at(70'001)), "stable");
}

TEST(SessionTable, PinAtRoutingKeepsTheFirstTrackAndRecordKeepsThePin) {
  SessionTable t;
  EXPECT_EQ(t.pin("s", "canary", at(0)), "canary");
  EXPECT_EQ(t.pin("s", "stable", at(1)), "canary") << "a racing first request agrees";
  t.record("s", HlsKind::kPlaylist, true, "stable", at(0), at(5));
  EXPECT_EQ(t.pinned_track("s", at(6)), "canary");
  EXPECT_EQ(t.pin("", "a", at(0)), std::nullopt);
  EXPECT_EQ(t.pin(std::string(kMaxSessionKeyBytes + 1, 'k'), "a", at(0)), std::nullopt);
}

TEST(SessionTable, ConcurrentFirstRequestsOfOneSessionAgreeOnItsTrack) {
  for (int round = 0; round < 50; ++round) {
    SessionTable t;
    std::vector<std::string> got(4);
    std::vector<std::thread> threads;
    for (int w = 0; w < 4; ++w) {
      threads.emplace_back([&, w] { got[w] = *t.pin("s", "track-" + std::to_string(w), at(0)); });
    }
    for (auto& th : threads) th.join();
    for (const auto& g : got) EXPECT_EQ(g, got[0]);
  }
}

TEST(SessionTable, IsBoundedAndForgetsIdleSessions) {
  SessionTable t({.capacity = SessionTable::kShards * 4, .idle = seconds(10)});
  std::size_t tracked = 0;
  for (int i = 0; i < 1000; ++i) {
    if (t.record("s" + std::to_string(i), HlsKind::kPlaylist, true, "a", at(0)).tracked) ++tracked;
  }
  EXPECT_EQ(tracked, t.size());
  EXPECT_LE(t.size(), SessionTable::kShards * 4);
  EXPECT_GT(t.size(), 0u);
  EXPECT_EQ(t.untracked(), 1000 - tracked);
  // Past the idle limit, the full shards make room.
  for (int i = 0; i < 1000; ++i)
    t.record("n" + std::to_string(i), HlsKind::kPlaylist, true, "a", at(11'000));
  EXPECT_EQ(t.pinned_track("s0", at(11'000)), std::nullopt);
  EXPECT_LE(t.size(), SessionTable::kShards * 4);
}

TEST(SessionTable, TrackActivityCountsLiveSessionsPerTrackAndTheLatestRequest) {
  SessionTable t({.capacity = 1000, .idle = seconds(300)});
  EXPECT_TRUE(t.track_activity(at(0), seconds(30)).empty());
  t.record("a1", HlsKind::kPlaylist, true, "blue", at(1000));
  t.record("a2", HlsKind::kSegment, true, "blue", at(2000));
  t.record("a1", HlsKind::kSegment, true, "blue", at(9000));  // a1's latest request
  t.record("g1", HlsKind::kSegment, true, "green", at(5000));
  t.record("g1", HlsKind::kSegment, true, "blue", at(6000));  // pinned: stays green
  const auto act = t.track_activity(at(20'000), seconds(15));
  ASSERT_EQ(act.size(), 2u);
  const auto& blue = act.at("blue");
  EXPECT_EQ(blue.sessions, 2u);
  EXPECT_EQ(blue.active, 1u) << "a2 (last at 2 s) is idle for 18 s > 15 s; a1 (9 s) is not";
  ASSERT_TRUE(blue.idle.has_value());
  EXPECT_EQ(*blue.idle, seconds(11));
  const auto& green = act.at("green");
  EXPECT_EQ(green.sessions, 1u);
  EXPECT_EQ(green.active, 1u);
  EXPECT_EQ(*green.idle, seconds(14));
}

TEST(SessionTable, TrackActivityLeavesOutSessionsIdlePastTheLimitAndClampsFutureOnes) {
  SessionTable t({.capacity = 1000, .idle = seconds(10)});
  t.record("old", HlsKind::kSegment, true, "blue", at(0));
  t.record("new", HlsKind::kSegment, true, "green", at(12'000));
  // At 11 s "old" is past the 10 s limit (not yet swept: no request touched its shard).
  auto act = t.track_activity(at(11'000), seconds(5));
  EXPECT_EQ(act.count("blue"), 0u);
  // "new" was answered after `now` (another worker's clock read): idle 0, not negative.
  ASSERT_EQ(act.count("green"), 1u);
  EXPECT_EQ(*act.at("green").idle, Clock::duration::zero());
  EXPECT_EQ(act.at("green").active, 1u);
}

TEST(SessionTable, TrackActivityWhileOtherThreadsRecord) {
  SessionTable t;
  std::thread writer([&] {
    for (int i = 0; i < 20000; ++i) {
      t.record("w" + std::to_string(i % 500), HlsKind::kSegment, true, i % 2 ? "blue" : "green",
               at(i));
    }
  });
  std::size_t last = 0;
  for (int i = 0; i < 200; ++i) {
    std::size_t total = 0;
    for (const auto& [track, a] : t.track_activity(at(20'000), seconds(30))) {
      EXPECT_LE(a.active, a.sessions);
      total += a.sessions;
    }
    EXPECT_LE(total, 500u);
    last = total;
  }
  writer.join();
  std::size_t total = 0;
  for (const auto& [track, a] : t.track_activity(at(20'000), seconds(30))) total += a.sessions;
  EXPECT_EQ(total, 500u);
  EXPECT_LE(last, 500u);
}

TEST(SessionTable, IgnoresEmptyAndOverlongKeys) {
  SessionTable t;
  EXPECT_FALSE(t.record("", HlsKind::kSegment, true, "a", at(0)).tracked);
  const std::string long_key(kMaxSessionKeyBytes + 1, 'k');
  EXPECT_FALSE(t.record(long_key, HlsKind::kSegment, true, "a", at(0)).tracked);
  EXPECT_EQ(t.size(), 0u);
}

TEST(SessionTable, ManyThreadsRecordingKeepEachSessionConsistent) {
  SessionTable t;
  std::vector<std::thread> threads;
  std::atomic<int> started{0};
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < 2000; ++i) {
        const std::string key = "s" + std::to_string(i % 200);
        if (t.record(key, HlsKind::kSegment, true, w % 2 ? "a" : "b", at(i)).started) ++started;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(started.load(), 200) << "each of the 200 sessions started exactly once";
  EXPECT_EQ(t.size(), 200u);
}

}  // namespace
}  // namespace sg::gateway
