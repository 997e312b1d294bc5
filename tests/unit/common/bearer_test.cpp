#include "common/http/bearer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sg::http {
namespace {

TEST(Bearer, AcceptsAnyConfiguredTokenWithCaseInsensitiveScheme) {
  const std::vector<std::string> tokens = {"first-token-123", "second-token-456"};
  EXPECT_EQ(check_bearer("Bearer first-token-123", tokens), BearerCheck::kAccepted);
  EXPECT_EQ(check_bearer("bearer second-token-456", tokens), BearerCheck::kAccepted);
  EXPECT_EQ(check_bearer("BEARER  second-token-456 ", tokens), BearerCheck::kAccepted);
}

TEST(Bearer, MissingOrMalformedIsMissingAndWrongIsRejected) {
  const std::vector<std::string> tokens = {"first-token-123"};
  EXPECT_EQ(check_bearer("", tokens), BearerCheck::kMissing);
  EXPECT_EQ(check_bearer("Bearer ", tokens), BearerCheck::kMissing);
  EXPECT_EQ(check_bearer("Basic Zm9vOmJhcg==", tokens), BearerCheck::kMissing);
  EXPECT_EQ(check_bearer("Bearer first-token-12", tokens), BearerCheck::kRejected);
  EXPECT_EQ(check_bearer("Bearer first-token-1234", tokens), BearerCheck::kRejected);
  EXPECT_EQ(check_bearer("Bearer anything", {}), BearerCheck::kRejected);
}

TEST(Bearer, ConstantTimeEqualIsEquality) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  EXPECT_FALSE(constant_time_equal("ab", "abc"));
  EXPECT_FALSE(constant_time_equal(std::string("a\0b", 3), "a"));
}

}  // namespace
}  // namespace sg::http
