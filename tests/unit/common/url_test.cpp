#include "common/http/url.hpp"

#include <gtest/gtest.h>

namespace sg::http {
namespace {

TEST(Url, SplitsPathAndQuery) {
  auto t = split_target("/api/v1/content?limit=5&tag=x");
  EXPECT_EQ(t.path, "/api/v1/content");
  EXPECT_EQ(t.query, "limit=5&tag=x");
  EXPECT_EQ(split_target("/health").query, "");
}

TEST(Url, DecodesPercentAndPlus) {
  EXPECT_EQ(percent_decode("a%20b+c", true).value(), "a b c");
  EXPECT_EQ(percent_decode("a+b", false).value(), "a+b");
  EXPECT_EQ(percent_decode("%C3%A9", true).value(), "\xC3\xA9");
}

TEST(Url, RejectsMalformedEscapesAndNul) {
  EXPECT_FALSE(percent_decode("%", true));
  EXPECT_FALSE(percent_decode("%4", true));
  EXPECT_FALSE(percent_decode("%zz", true));
  EXPECT_FALSE(percent_decode("a%00b", true));
}

TEST(Url, ParsesQueryPairsInOrder) {
  auto q = parse_query("tag=drama&limit=10&&flag");
  ASSERT_TRUE(q);
  ASSERT_EQ(q->size(), 3u);
  EXPECT_EQ((*q)[0], (std::pair<std::string, std::string>{"tag", "drama"}));
  EXPECT_EQ((*q)[1].second, "10");
  EXPECT_EQ((*q)[2], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_FALSE(parse_query("a=%G0"));
}

TEST(RedactUrl, PasswordsInUserinfoAndQueryAreHidden) {
  EXPECT_EQ(redact_url("postgresql://sg:s3cret@db:5432/app"), "postgresql://sg:***@db:5432/app");
  EXPECT_EQ(redact_url("redis://:s3cret@cache:6379/0"), "redis://:***@cache:6379/0");
  EXPECT_EQ(redact_url("postgresql://sg@db/app?sslmode=require&password=s3cret&x=1"),
            "postgresql://sg@db/app?sslmode=require&password=***&x=1");
  EXPECT_EQ(redact_url("postgres://u:p@h/d?password=q#frag"),
            "postgres://u:***@h/d?password=***#frag");
  EXPECT_EQ(redact_url("postgresql://sg@db/app"), "postgresql://sg@db/app");
  EXPECT_EQ(redact_url("sqlite:/var/lib/sg.db"), "sqlite:/var/lib/sg.db");
  EXPECT_EQ(redact_url("memory"), "memory");
}

}  // namespace

}  // namespace sg::http
