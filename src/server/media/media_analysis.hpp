// What an uploaded media file is, and its HLS form.
//
// analyze_media() reads an uploaded file once with libavformat (av_input.hpp): it records
// what the file holds (MediaProbe: container, duration, bitrate, streams, video keyframe
// times) and, when the file holds audio/video that HLS can carry without re-encoding,
// remuxes its first video and first audio stream into a fragmented MP4 (no transcoding) and
// returns where each HLS segment lies in that file (HlsIndex). Segments start at a keyframe
// of the reference stream (video, else audio) and last at least `segment_target` seconds:
// with keyframes every 2 s and a 4 s target they are 4 s; a file whose keyframes are 10 s
// apart gets 10 s segments.
//
// A file that is not media, is truncated or damaged, or holds codecs we cannot carry is not
// an error: the result says why there is no HLS (`hls_unavailable`) and the original stays
// downloadable. Every run is bounded: the deadline and the output size limit stop it.
// Thread-safe: each call uses only its own state.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sg::server::media {

struct StreamProbe {
  int index = 0;
  std::string type;     // "video", "audio", "subtitle", "data", "attachment"
  std::string codec;    // libavcodec name: "h264", "aac"
  std::string profile;  // "High", "LC" or ""
  std::int64_t bit_rate = 0;  // bits/s, 0 when unknown
  int width = 0, height = 0;  // video
  double frame_rate = 0;      // video, frames/s
  int sample_rate = 0;        // audio, Hz
  int channels = 0;           // audio
};

struct MediaProbe {
  std::string container;       // demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
  std::string container_long;  // e.g. "QuickTime / MOV"
  double duration_seconds = 0;
  std::int64_t bit_rate = 0;  // bits/s over the whole file, 0 when unknown
  std::vector<StreamProbe> streams;
  std::vector<double> keyframes;  // seconds, of the first video stream, ascending
  bool keyframes_truncated = false;  // more than kMaxKeyframes: only the first are kept
};

struct HlsSegment {
  double duration = 0;  // seconds
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

// The fragmented MP4's layout: bytes [0, init_length) are the initialisation section
// (ftyp+moov); each segment is one or more moof+mdat at [offset, offset+length).
struct HlsIndex {
  std::uint64_t init_length = 0;
  std::vector<HlsSegment> segments;
  std::string codecs;      // RFC 6381 list for CODECS ("avc1.64001e,mp4a.40.2"), "" if unknown
  int width = 0, height = 0;
  double frame_rate = 0;
  bool has_video = false;
  std::uint64_t peak_bandwidth = 0;     // bits/s of the densest segment
  std::uint64_t average_bandwidth = 0;  // bits/s over all segments
};

struct MediaAnalysis {
  std::optional<MediaProbe> probe;  // nullopt: libavformat cannot read the file as media
  std::optional<HlsIndex> hls;      // set when the fMP4 was written completely
  std::string hls_unavailable;      // why `hls` is unset (a sentence for users)
};

struct AnalysisLimits {
  double segment_target = 4.0;                      // seconds, minimum segment length
  std::chrono::seconds time_limit{300};             // the whole analysis and remux
  std::uint64_t max_output_bytes = 0;               // 0: input size * 1.25 + 4 MiB
};

inline constexpr std::size_t kMaxKeyframes = 20000;

// Reads `in_fd` from its start; writes the fragmented MP4 to `out_fd` (from its current
// position, which must be 0) unless `out_fd` is -1 (probe and keyframes only). Neither fd
// is closed. When the result has no `hls`, whatever was written to `out_fd` is garbage.
MediaAnalysis analyze_media(int in_fd, int out_fd, const AnalysisLimits& limits);

}  // namespace sg::server::media
