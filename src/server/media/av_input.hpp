// Opening untrusted media with libavformat, confined to one open file.
//
// The demuxer reads only through an AVIOContext over the given file descriptor: nested opens
// (HLS or concat playlists, external data references in MOV) are refused, only the demuxers
// listed in kAllowedDemuxers may claim the file, and every blocking libav call is cut off at
// the deadline through the interrupt callback. libav's log output never reaches stderr (our
// logs are JSON lines): while an AvLogCapture lives on a thread, the error lines libav
// prints on that thread are kept, and the last one becomes the reason a user is shown.
// Not thread-safe per object; different threads may each open their own input.
#pragma once

extern "C" {
#include <libavformat/avformat.h>
}

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.hpp"

namespace sg::server::media {

// Demuxers a file may be read with (libavformat names).
inline constexpr const char* kAllowedDemuxers =
    "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,mpegts,flv,mp3,aac,ogg,wav,flac,avi";

// Keeps libav's error lines printed on this thread while it lives (at most a few KiB).
class AvLogCapture {
 public:
  AvLogCapture();
  ~AvLogCapture();
  AvLogCapture(const AvLogCapture&) = delete;
  AvLogCapture& operator=(const AvLogCapture&) = delete;
  // The last error line libav printed on this thread since construction ("" if none).
  std::string last_error() const;
};

// The text of a libav error code ("Invalid data found when processing input").
std::string av_error_text(int errnum);

// An input opened and probed (avformat_open_input + avformat_find_stream_info).
class AvInput {
 public:
  using Deadline = std::chrono::steady_clock::time_point;
  // Reads `fd` (not owned; must stay open while the AvInput lives) from its start.
  // kInvalidArgument with libav's reason when the bytes are not media it can read;
  // kTimeout when the deadline passed.
  static Result<std::unique_ptr<AvInput>> open(int fd, Deadline deadline);
  AvInput(int fd, Deadline deadline) : fd_(fd), deadline_(deadline) {}  // use open()
  ~AvInput();
  AvInput(const AvInput&) = delete;
  AvInput& operator=(const AvInput&) = delete;

  AVFormatContext* ctx() const { return ctx_; }
  bool expired() const { return std::chrono::steady_clock::now() >= deadline_; }

 private:
  static int read_cb(void* opaque, std::uint8_t* buf, int size);
  static std::int64_t seek_cb(void* opaque, std::int64_t offset, int whence);
  static int interrupt_cb(void* opaque);

  int fd_;
  Deadline deadline_;
  AVIOContext* io_ = nullptr;
  AVFormatContext* ctx_ = nullptr;
};

}  // namespace sg::server::media
