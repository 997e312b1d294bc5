#include "common/log.hpp"

#include <gtest/gtest.h>

namespace sg::log {
namespace {

TEST(LogEscape, EscapesQuotesControlCharsAndInvalidUtf8) {
  std::string out;
  append_json_escaped(out, "a\"b\\c\n\x01 \xC3\xA9 \xFF");
  EXPECT_EQ(out, "a\\\"b\\\\c\\u000a\\u0001 \xC3\xA9 \\ufffd");
}

TEST(LogEscape, TruncatedMultibyteSequenceIsReplaced) {
  std::string out;
  append_json_escaped(out, "x\xE2\x82");
  EXPECT_EQ(out, "x\\ufffd\\ufffd");
}

TEST(LogLevel, ParsesKnownLevelsOnly) {
  Level l;
  EXPECT_TRUE(parse_level("error", l));
  EXPECT_EQ(l, Level::kError);
  EXPECT_FALSE(parse_level("verbose", l));
}

TEST(LogTime, IsRfc3339UtcWithMilliseconds) {
  const std::string ts = now_rfc3339();
  ASSERT_EQ(ts.size(), 24u) << ts;
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ(ts[19], '.');
  EXPECT_EQ(ts.back(), 'Z');
}

}  // namespace
}  // namespace sg::log

namespace sg::log {
namespace {

TEST(LogEscape, IllFormedUtf8IsReplacedSoTheLineStaysValidJson) {
  // Above U+10FFFF, overlong, surrogate: each byte becomes U+FFFD.
  for (const char* bad :
       {"\xF5\xB6\xB6\xB6", "\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE0\x80\x80"}) {
    std::string out;
    append_json_escaped(out, bad);
    EXPECT_EQ(out.find_first_of("\x80\x81\x90\xA0\xB6\xC0\xED\xF4\xF5\xE0"), std::string::npos)
        << out;
    EXPECT_NE(out.find("\\ufffd"), std::string::npos) << out;
  }
  std::string ok;
  append_json_escaped(ok, "\xF0\x9F\x8E\xAC \xED\x9F\xBF");  // U+1F3AC and U+D7FF are fine
  EXPECT_EQ(ok, "\xF0\x9F\x8E\xAC \xED\x9F\xBF");
}

}  // namespace
}  // namespace sg::log

#include <boost/json.hpp>

#include "common/json_text.hpp"

namespace sg {
namespace {

TEST(JsonText, NumbersAreShortestDecimalAndStringsEscaped) {
  boost::json::value v = {{"a", 12.5}, {"b", 0.0}, {"c", 1e-7}, {"d", -3}, {"e", "q\"\n"}, {"f", nullptr},
                          {"g", boost::json::array{true, 7u}}};
  EXPECT_EQ(json_text(v), R"({"a":12.5,"b":0.0,"c":1e-07,"d":-3,"e":"q\"\u000a","f":null,"g":[true,7]})");
  EXPECT_EQ(boost::json::parse(json_text(v)), v);
  auto back = boost::json::parse(json_text(v));
  EXPECT_EQ(back.at("a").to_number<double>(), 12.5);
  EXPECT_EQ(back.at("c").to_number<double>(), 1e-7);
  EXPECT_EQ(back.at("e").as_string(), "q\"\n");
}

}  // namespace
}  // namespace sg
