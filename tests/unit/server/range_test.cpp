#include "server/range.hpp"

#include <gtest/gtest.h>

namespace sg::server {
namespace {

using Kind = RangeDecision::Kind;

TEST(Range, ClosedRangeIsPartial) {
  auto d = decide_range("bytes=0-99", 1000);
  ASSERT_EQ(d.kind, Kind::kPartial);
  EXPECT_EQ(d.range.first, 0u);
  EXPECT_EQ(d.range.last, 99u);
  EXPECT_EQ(d.range.length(), 100u);
}

TEST(Range, OpenEndedRangeResumesToTheEnd) {
  auto d = decide_range("bytes=900-", 1000);
  ASSERT_EQ(d.kind, Kind::kPartial);
  EXPECT_EQ(d.range.first, 900u);
  EXPECT_EQ(d.range.last, 999u);
}

TEST(Range, LastByteBeyondSizeIsClamped) {
  auto d = decide_range("bytes=500-5000", 1000);
  ASSERT_EQ(d.kind, Kind::kPartial);
  EXPECT_EQ(d.range.last, 999u);
}

TEST(Range, SuffixRangeTakesTheLastBytes) {
  auto d = decide_range("bytes=-100", 1000);
  ASSERT_EQ(d.kind, Kind::kPartial);
  EXPECT_EQ(d.range.first, 900u);
  EXPECT_EQ(decide_range("bytes=-5000", 1000).range.first, 0u);
}

TEST(Range, StartAtOrPastEndIsUnsatisfiable) {
  EXPECT_EQ(decide_range("bytes=1000-", 1000).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(decide_range("bytes=0-", 0).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(decide_range("bytes=-0", 1000).kind, Kind::kUnsatisfiable);
}

TEST(Range, InvalidOrMultiRangeFallsBackToFull) {
  for (const char* h : {"bytes=a-b", "items=0-1", "bytes=5-1", "bytes=0-1,5-6",
                        "bytes=", "bytes=99999999999999999999-"}) {
    EXPECT_EQ(decide_range(h, 1000).kind, Kind::kFull) << h;
  }
}

}  // namespace
}  // namespace sg::server
