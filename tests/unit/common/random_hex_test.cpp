#include "common/random_hex.hpp"

#include <gtest/gtest.h>

#include <set>

namespace sg {
namespace {

bool all_hex(const std::string& s) {
  return s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

TEST(RandomHex, EveryLengthIsLowercaseHexAndValuesDoNotRepeat) {
  for (std::size_t n : {1u, 15u, 16u, 17u, 32u, 48u, 100u}) {
    const std::string fast = random_hex(n);
    const std::string secure = secure_random_hex(n);
    EXPECT_EQ(fast.size(), n);
    EXPECT_EQ(secure.size(), n);
    EXPECT_TRUE(all_hex(fast)) << fast;
    EXPECT_TRUE(all_hex(secure)) << secure;
  }
  std::set<std::string> fast, secure;
  for (int i = 0; i < 1000; ++i) {
    fast.insert(random_hex(32));
    secure.insert(secure_random_hex(32));
  }
  EXPECT_EQ(fast.size(), 1000u);
  EXPECT_EQ(secure.size(), 1000u);
}

TEST(RandomHex, EveryDigitShowsUpInEveryPosition) {
  // 2,000 draws of 40 digits: a digit stuck at one value (a shift or nibble bug) shows.
  std::vector<std::set<char>> fast(40), secure(40);
  for (int i = 0; i < 2000; ++i) {
    const std::string a = random_hex(40), b = secure_random_hex(40);
    for (std::size_t p = 0; p < 40; ++p) {
      fast[p].insert(a[p]);
      secure[p].insert(b[p]);
    }
  }
  for (std::size_t p = 0; p < 40; ++p) {
    EXPECT_EQ(fast[p].size(), 16u) << "position " << p;
    EXPECT_EQ(secure[p].size(), 16u) << "position " << p;
  }
}

}  // namespace
}  // namespace sg
