// request_cmcd: a request's CMCD is found in its target and CMCD-* fields, and only there.
#include "gateway/request_cmcd.hpp"

#include <gtest/gtest.h>

namespace sg::gateway {
namespace {

http::RequestHeader get(std::string_view target) {
  http::RequestHeader h;
  h.method(http::bhttp::verb::get);
  h.target(target);
  h.set(http::bhttp::field::host, "example");
  h.set(http::bhttp::field::user_agent, "test");
  return h;
}

TEST(RequestCmcd, ARequestWithoutCmcdIsNotRead) {
  http::RequestHeader h = get("/hls/c/seg-1.m4s?token=k1.1.s.sig&cmcd=bs");
  h.set("X-CMCD-Request", "bl=1");
  h.set("CMCD-Requests", "bl=1");
  h.set("CMCD", "bl=1");
  EXPECT_FALSE(read_request_cmcd(h));
  EXPECT_FALSE(request_cmcd_sources(h).any());
}

TEST(RequestCmcd, ReadsTheQueryParameter) {
  const auto r = read_request_cmcd(get("/hls/c/seg-1.m4s?token=t&CMCD=bl%3D21300%2Cbs"));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->malformed());
  EXPECT_EQ(r->data.bl, 21300);
  EXPECT_EQ(r->data.bs, true);
}

TEST(RequestCmcd, ReadsTheFourHeadersWhateverTheirCase) {
  http::RequestHeader h = get("/hls/c/seg-1.m4s");
  h.set("cmcd-request", "bl=100");
  h.set("CMCD-OBJECT", "ot=v");
  h.set("Cmcd-Status", "bs");
  h.set("CMCD-Session", R"(sid="s1")");
  const auto r = read_request_cmcd(h);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->malformed()) << cmcd_problem_name(r->first_problem);
  EXPECT_EQ(r->data.bl, 100);
  EXPECT_EQ(r->data.ot, CmcdObjectType::kVideo);
  EXPECT_EQ(r->data.bs, true);
  EXPECT_EQ(r->data.sid->view(), "s1");
}

TEST(RequestCmcd, AHeaderGivenTwiceIsReadOnceAndReported) {
  http::RequestHeader h = get("/x");
  h.insert("CMCD-Request", "bl=100");
  h.insert("CMCD-Request", "bl=200");
  const auto r = read_request_cmcd(h);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->data.bl, 100);
  EXPECT_EQ(r->first_problem, CmcdProblem::kRepeatedSource);
}

TEST(RequestCmcd, AnEmptyParameterIsPresentAndWellFormed) {
  const auto r = read_request_cmcd(get("/x?CMCD="));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->malformed());
}

}  // namespace
}  // namespace sg::gateway
