#include "server/media/fmp4_remuxer.hpp"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <vector>

extern "C" {
#include <libavutil/mem.h>
}

namespace sg::server::media {
namespace {

constexpr int kIoBufferSize = 256 * 1024;
// A segment longer than this (no keyframe for a minute) is refused: the muxer holds a
// fragment in memory until it is cut.
constexpr double kMaxSegmentSeconds = 60;
constexpr std::uint64_t kMaxSegmentBytes = 256ULL << 20;

struct FdWriter {
  int fd = -1;
  std::uint64_t written = 0;
  std::uint64_t limit = 0;
  bool too_large = false;
  int io_errno = 0;
};

int write_cb(void* opaque, std::uint8_t* buf, int size) {
  auto* w = static_cast<FdWriter*>(opaque);
  if (w->written + static_cast<std::uint64_t>(size) > w->limit) {
    w->too_large = true;
    return AVERROR(EFBIG);
  }
  int left = size;
  while (left > 0) {
    const ssize_t n = ::write(w->fd, buf, static_cast<std::size_t>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      w->io_errno = n < 0 ? errno : EIO;
      return AVERROR(w->io_errno);
    }
    buf += n;
    left -= static_cast<int>(n);
  }
  w->written += static_cast<std::uint64_t>(size);
  return size;
}

// The output muxer and its AVIOContext, freed together.
struct Output {
  AVFormatContext* ctx = nullptr;
  AVIOContext* io = nullptr;
  Output() = default;
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;
  ~Output() {
    avformat_free_context(ctx);
    if (io != nullptr) {
      av_freep(&io->buffer);
      avio_context_free(&io);
    }
  }
};

struct PacketRef {
  AVPacket* p = av_packet_alloc();
  PacketRef() = default;
  PacketRef(const PacketRef&) = delete;
  PacketRef& operator=(const PacketRef&) = delete;
  ~PacketRef() { av_packet_free(&p); }
};

double seconds(std::int64_t ts, AVRational tb) { return static_cast<double>(ts) * av_q2d(tb); }

std::int64_t packet_time(const AVPacket& pkt) {
  return pkt.pts != AV_NOPTS_VALUE ? pkt.pts : pkt.dts;
}

void record_keyframe(const AVPacket& pkt, const AVStream& st, MediaProbe& probe) {
  if (!(pkt.flags & AV_PKT_FLAG_KEY) || packet_time(pkt) == AV_NOPTS_VALUE) return;
  if (probe.keyframes.size() >= kMaxKeyframes) {
    probe.keyframes_truncated = true;
    return;
  }
  probe.keyframes.push_back(std::round(seconds(packet_time(pkt), st.time_base) * 1000) / 1000);
}

Error read_failure(int rc, double reached, const AvLogCapture& log, const AvInput& in) {
  if (in.expired()) return make_error(ErrorCode::kTimeout, "remuxing took longer than allowed");
  std::string why = log.last_error();
  if (why.empty()) why = av_error_text(rc);
  char at[32];
  std::snprintf(at, sizeof at, "%.3f", reached);
  return make_error(ErrorCode::kInvalidArgument, "the media data is damaged or truncated after " +
                                                     std::string(at) + " s: " + why);
}

Status open_output(Output& out, FdWriter& writer, AvInput& in, const RemuxPlan& plan,
                   std::vector<int>& map) {
  if (avformat_alloc_output_context2(&out.ctx, nullptr, "mp4", nullptr) < 0) {
    return make_error(ErrorCode::kInternal, "cannot create the MP4 muxer");
  }
  auto* buffer = static_cast<unsigned char*>(av_malloc(kIoBufferSize));
  out.io = avio_alloc_context(buffer, kIoBufferSize, 1, &writer, nullptr, &write_cb, nullptr);
  if (out.io == nullptr) {
    av_free(buffer);
    return make_error(ErrorCode::kInternal, "out of memory");
  }
  out.ctx->pb = out.io;
  map.assign(in.ctx()->nb_streams, -1);
  for (int index : {plan.video, plan.audio}) {
    if (index < 0) continue;
    AVStream* os = avformat_new_stream(out.ctx, nullptr);
    if (os == nullptr || avcodec_parameters_copy(os->codecpar, in.ctx()->streams[index]->codecpar) < 0) {
      return make_error(ErrorCode::kInternal, "cannot add a stream to the MP4 muxer");
    }
    os->codecpar->codec_tag = 0;
    os->time_base = in.ctx()->streams[index]->time_base;
    map[static_cast<std::size_t>(index)] = os->index;
  }
  AVDictionary* opts = nullptr;
  // One fragment per call to av_write_frame(ctx, nullptr); the moov goes out with the first
  // fragment (after bitstream filters set the codec configuration); no mfra trailer.
  av_dict_set(&opts, "movflags", "frag_custom+empty_moov+delay_moov+default_base_moof+skip_trailer", 0);
  const int rc = avformat_write_header(out.ctx, &opts);
  av_dict_free(&opts);
  if (rc < 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the MP4 muxer cannot carry these streams: " + av_error_text(rc));
  }
  return Status::ok();
}

// Offset of the first top-level 'moof' box in the written file: the end of ftyp+moov.
Result<std::uint64_t> init_section_length(int fd, std::uint64_t file_size) {
  std::uint64_t pos = 0;
  while (pos + 8 <= file_size) {
    unsigned char head[16];
    if (::pread(fd, head, sizeof head, static_cast<off_t>(pos)) < 8) break;
    std::uint64_t size = (std::uint64_t{head[0]} << 24) | (std::uint64_t{head[1]} << 16) |
                         (std::uint64_t{head[2]} << 8) | head[3];
    if (std::memcmp(head + 4, "moof", 4) == 0) return pos;
    if (size == 1) {
      size = 0;
      for (int i = 8; i < 16; ++i) size = (size << 8) | head[i];
    }
    if (size < 8) break;
    pos += size;
  }
  return make_error(ErrorCode::kInternal, "the written fragmented MP4 has no fragment");
}

}  // namespace

Status scan_keyframes(AvInput& in, int video, MediaProbe& probe) {
  AvLogCapture log;
  PacketRef pkt;
  for (;;) {
    const int rc = av_read_frame(in.ctx(), pkt.p);
    if (rc == AVERROR_EOF) return Status::ok();
    if (rc < 0) return read_failure(rc, probe.keyframes.empty() ? 0 : probe.keyframes.back(), log, in);
    if (pkt.p->stream_index == video) record_keyframe(*pkt.p, *in.ctx()->streams[video], probe);
    av_packet_unref(pkt.p);
  }
}

namespace {

// One remux: the muxer, the cut points and where each fragment ended in the file.
class Fmp4Remux {
 public:
  Fmp4Remux(AvInput& in, const RemuxPlan& plan, int out_fd, MediaProbe& probe)
      : in_(in), plan_(plan), writer_{out_fd, 0, plan.max_output_bytes}, probe_(probe) {}

