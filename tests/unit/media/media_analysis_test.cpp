// analyze_media() on real files made by ffmpeg: a clip with its moov at the end, a file that
// is not media, a truncated clip and one whose moov is damaged.
#include "server/media/media_analysis.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>

#include "common/unique_fd.hpp"
#include "support/media_clips.hpp"
#include "support/services.hpp"

namespace sg::server::media {
namespace {

class MediaAnalysisTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<test::TempDir>("sg-media-test");
    clip_ = dir_->path() / "clip.mp4";
    Status st = test::make_test_clip(clip_);
    ASSERT_TRUE(st) << st.error().message;
  }
  static void TearDownTestSuite() { dir_.reset(); }

  MediaAnalysis analyze(const std::filesystem::path& in, bool remux = true) {
    UniqueFd in_fd(::open(in.c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_TRUE(in_fd.valid());
    out_path_ = dir_->path() / (in.filename().string() + ".out.mp4");
    UniqueFd out_fd(::open(out_path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    EXPECT_TRUE(out_fd.valid());
    return analyze_media(in_fd.get(), remux ? out_fd.get() : -1, AnalysisLimits{});
  }

  static inline std::unique_ptr<test::TempDir> dir_;
  static inline std::filesystem::path clip_;
  std::filesystem::path out_path_;
};

TEST_F(MediaAnalysisTest, ClipWithMoovAtTheEndIsProbedAndCutIntoFourSecondSegments) {
  auto moov = test::find_top_level_box(clip_, "moov");
  ASSERT_TRUE(moov);
  auto mdat = test::find_top_level_box(clip_, "mdat");
  ASSERT_TRUE(mdat);
  ASSERT_GT(moov->first, mdat->first) << "the test clip must have its moov after the media data";

  const MediaAnalysis a = analyze(clip_);
  ASSERT_TRUE(a.probe);
  ASSERT_TRUE(a.hls) << a.hls_unavailable;
  EXPECT_EQ(a.probe->container, "mov,mp4,m4a,3gp,3g2,mj2");
  EXPECT_NEAR(a.probe->duration_seconds, 12.0, 0.1);
  EXPECT_GT(a.probe->bit_rate, 0);
  ASSERT_EQ(a.probe->streams.size(), 2u);
  EXPECT_EQ(a.probe->streams[0].codec, "h264");
  EXPECT_EQ(a.probe->streams[0].width, 320);
  EXPECT_EQ(a.probe->streams[0].height, 240);
  EXPECT_DOUBLE_EQ(a.probe->streams[0].frame_rate, 25);
  EXPECT_EQ(a.probe->streams[1].codec, "aac");
  EXPECT_EQ(a.probe->streams[1].sample_rate, 48000);
  ASSERT_EQ(a.probe->keyframes.size(), 6u);
  for (std::size_t i = 0; i < a.probe->keyframes.size(); ++i) {
    EXPECT_NEAR(a.probe->keyframes[i], 2.0 * static_cast<double>(i), 0.001) << "keyframe " << i;
  }

  const HlsIndex& x = *a.hls;
  ASSERT_EQ(x.segments.size(), 3u);
  double total = 0;
  std::uint64_t next = x.init_length;
  for (const HlsSegment& s : x.segments) {
    EXPECT_NEAR(s.duration, 4.0, 0.001);
    EXPECT_EQ(s.offset, next) << "segments must be contiguous";
    next = s.offset + s.length;
    total += s.duration;
  }
  EXPECT_NEAR(total, 12.0, 0.05);
  EXPECT_EQ(next, std::filesystem::file_size(out_path_)) << "the last segment ends the file";
  EXPECT_TRUE(x.codecs.starts_with("avc1.64")) << x.codecs;  // libx264 defaults to High
  EXPECT_TRUE(x.codecs.ends_with(",mp4a.40.2")) << x.codecs;
  EXPECT_EQ(x.width, 320);
  EXPECT_GE(x.peak_bandwidth, x.average_bandwidth);

  // The output is fragmented MP4: ftyp and moov, then one moof+mdat per segment.
  const std::string out = test::read_file(out_path_);
  EXPECT_EQ(out.compare(4, 4, "ftyp"), 0);
  for (const HlsSegment& s : x.segments) {
    EXPECT_EQ(out.compare(s.offset + 4, 4, "moof"), 0) << "segment at " << s.offset;
  }
}

TEST_F(MediaAnalysisTest, ProbeOnlyRecordsKeyframesWithoutWriting) {
  const MediaAnalysis a = analyze(clip_, false);
  ASSERT_TRUE(a.probe);
  EXPECT_FALSE(a.hls);
  EXPECT_EQ(a.probe->keyframes.size(), 6u);
  EXPECT_EQ(std::filesystem::file_size(out_path_), 0u);
}

TEST_F(MediaAnalysisTest, BytesThatAreNotMediaGetNoProbeAndAReason) {
  const auto path = dir_->path() / "notes.txt";
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "these are meeting notes, not a video. ";
  test::write_file(path, text);
  const MediaAnalysis a = analyze(path);
  EXPECT_FALSE(a.probe);
  EXPECT_FALSE(a.hls);
  EXPECT_TRUE(a.hls_unavailable.starts_with("the file is not media we can read")) << a.hls_unavailable;
}

TEST_F(MediaAnalysisTest, TruncatedClipSaysTheMoovIsMissing) {
  const auto path = dir_->path() / "truncated.mp4";
  const std::string bytes = test::read_file(clip_);
  test::write_file(path, bytes.substr(0, bytes.size() / 2));
  const MediaAnalysis a = analyze(path);
  EXPECT_FALSE(a.hls);
  EXPECT_NE(a.hls_unavailable.find("moov atom not found"), std::string::npos) << a.hls_unavailable;
}

TEST_F(MediaAnalysisTest, DamagedMoovGivesNoHlsAndAReason) {
  const auto path = dir_->path() / "damaged.mp4";
  std::string bytes = test::read_file(clip_);
  auto moov = test::find_top_level_box(clip_, "moov");
  ASSERT_TRUE(moov);
  // Overwrite the moov's children (mvhd, trak...) with garbage, keeping its header.
  for (std::uint64_t i = moov->first + 8; i < moov->first + moov->second; ++i) {
    bytes[i] = static_cast<char>((i * 7919) & 0xff);
  }
  test::write_file(path, bytes);
  const MediaAnalysis a = analyze(path);
  EXPECT_FALSE(a.hls);
  EXPECT_FALSE(a.hls_unavailable.empty());
}

TEST_F(MediaAnalysisTest, AudioOnlyFileIsCutOnAudioPackets) {
  const auto path = dir_->path() / "tone.m4a";
  test::SpawnOptions o;
  o.argv = {"ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
            "sine=frequency=300:sample_rate=44100:duration=10", "-c:a", "aac", path.string()};
  o.log_file = path.string() + ".log";
  ASSERT_TRUE(test::run_command(o, std::chrono::seconds(60)));
  const MediaAnalysis a = analyze(path);
  ASSERT_TRUE(a.hls) << a.hls_unavailable;
  EXPECT_FALSE(a.hls->has_video);
  EXPECT_EQ(a.hls->codecs, "mp4a.40.2");
  ASSERT_GE(a.hls->segments.size(), 2u);
  EXPECT_GE(a.hls->segments[0].duration, 4.0);
  EXPECT_LT(a.hls->segments[0].duration, 4.1);
}

}  // namespace
}  // namespace sg::server::media
