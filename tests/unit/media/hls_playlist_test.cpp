#include "server/media/hls_playlist.hpp"

#include <gtest/gtest.h>

#include "server/media/media_json.hpp"

namespace sg::server::media {
namespace {

HlsIndex sample() {
  HlsIndex x;
  x.init_length = 1000;
  x.segments = {{4.0, 1000, 50000}, {4.52, 51000, 60000}, {2.2, 111000, 20000}};
  x.codecs = "avc1.64000d,mp4a.40.2";
  x.width = 320;
  x.height = 240;
  x.frame_rate = 25;
  x.has_video = true;
  x.peak_bandwidth = 106195;
  x.average_bandwidth = 101818;
  return x;
}

TEST(HlsPlaylist, MultivariantNamesOneVariantWithItsAttributes) {
  EXPECT_EQ(render_multivariant_playlist(sample(), "media.m3u8?token=T"),
            "#EXTM3U\n"
            "#EXT-X-INDEPENDENT-SEGMENTS\n"
            "#EXT-X-STREAM-INF:BANDWIDTH=106195,AVERAGE-BANDWIDTH=101818,"
            "CODECS=\"avc1.64000d,mp4a.40.2\",RESOLUTION=320x240,FRAME-RATE=25.000\n"
            "media.m3u8?token=T\n");
}

TEST(HlsPlaylist, MediaPlaylistAddressesByteRangesOfOneFile) {
  EXPECT_EQ(render_media_playlist(sample(), "f.mp4?token=T"),
            "#EXTM3U\n"
            "#EXT-X-VERSION:6\n"
            "#EXT-X-TARGETDURATION:5\n"
            "#EXT-X-MEDIA-SEQUENCE:0\n"
            "#EXT-X-PLAYLIST-TYPE:VOD\n"
            "#EXT-X-INDEPENDENT-SEGMENTS\n"
            "#EXT-X-MAP:URI=\"f.mp4?token=T\",BYTERANGE=\"1000@0\"\n"
            "#EXTINF:4.000000,\n#EXT-X-BYTERANGE:50000@1000\nf.mp4?token=T\n"
            "#EXTINF:4.520000,\n#EXT-X-BYTERANGE:60000@51000\nf.mp4?token=T\n"
            "#EXTINF:2.200000,\n#EXT-X-BYTERANGE:20000@111000\nf.mp4?token=T\n"
            "#EXT-X-ENDLIST\n");
}

TEST(HlsPlaylist, TargetDurationIsTheLongestSegmentRounded) {
  HlsIndex x = sample();
  EXPECT_EQ(target_duration(x), 5);
  x.segments[1].duration = 4.49;
  EXPECT_EQ(target_duration(x), 4);
  x.segments = {{0.2, 1000, 10}};
  EXPECT_EQ(target_duration(x), 1);
}

TEST(HlsIndexJson, RoundTripsExactlyAndRejectsInconsistentSegments) {
  const HlsIndex x = sample();
  auto back = parse_hls_index(hls_index_json(x));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(render_media_playlist(*back, "u"), render_media_playlist(x, "u"));
  EXPECT_EQ(render_multivariant_playlist(*back, "u"), render_multivariant_playlist(x, "u"));
  HlsIndex gap = x;
  gap.segments[1].offset += 1;
  EXPECT_FALSE(parse_hls_index(hls_index_json(gap)));
  EXPECT_FALSE(parse_hls_index("{\"segments\":[]}"));
  EXPECT_FALSE(parse_hls_index("[1,2]"));
  EXPECT_FALSE(parse_hls_index("not json"));
}

}  // namespace
}  // namespace sg::server::media