  Result<HlsIndex> run() {
    if (Status st = open_output(out_, writer_, in_, plan_, map_); !st) return st.error();
    PacketRef pkt;
    for (;;) {
      const int rc = av_read_frame(in_.ctx(), pkt.p);
      if (rc == AVERROR_EOF) break;
      if (rc < 0) return read_failure(rc, std::isnan(start_) ? 0 : end_, log_, in_);
      const Status st = copy(*pkt.p);
      av_packet_unref(pkt.p);
      if (!st) return st.error();
      if (in_.expired()) return make_error(ErrorCode::kTimeout, "remuxing took longer than allowed");
    }
    if (has_packets_) {
      if (Status st = cut(end_); !st) return st.error();
    }
    if (const int rc = av_write_trailer(out_.ctx); rc < 0) return write_failed(rc);
    avio_flush(out_.io);
    if (writer_.io_errno != 0 || writer_.too_large) return write_failed(0);
    return index();
  }

 private:
  // Copies one packet, cutting a segment first when it is a reference keyframe that ends
  // one of at least the target length.
  Status copy(AVPacket& pkt) {
    const int si = pkt.stream_index;
    const AVStream& is = *in_.ctx()->streams[si];
    if (si == plan_.video) record_keyframe(pkt, is, probe_);
    if (map_[static_cast<std::size_t>(si)] < 0) return Status::ok();
    if (si == plan_.reference && packet_time(pkt) != AV_NOPTS_VALUE) {
      const double t = seconds(packet_time(pkt), is.time_base);
      if ((pkt.flags & AV_PKT_FLAG_KEY) && has_packets_ && t - start_ >= plan_.segment_target) {
        if (Status st = cut(t); !st) return st;
      }
      if (std::isnan(start_)) start_ = t;
      if (t - start_ > kMaxSegmentSeconds) {
        return make_error(ErrorCode::kInvalidArgument,
                          "no keyframe for more than 60 s after " + std::to_string(start_) +
                              " s: HLS segments cannot be cut");
      }
      end_ = std::max(end_, t + seconds(pkt.duration, is.time_base));
    }
    bytes_ += static_cast<std::uint64_t>(pkt.size);
    if (bytes_ > kMaxSegmentBytes) {
      return make_error(ErrorCode::kInvalidArgument, "a segment would exceed 256 MiB");
    }
    AVStream* os = out_.ctx->streams[map_[static_cast<std::size_t>(si)]];
    av_packet_rescale_ts(&pkt, is.time_base, os->time_base);
    pkt.stream_index = os->index;
    pkt.pos = -1;
    if (const int rc = av_write_frame(out_.ctx, &pkt); rc < 0) return write_failed(rc);
    has_packets_ = true;
    return Status::ok();
  }

