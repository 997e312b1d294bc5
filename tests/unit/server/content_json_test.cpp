#include "server/content_json.hpp"

#include <gtest/gtest.h>

namespace sg::server {
namespace {

TEST(ContentJson, ParsesAFullItem) {
  auto f = parse_content_fields(
      R"({"title":"Intro","description":"d","tags":["a","b"],"duration_seconds":12.5,"metadata":{"k":[1,2]}})");
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->title, "Intro");
  EXPECT_EQ(f->tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_DOUBLE_EQ(f->duration_seconds, 12.5);
  EXPECT_EQ(f->metadata_json, R"({"k":[1,2]})");
}

TEST(ContentJson, RejectsWithMessagesNamingTheField) {
  struct Case {
    const char* body;
    const char* expect;
  };
  for (auto c : {Case{"{", "not valid JSON"}, Case{"[]", "must be a JSON object"},
                 Case{R"({"description":"x"})", "'title' is required"},
                 Case{R"({"title":""})", "'title' must be 1..512"},
                 Case{R"({"title":"t","tags":["a","a"]})", "duplicate tag"},
                 Case{R"({"title":"t","duration_seconds":-1})", "duration_seconds"},
                 Case{R"({"title":"t","metadata":[1]})", "'metadata' must be a JSON object"},
                 Case{R"({"title":"t","colour":"red"})", "unknown field 'colour'"}}) {
    auto f = parse_content_fields(c.body);
    ASSERT_FALSE(f) << c.body;
    EXPECT_EQ(f.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(f.error().message.find(c.expect), std::string::npos) << f.error().message;
  }
}

TEST(ContentJson, RejectsInvalidUtf8) {
  auto f = parse_content_fields("{\"title\":\"bad \xFF byte\"}");
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().message.find("not valid JSON"), std::string::npos) << f.error().message;
}

TEST(ContentJson, RejectsDeepNesting) {
  std::string deep = R"({"title":"t","metadata":)";
  for (int i = 0; i < 40; ++i) deep += "{\"a\":";
  deep += "1";
  for (int i = 0; i < 40; ++i) deep += "}";
  deep += "}";
  EXPECT_FALSE(parse_content_fields(deep));
}

TEST(ContentJson, PatchKeepsUntouchedFields) {
  ContentFields cur;
  cur.title = "old";
  cur.tags = {"x"};
  cur.duration_seconds = 3;
  auto f = apply_content_patch(R"({"title":"new"})", cur);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->title, "new");
  EXPECT_EQ(f->tags, std::vector<std::string>{"x"});
  EXPECT_DOUBLE_EQ(f->duration_seconds, 3);
}

TEST(ContentJson, ReadOnlyFieldsAreIgnoredSoAGetCanBeSentBack) {
  Content c;
  c.id = "abc";
  c.revision = 4;
  c.fields.title = "T";
  c.fields.metadata_json = R"({"a":1})";
  auto f = parse_content_fields(content_to_json(c));
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->title, "T");
  EXPECT_EQ(f->metadata_json, R"({"a":1})");
}

}  // namespace
}  // namespace sg::server
