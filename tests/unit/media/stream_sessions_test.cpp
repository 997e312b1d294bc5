#include "server/media/stream_sessions.hpp"

#include <gtest/gtest.h>

namespace sg::server::media {
namespace {

using namespace std::chrono_literals;

struct FakeClock {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1000)};
  MemorySessions::Clock fn() {
    return [this] { return now; };
  }
};

TEST(MemorySessions, NewSessionPastTheCapIsRefusedWhileActiveOnesContinue) {
  FakeClock clock;
  MemorySessions s({2, 60s}, clock.fn());
  EXPECT_TRUE(s.touch("a").new_session);
  clock.now += 10s;
  EXPECT_TRUE(s.touch("b").admitted);
  const Admission c = s.touch("c");
  EXPECT_FALSE(c.admitted);
  EXPECT_EQ(c.retry_after, 50s) << "a, seen at t=0, expires at t=60";
  EXPECT_FALSE(s.would_admit().admitted);
  clock.now += 30s;
  const Admission a = s.touch("a");
  EXPECT_TRUE(a.admitted);
  EXPECT_FALSE(a.new_session);
  EXPECT_TRUE(s.touch("b").admitted);
  EXPECT_EQ(s.active(), 2u);
}

TEST(MemorySessions, ASessionIdleForTheWindowIsGoneAndFreesItsSlot) {
  FakeClock clock;
  MemorySessions s({1, 60s}, clock.fn());
  ASSERT_TRUE(s.touch("a").admitted);
  clock.now += 59s;
  EXPECT_FALSE(s.touch("b").admitted);
  clock.now += 1s;
  EXPECT_EQ(s.active(), 0u);
  EXPECT_TRUE(s.touch("b").new_session);
  EXPECT_FALSE(s.touch("a").admitted) << "a was idle for the window: it is a new session now";
}

TEST(MemorySessions, HoldsAtMostTheCapWhateverComes) {
  FakeClock clock;
  MemorySessions s({100, 60s}, clock.fn());
  for (int i = 0; i < 10000; ++i) {
    s.touch("s" + std::to_string(i));
    clock.now += 1ms;
  }
  EXPECT_EQ(s.active(), 100u);
  EXPECT_GE(s.touch("late").retry_after, 1s);
}

}  // namespace
}  // namespace sg::server::media
