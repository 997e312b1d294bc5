#include "gateway/core/hls_request.hpp"

#include <gtest/gtest.h>

namespace sg::gateway {
namespace {

TEST(ClassifyHls, PlaylistsAndSegmentsByTheServersRoutes) {
  EXPECT_EQ(classify_hls(true, "/api/v1/content/42/hls/master.m3u8"), HlsKind::kPlaylist);
  EXPECT_EQ(classify_hls(true, "/api/v1/content/42/hls/media.m3u8?token=a.b.c.d&CMCD=ot%3Dm"),
            HlsKind::kPlaylist);
  EXPECT_EQ(classify_hls(true, "/api/v1/content/42/hls/clip.hls.mp4?token=x"), HlsKind::kSegment);
  EXPECT_EQ(classify_hls(true, "/api/v1/content/abc-1/hls/clip.mp4#frag"), HlsKind::kSegment);
}

TEST(ClassifyHls, CmcdInitObjectTypeMarksTheInitSection) {
  EXPECT_EQ(classify_hls(true, "/api/v1/content/42/hls/clip.hls.mp4", CmcdObjectType::kInit),
            HlsKind::kInit);
  EXPECT_EQ(classify_hls(true, "/api/v1/content/42/hls/clip.hls.mp4", CmcdObjectType::kVideo),
            HlsKind::kSegment);
  // A playlist stays a playlist whatever the player says.
  EXPECT_EQ(classify_hls(true, "/api/v1/content/42/hls/media.m3u8", CmcdObjectType::kInit),
            HlsKind::kPlaylist);
}

TEST(ClassifyHls, EverythingElseIsNotHls) {
  EXPECT_EQ(classify_hls(false, "/api/v1/content/42/hls/media.m3u8"), HlsKind::kNone)
      << "only GET and HEAD";
  for (const char* t :
       {"/api/v1/content/42/media", "/api/v1/content/42", "/api/v1/content/", "/api/v1/health",
        "/api/v1/content//hls/media.m3u8", "/api/v1/content/42/hls/", "/api/v1/content/42/hls",
        "/api/v1/content/42/hls/a/b.m3u8", "/api/v1/content/42/x/hls/media.m3u8", "/watch/42",
        "/api/v1/content?q=/hls/x", "/api/v1/content/42/media?x=/hls/y.m3u8"}) {
    EXPECT_EQ(classify_hls(true, t), HlsKind::kNone) << t;
  }
}

TEST(QueryParam, FindsTheFirstExactNameInTheQueryOnly) {
  EXPECT_EQ(query_param("/a?token=k1.9.s.sig&CMCD=x", "token"), "k1.9.s.sig");
  EXPECT_EQ(query_param("/a?xtoken=1&token=2", "token"), "2");
  EXPECT_EQ(query_param("/a?token=1&token=2", "token"), "1");
  EXPECT_EQ(query_param("/a?token", "token"), "");
  EXPECT_EQ(query_param("/a?b=1#token=2", "token"), std::nullopt);
  // A '?' inside the fragment starts no query (found by fuzz_gateway_request).
  EXPECT_EQ(query_param("/a#f?token=2", "token"), std::nullopt);
  EXPECT_EQ(query_param("/token=1", "token"), std::nullopt);
  EXPECT_EQ(query_param("/a?", "token"), std::nullopt);
}

}  // namespace
}  // namespace sg::gateway
