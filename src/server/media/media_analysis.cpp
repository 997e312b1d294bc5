#include "server/media/media_analysis.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>

extern "C" {
#include <libavcodec/avcodec.h>
}

#include "server/media/av_input.hpp"
#include "server/media/codec_string.hpp"
#include "server/media/fmp4_remuxer.hpp"

namespace sg::server::media {
namespace {

std::string type_name(AVMediaType t) {
  const char* name = av_get_media_type_string(t);
  return name != nullptr ? name : "unknown";
}

StreamProbe describe_stream(const AVStream& st) {
  const AVCodecParameters& par = *st.codecpar;
  StreamProbe s;
  s.index = st.index;
  s.type = type_name(par.codec_type);
  s.codec = avcodec_get_name(par.codec_id);
  if (const char* p = avcodec_profile_name(par.codec_id, par.profile)) s.profile = p;
  s.bit_rate = par.bit_rate;
  if (par.codec_type == AVMEDIA_TYPE_VIDEO) {
    s.width = par.width;
    s.height = par.height;
    const AVRational fr = st.avg_frame_rate.num > 0 ? st.avg_frame_rate : st.r_frame_rate;
    if (fr.num > 0 && fr.den > 0) s.frame_rate = std::round(av_q2d(fr) * 1000) / 1000;
  } else if (par.codec_type == AVMEDIA_TYPE_AUDIO) {
    s.sample_rate = par.sample_rate;
    s.channels = par.ch_layout.nb_channels;
  }
  return s;
}

MediaProbe describe(const AVFormatContext& ctx) {
  MediaProbe p;
  p.container = ctx.iformat->name;
  if (ctx.iformat->long_name != nullptr) p.container_long = ctx.iformat->long_name;
  if (ctx.duration != AV_NOPTS_VALUE && ctx.duration > 0) {
    p.duration_seconds = std::round(static_cast<double>(ctx.duration) / AV_TIME_BASE * 1000) / 1000;
  }
  p.bit_rate = ctx.bit_rate;
  for (unsigned i = 0; i < ctx.nb_streams; ++i) p.streams.push_back(describe_stream(*ctx.streams[i]));
  return p;
}

bool is_cover_art(const AVStream& st) { return (st.disposition & AV_DISPOSITION_ATTACHED_PIC) != 0; }

// Picks the first video (not cover art) and first audio stream; "" or why HLS cannot be made.
std::string choose_streams(const AVFormatContext& ctx, RemuxPlan& plan) {
  std::string unsupported;
  for (unsigned i = 0; i < ctx.nb_streams; ++i) {
    const AVStream& st = *ctx.streams[i];
    const AVMediaType type = st.codecpar->codec_type;
    const bool video = type == AVMEDIA_TYPE_VIDEO && !is_cover_art(st);
    if (!video && type != AVMEDIA_TYPE_AUDIO) continue;
    int& slot = video ? plan.video : plan.audio;
    if (slot >= 0) continue;
    if (!hls_carries(*st.codecpar)) {
      if (unsupported.empty()) unsupported = avcodec_get_name(st.codecpar->codec_id);
      continue;
    }
    slot = static_cast<int>(i);
  }
  if (plan.video < 0 && plan.audio < 0) {
    if (!unsupported.empty()) {
      return "the codec " + unsupported +
             " cannot be carried in HLS without re-encoding (supported: H.264, HEVC, VP9, AV1, "
             "AAC, MP3, Opus, FLAC, AC-3, E-AC-3)";
    }
    return "the file has no audio or video stream";
  }
  plan.reference = plan.video >= 0 ? plan.video : plan.audio;
  return {};
}

void describe_rendition(const AVFormatContext& ctx, const RemuxPlan& plan, HlsIndex& index) {
  std::string codecs;
  bool complete = true;
  for (int i : {plan.video, plan.audio}) {
    if (i < 0) continue;
    const std::string c = rfc6381_codec(*ctx.streams[i]->codecpar);
    if (c.empty()) complete = false;
    codecs += (codecs.empty() ? "" : ",") + c;
  }
  index.codecs = complete ? codecs : "";
  if (plan.video >= 0) {
    const StreamProbe v = describe_stream(*ctx.streams[plan.video]);
    index.has_video = true;
    index.width = v.width;
    index.height = v.height;
    index.frame_rate = v.frame_rate;
  }
  double total_seconds = 0;
  std::uint64_t total_bytes = 0;
  for (const HlsSegment& s : index.segments) {
    total_seconds += s.duration;
    total_bytes += s.length;
    if (s.duration > 0) {
      index.peak_bandwidth = std::max<std::uint64_t>(
          index.peak_bandwidth, static_cast<std::uint64_t>(std::ceil(s.length * 8 / s.duration)));
    }
  }
  if (total_seconds > 0) {
    index.average_bandwidth = static_cast<std::uint64_t>(std::ceil(total_bytes * 8 / total_seconds));
  }
  if (index.peak_bandwidth == 0) index.peak_bandwidth = std::max<std::uint64_t>(1, index.average_bandwidth);
}

}  // namespace

MediaAnalysis analyze_media(int in_fd, int out_fd, const AnalysisLimits& limits) {
  MediaAnalysis result;
  const auto deadline = std::chrono::steady_clock::now() + limits.time_limit;
  auto input = AvInput::open(in_fd, deadline);
  if (!input) {
    result.hls_unavailable = input.error().code == ErrorCode::kTimeout
                                 ? "reading the file took longer than allowed"
                                 : "the file is not media we can read (" + input.error().message + ")";
    return result;
  }
  AvInput& in = **input;
  result.probe = describe(*in.ctx());
  RemuxPlan plan;
  plan.segment_target = limits.segment_target;
  const std::string why_not = choose_streams(*in.ctx(), plan);
  if (!why_not.empty() || out_fd < 0) {
    // No remux: still read the packets once for the keyframe times of the first video.
    result.hls_unavailable = why_not.empty() ? "not remuxed" : why_not;
    for (const StreamProbe& s : result.probe->streams) {
      if (s.type == "video") {
        (void)scan_keyframes(in, s.index, *result.probe);
        break;
      }
    }
    return result;
  }
  struct stat st {};
  const std::uint64_t in_size = ::fstat(in_fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  plan.max_output_bytes =
      limits.max_output_bytes > 0 ? limits.max_output_bytes : in_size + in_size / 4 + (4ULL << 20);
  auto index = remux_to_fmp4(in, plan, out_fd, *result.probe);
  if (!index) {
    result.hls_unavailable = index.error().message;
    return result;
  }
  describe_rendition(*in.ctx(), plan, *index);
  result.hls = std::move(*index);
  return result;
}

}  // namespace sg::server::media
