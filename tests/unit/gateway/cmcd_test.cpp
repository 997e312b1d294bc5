// CMCD (CTA-5004): the spec's examples read in both forms, every value type, and malformed
// payloads reported (and dropped) as the header states.
#include "gateway/core/cmcd.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sg::gateway {
namespace {

// The full set a player sends (hls.js's documentation, CTA-5004's all-keys example), as the
// query parameter: the whole payload URL-encoded; `nor` itself holds an encoded path.
constexpr std::string_view kAllKeysQuery =
    "bl%3D21300%2Cbr%3D3200%2Cbs%2Ccid%3D%22faec5fc2-ac30-11eabb37-0242ac130002%22%2Cd%3D4004"
    "%2Cdl%3D18500%2Cmtp%3D48100%2Cnor%3D%22..%252F300kbps%252Ftrack.m4v%22%2Cnrr%3D%2212323-"
    "48763%22%2Cot%3Dv%2Cpr%3D1.08%2Crtp%3D12000%2Csf%3Dd%2Csid%3D%226e2fb550-c457-11e9-bb97-"
    "0800200c9a66%22%2Cst%3Dv%2Csu%2Ctb%3D6000";

CmcdReport from_query(std::string_view raw) {
  CmcdSources s;
  s.query = raw;
  return parse_cmcd(s);
}

CmcdReport from_header(std::string_view request) {
  CmcdSources s;
  s.request = request;
  return parse_cmcd(s);
}

void expect_all_keys(const CmcdReport& r) {
  ASSERT_FALSE(r.malformed()) << cmcd_problem_name(r.first_problem) << " x" << r.problems;
  const CmcdData& d = r.data;
  EXPECT_EQ(d.bl, 21300);
  EXPECT_EQ(d.br, 3200);
  EXPECT_EQ(d.bs, true);
  ASSERT_TRUE(d.cid);
  EXPECT_EQ(d.cid->view(), "faec5fc2-ac30-11eabb37-0242ac130002");
  EXPECT_EQ(d.d, 4004);
  EXPECT_EQ(d.dl, 18500);
  EXPECT_EQ(d.mtp, 48100);
  ASSERT_TRUE(d.nor);
  EXPECT_EQ(d.nor->view(), "..%2F300kbps%2Ftrack.m4v");  // still the player's encoding
  ASSERT_TRUE(d.nrr);
  EXPECT_EQ(d.nrr->view(), "12323-48763");
  EXPECT_EQ(d.ot, CmcdObjectType::kVideo);
  ASSERT_TRUE(d.pr);
  EXPECT_DOUBLE_EQ(*d.pr, 1.08);
  EXPECT_EQ(d.rtp, 12000);
  EXPECT_EQ(d.sf, CmcdStreamingFormat::kDash);
  ASSERT_TRUE(d.sid);
  EXPECT_EQ(d.sid->view(), "6e2fb550-c457-11e9-bb97-0800200c9a66");
  EXPECT_EQ(d.st, CmcdStreamType::kVod);
  EXPECT_EQ(d.su, true);
  EXPECT_EQ(d.tb, 6000);
  EXPECT_FALSE(d.v);  // version 1 is sent by omitting v
  EXPECT_EQ(r.skipped_keys, 0u);
}

TEST(Cmcd, ReadsEveryKeyOfTheSpecExampleFromTheQuery) {
  const std::string target =
      "/hls/x/seg.m4s?token=t.1.s.g&CMCD=" + std::string(kAllKeysQuery) + "&x=1";
  const CmcdQueryParam p = find_cmcd_query(target);
  ASSERT_EQ(p.count, 1u);
  expect_all_keys(from_query(p.value));
}

TEST(Cmcd, ReadsTheSameKeysSplitOverTheFourHeaders) {
  CmcdSources s;
  s.request = R"(bl=21300,dl=18500,mtp=48100,nor="..%2F300kbps%2Ftrack.m4v",nrr="12323-48763",su)";
  s.object = "br=3200,d=4004,ot=v,tb=6000";
  s.status = "bs,rtp=12000";
  s.session =
      R"(cid="faec5fc2-ac30-11eabb37-0242ac130002",pr=1.08,sf=d,sid="6e2fb550-c457-11e9-bb97-0800200c9a66",st=v)";
  expect_all_keys(parse_cmcd(s));
}

TEST(Cmcd, HeadersAreNotUrlDecoded) {
  const CmcdReport r = from_header(R"(nor="a%2Cb+c")");
  ASSERT_FALSE(r.malformed());
  EXPECT_EQ(r.data.nor->view(), "a%2Cb+c");
}

TEST(Cmcd, QueryDecodesPercentAndPlusAsURLSearchParamsWrites) {
  // URLSearchParams (hls.js) writes a space as `+`; `*` and letters stay raw.
  const CmcdReport r = from_query("sid%3D%22a+b%2Cc%22%2Cot%3Dav");
  ASSERT_FALSE(r.malformed());
  EXPECT_EQ(r.data.sid->view(), "a b,c");
  EXPECT_EQ(r.data.ot, CmcdObjectType::kMuxed);
  // Upper- and lower-case hex digits both decode.
  EXPECT_EQ(from_query("sid%3d%22x%22").data.sid->view(), "x");
}

TEST(Cmcd, SpecExamplesSessionAndContentIdAndBufferStarvation) {
  const CmcdReport a = from_query(
      "cid%3D%22faec5fc2-ac30-11eabb37-0242ac130002%22%2Csid%3D%226e2fb550-c457-11e9-bb97-"
      "0800200c9a66%22");
  ASSERT_FALSE(a.malformed());
  EXPECT_EQ(a.data.cid->view(), "faec5fc2-ac30-11eabb37-0242ac130002");
  const CmcdReport b = from_query("bs%2Csu%2Csid%3D%226e2fb550%22");
  ASSERT_FALSE(b.malformed());
  EXPECT_EQ(b.data.bs, true);
  EXPECT_EQ(b.data.su, true);
  EXPECT_FALSE(b.data.bl);
}

TEST(Cmcd, BooleansAreTheKeyAloneOrStructuredFieldQuestionMarks) {
  EXPECT_EQ(from_header("bs").data.bs, true);
  EXPECT_EQ(from_header("bs=?1").data.bs, true);
  EXPECT_EQ(from_header("bs=?0").data.bs, false);
  // `false`/`true` are tokens, not Booleans: the key is dropped and counted.
  const CmcdReport r = from_header("bs=false,su=true,bl=100");
  EXPECT_FALSE(r.data.bs);
  EXPECT_FALSE(r.data.su);
  EXPECT_EQ(r.data.bl, 100);
  EXPECT_EQ(r.problems, 2u);
  EXPECT_EQ(r.first_problem, CmcdProblem::kWrongType);
  // `?2` is not a Boolean at all: a syntax error drops the source.
  EXPECT_EQ(from_header("bs=?2").first_problem, CmcdProblem::kBadSyntax);
}

TEST(Cmcd, IntegersDecimalsTokensAndStrings) {
  const CmcdReport r =
      from_header(R"(br=0,d=999999999999999,pr=2,st=l,sf=h,ot=tt,cid="q\"uo\\te",v=1)");
  ASSERT_FALSE(r.malformed()) << cmcd_problem_name(r.first_problem);
  EXPECT_EQ(r.data.br, 0);
  EXPECT_EQ(r.data.d, 999999999999999);  // 15 digits, the Structured Field maximum
  EXPECT_DOUBLE_EQ(*r.data.pr, 2.0);     // an Integer rate is accepted (hls.js writes pr=2)
  EXPECT_EQ(r.data.st, CmcdStreamType::kLive);
  EXPECT_EQ(r.data.sf, CmcdStreamingFormat::kHls);
  EXPECT_EQ(r.data.ot, CmcdObjectType::kTimedText);
  EXPECT_EQ(r.data.cid->view(), "q\"uo\\te");
  EXPECT_EQ(r.data.v, 1);
  EXPECT_DOUBLE_EQ(*from_header("pr=0.5").data.pr, 0.5);
  EXPECT_DOUBLE_EQ(*from_header("pr=1.125").data.pr, 1.125);
}

TEST(Cmcd, OrderDoesNotMatterAndSpacesAroundCommasAreAllowedInHeaders) {
  const CmcdReport r = from_header("tb=6000 ,\tbr=3200,  bl=100");
  ASSERT_FALSE(r.malformed()) << cmcd_problem_name(r.first_problem);
  EXPECT_EQ(r.data.tb, 6000);
  EXPECT_EQ(r.data.br, 3200);
  EXPECT_EQ(r.data.bl, 100);
  EXPECT_FALSE(from_header(" bl=100").malformed());  // leading SP is discarded
  EXPECT_FALSE(from_header("").malformed());         // an empty dictionary
}

TEST(Cmcd, UnknownAndCustomKeysAreSkippedNotMalformed) {
  const CmcdReport r = from_header(
      R"(com.example-mynumerickey=500,com.example-myNumericKey=500,com.examplemyStringKey="v",)"
      R"(zz,BR=7,future*key=tok/en:1,bl=100)");
  ASSERT_FALSE(r.malformed()) << cmcd_problem_name(r.first_problem);
  EXPECT_EQ(r.skipped_keys, 6u);
  EXPECT_FALSE(r.data.br);  // keys are case-sensitive: BR is not br
  EXPECT_EQ(r.data.bl, 100);
}

TEST(Cmcd, AnUnterminatedStringDropsTheWholeSource) {
  const CmcdReport r = from_header(R"(bl=100,sid="abc)");
  EXPECT_TRUE(r.malformed());
  EXPECT_EQ(r.first_problem, CmcdProblem::kBadSyntax);
  EXPECT_FALSE(r.data.bl);  // RFC 8941: a field that fails to parse is ignored entirely
  EXPECT_FALSE(r.data.sid);
}

TEST(Cmcd, ASyntaxErrorInOneHeaderKeepsTheOthers) {
  CmcdSources s;
  s.request = "bl=100,";  // trailing comma
  s.session = R"(sid="ok")";
  const CmcdReport r = parse_cmcd(s);
  EXPECT_EQ(r.problems, 1u);
  EXPECT_EQ(r.first_problem, CmcdProblem::kBadSyntax);
  EXPECT_FALSE(r.data.bl);
  EXPECT_EQ(r.data.sid->view(), "ok");
}

TEST(Cmcd, BadSyntaxCases) {
  for (const std::string_view bad : {"bl=",
                                     "bl=1.",
                                     "bl=.5",
                                     "bl=1.2345",
                                     "bl=1234567890123.5",
                                     "bl=1234567890123456",
                                     "bl=--1",
                                     ",bl=1",
                                     "bl=1,,br=2",
                                     "bl=1 br=2",
                                     "bl = 1",
                                     "bl=1;x=2",
                                     "br=(3200 1500)",
                                     "Bl=:YWJj:",
                                     "1bl=2",
                                     "-x=1",
                                     R"(sid="a\nb")",
                                     "sid=\"\x01\"",
                                     "sid=\"\xc3\xa9\"",
                                     "bl=1,",
                                     "bl=1\x7f"}) {
    const CmcdReport r = from_header(bad);
    EXPECT_TRUE(r.malformed()) << bad;
    EXPECT_EQ(r.first_problem, CmcdProblem::kBadSyntax) << bad;
    EXPECT_FALSE(r.data.bl) << bad;
  }
}

TEST(Cmcd, WrongTypesAndBadValuesDropOnlyThatKey) {
  struct Case {
    std::string_view payload;
    CmcdProblem problem;
  };
  for (const Case& c :
       {Case{"br=abc", CmcdProblem::kWrongType}, Case{"br=1.5", CmcdProblem::kWrongType},
        Case{R"(br="3200")", CmcdProblem::kWrongType}, Case{"br", CmcdProblem::kWrongType},
        Case{"br=-1", CmcdProblem::kBadValue}, Case{"pr=-0.5", CmcdProblem::kBadValue},
        Case{"pr=fast", CmcdProblem::kWrongType}, Case{"v=0", CmcdProblem::kBadValue},
        Case{"ot=x", CmcdProblem::kBadValue}, Case{"ot=V", CmcdProblem::kBadValue},
        Case{R"(ot="v")", CmcdProblem::kWrongType}, Case{"sf=hls", CmcdProblem::kBadValue},
        Case{"st=x", CmcdProblem::kBadValue}, Case{"sid=abc", CmcdProblem::kWrongType},
        Case{R"(nrr="12-3")", CmcdProblem::kBadValue}, Case{R"(nrr="-")", CmcdProblem::kBadValue},
        Case{R"(nrr="a-b")", CmcdProblem::kBadValue},
        Case{R"(nrr="1234567890123456-")", CmcdProblem::kBadValue}}) {
    const CmcdReport r = from_header(std::string(c.payload) + ",tb=6000");
    EXPECT_EQ(r.problems, 1u) << c.payload;
    EXPECT_EQ(r.first_problem, c.problem)
        << c.payload << ": " << cmcd_problem_name(r.first_problem);
    EXPECT_EQ(r.data.tb, 6000) << c.payload << ": the other key is kept";
  }
  for (const std::string_view ok : {R"(nrr="12323-")", R"(nrr="-500")", R"(nrr="5-5")"}) {
    EXPECT_FALSE(from_header(ok).malformed()) << ok;
  }
}

TEST(Cmcd, SessionAndContentIdsOver64CharactersAreDropped) {
  const std::string id64(64, 'a');
  const std::string id65(65, 'a');
  EXPECT_EQ(from_header("sid=\"" + id64 + "\"").data.sid->view(), id64);
  const CmcdReport r = from_header("sid=\"" + id65 + "\",cid=\"" + id65 + "\",bl=1");
  EXPECT_FALSE(r.data.sid);
  EXPECT_FALSE(r.data.cid);
  EXPECT_EQ(r.data.bl, 1);
  EXPECT_EQ(r.problems, 2u);
  EXPECT_EQ(r.first_problem, CmcdProblem::kValueTooLong);
  // Escapes count as the one character they stand for.
  EXPECT_EQ(from_header("sid=\"" + std::string(32, 'a') + std::string(32 * 2, '\\') + "\"")
                .data.sid->view()
                .size(),
            64u);
}

TEST(Cmcd, OversizeNorAndOversizeSourcesAreReportedNotRead) {
  const std::string nor(kCmcdMaxNorChars + 1, 'x');
  const CmcdReport r = from_header("nor=\"" + nor + "\",bl=1");
  EXPECT_FALSE(r.data.nor);
  EXPECT_EQ(r.first_problem, CmcdProblem::kValueTooLong);
  EXPECT_EQ(r.data.bl, 1);
  const std::string huge = "bl=1," + std::string(kCmcdMaxSourceBytes, 'a');
  const CmcdReport h = from_header(huge);
  EXPECT_EQ(h.first_problem, CmcdProblem::kSourceTooLong);
  EXPECT_FALSE(h.data.bl);
}

TEST(Cmcd, DuplicateKeysKeepTheFirstValue) {
  const CmcdReport r = from_header("bl=100,bl=200");
  EXPECT_EQ(r.data.bl, 100);
  EXPECT_EQ(r.first_problem, CmcdProblem::kDuplicateKey);
  // Across headers, and after the first was dropped as a bad value.
  CmcdSources s;
  s.request = "bl=-5";
  s.status = "bl=300";
  const CmcdReport x = parse_cmcd(s);
  EXPECT_FALSE(x.data.bl);
  EXPECT_EQ(x.problems, 2u);
  // Across the query and a header.
  s = {};
  s.query = "sid%3D%22q%22";
  s.session = R"(sid="h")";
  const CmcdReport y = parse_cmcd(s);
  EXPECT_EQ(y.data.sid->view(), "q");
  EXPECT_EQ(y.first_problem, CmcdProblem::kDuplicateKey);
}

TEST(Cmcd, BadPercentEncodingDropsTheQuery) {
  for (const std::string_view bad : {"bl%3D1%2", "bl%3D1%", "bl%3D1%zz", "bl%3D%22a%G1%22"}) {
    const CmcdReport r = from_query(bad);
    EXPECT_EQ(r.first_problem, CmcdProblem::kBadPercentEncoding) << bad;
    EXPECT_FALSE(r.data.bl) << bad;
  }
  // Percent-decoding yields a byte outside a String's range: a syntax error.
  EXPECT_EQ(from_query("sid%3D%22%0A%22").first_problem, CmcdProblem::kBadSyntax);
}

TEST(Cmcd, FindsTheQueryParameterExactlyOnceAndFlagsRepeats) {
  EXPECT_EQ(find_cmcd_query("/a/b.m3u8").count, 0u);
  EXPECT_EQ(find_cmcd_query("/a?cmcd=bs").count, 0u);   // the name is case-sensitive
  EXPECT_EQ(find_cmcd_query("/a?xCMCD=bs").count, 0u);  // whole names only
  EXPECT_EQ(find_cmcd_query("/a?#CMCD=bs").count, 0u);  // not in the fragment
  EXPECT_EQ(find_cmcd_query("/a#f?CMCD=bs").count, 0u);  // a '?' in the fragment: no query
  const CmcdQueryParam one = find_cmcd_query("/a?token=x&CMCD=bs%2Csu&b=2");
  EXPECT_EQ(one.count, 1u);
  EXPECT_EQ(one.value, "bs%2Csu");
  const CmcdQueryParam empty = find_cmcd_query("/a?CMCD");
  EXPECT_EQ(empty.count, 1u);
  EXPECT_EQ(empty.value, "");
  const CmcdQueryParam two = find_cmcd_query("/a?CMCD=bl%3D1&CMCD=bl%3D2");
  EXPECT_EQ(two.count, 2u);
  EXPECT_EQ(two.value, "bl%3D1");
  CmcdSources s;
  s.query = two.value;
  s.repeated = two.count > 1;
  const CmcdReport r = parse_cmcd(s);
  EXPECT_EQ(r.first_problem, CmcdProblem::kRepeatedSource);
  EXPECT_EQ(r.data.bl, 1);
}

TEST(Cmcd, NoSourcesIsNotMalformed) {
  const CmcdReport r = parse_cmcd({});
  EXPECT_FALSE(r.malformed());
  EXPECT_FALSE(CmcdSources{}.any());
}

}  // namespace
}  // namespace sg::gateway
