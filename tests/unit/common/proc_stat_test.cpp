#include "common/proc_stat.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

namespace sg {
namespace {

TEST(ProcStat, ParsesFieldsAfterACommandWithSpacesAndParentheses) {
  // Fields 1..24 of proc(5), comm "(a b) c)".
  const char* text =
      "4242 ((a b) c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 123456 "
      "987654321 777 18446744073709551615 1 1 0";
  auto s = parse_proc_stat(text);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->state, 'S');
  EXPECT_EQ(s->utime_ticks, 250u);
  EXPECT_EQ(s->stime_ticks, 50u);
  EXPECT_EQ(s->start_ticks, 123456u);
  EXPECT_EQ(s->vsize_bytes, 987654321u);
  EXPECT_EQ(s->rss_pages, 777u);
  EXPECT_FALSE(s->zombie_or_dead());
}

TEST(ProcStat, ZombieIsReportedAndTruncatedTextRefused) {
  auto z = parse_proc_stat("7 (x) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0");
  ASSERT_TRUE(z);
  EXPECT_TRUE(z->zombie_or_dead());
  EXPECT_FALSE(parse_proc_stat("7 (x) S 1 7"));
  EXPECT_FALSE(parse_proc_stat("no parenthesis here"));
  EXPECT_FALSE(parse_proc_stat("7 (x) S 1 7 7 0 -1 0 0 0 0 0 zz 0 0 0 20 0 1 0 99 0 0"));
}

TEST(ProcStat, ReadsThisProcessBySelfAndByPid) {
  auto self = read_proc_stat(0);
  auto mine = read_proc_stat(::getpid());
  ASSERT_TRUE(self);
  ASSERT_TRUE(mine);
  EXPECT_EQ(self->start_ticks, mine->start_ticks);
  EXPECT_GT(mine->rss_bytes(), 0.0);
  EXPECT_GE(mine->cpu_seconds(), 0.0);
  EXPECT_FALSE(read_proc_stat(-5));
}

}  // namespace
}  // namespace sg