  // Ends the current segment at `until` (reference stream time): one fragment.
  Status cut(double until) {
    // With delay_moov the first flush writes only ftyp+moov; the second the fragment.
    for (int i = moov_written_ ? 1 : 0; i < 2; ++i) {
      if (const int rc = av_write_frame(out_.ctx, nullptr); rc < 0) return write_failed(rc);
    }
    moov_written_ = true;
    durations_.push_back(until - start_);
    ends_.push_back(static_cast<std::uint64_t>(avio_tell(out_.io)));
    start_ = until;
    has_packets_ = false;
    bytes_ = 0;
    return Status::ok();
  }

  Error write_failed(int rc) const {
    if (writer_.too_large) {
      return make_error(ErrorCode::kTooLarge, "the fragmented MP4 would exceed " +
                                                  std::to_string(writer_.limit) + " bytes");
    }
    if (writer_.io_errno != 0) {
      return make_error(ErrorCode::kInternal, std::string("cannot write the fragmented MP4: ") +
                                                  std::strerror(writer_.io_errno));
    }
    const std::string why = log_.last_error();
    return make_error(ErrorCode::kInvalidArgument,
                      "the MP4 muxer refused a packet: " + (why.empty() ? av_error_text(rc) : why));
  }

  Result<HlsIndex> index() const {
    if (ends_.empty()) {
      return make_error(ErrorCode::kInvalidArgument, "the media has no audio or video packets");
    }
    auto init = init_section_length(writer_.fd, writer_.written);
    if (!init) return init.error();
    HlsIndex index;
    index.init_length = *init;
    std::uint64_t begin = *init;
    for (std::size_t i = 0; i < ends_.size(); ++i) {
      if (ends_[i] <= begin) {
        return make_error(ErrorCode::kInternal, "the MP4 muxer wrote an empty fragment");
      }
      index.segments.push_back({durations_[i], begin, ends_[i] - begin});
      begin = ends_[i];
    }
    return index;
  }

  AvInput& in_;
  const RemuxPlan& plan_;
  AvLogCapture log_;
  FdWriter writer_;
  MediaProbe& probe_;
  Output out_;
  std::vector<int> map_;  // input stream index -> output stream index, -1 when dropped
  bool moov_written_ = false;
  double start_ = NAN;  // reference time where the current segment starts
  double end_ = 0;      // the latest end time of a reference packet
  std::uint64_t bytes_ = 0;  // packet bytes in the current segment
  bool has_packets_ = false;
  std::vector<double> durations_;
  std::vector<std::uint64_t> ends_;  // file offsets where segments end
};

}  // namespace

Result<HlsIndex> remux_to_fmp4(AvInput& in, const RemuxPlan& plan, int out_fd,
                               MediaProbe& probe) {
  return Fmp4Remux(in, plan, out_fd, probe).run();
}

}  // namespace sg::server::media
