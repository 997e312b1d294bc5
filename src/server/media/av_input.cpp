#include "server/media/av_input.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <mutex>

extern "C" {
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
}

namespace sg::server::media {
namespace {

constexpr int kIoBufferSize = 64 * 1024;
constexpr std::size_t kMaxCapturedLine = 512;

struct Captured {
  bool active = false;
  std::string last_error;
};
thread_local Captured t_captured;

// libav's log callback: error lines go to the capturing thread, everything else is dropped.
void log_callback(void* avcl, int level, const char* fmt, va_list vl) {
  if (level > AV_LOG_ERROR || !t_captured.active) return;
  char line[kMaxCapturedLine];
  int print_prefix = 1;
  va_list copy;
  va_copy(copy, vl);
  av_log_format_line2(avcl, level, fmt, copy, line, sizeof line, &print_prefix);
  va_end(copy);
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (!text.empty()) t_captured.last_error = std::move(text);
}

void install_log_callback() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(log_callback); });
}

// Nested opens would let a file make us read other files or URLs.
int refuse_open(AVFormatContext*, AVIOContext**, const char*, int, AVDictionary**) {
  return AVERROR(EPERM);
}

}  // namespace

AvLogCapture::AvLogCapture() {
  install_log_callback();
  t_captured = Captured{true, {}};
}
AvLogCapture::~AvLogCapture() { t_captured = Captured{}; }
std::string AvLogCapture::last_error() const { return t_captured.last_error; }

std::string av_error_text(int errnum) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(errnum, buf, sizeof buf);
  return buf;
}

int AvInput::read_cb(void* opaque, std::uint8_t* buf, int size) {
  auto* self = static_cast<AvInput*>(opaque);
  for (;;) {
    const ssize_t n = ::read(self->fd_, buf, static_cast<std::size_t>(size));
    if (n > 0) return static_cast<int>(n);
    if (n == 0) return AVERROR_EOF;
    if (errno != EINTR) return AVERROR(errno);
  }
}

std::int64_t AvInput::seek_cb(void* opaque, std::int64_t offset, int whence) {
  auto* self = static_cast<AvInput*>(opaque);
  if (whence & AVSEEK_SIZE) {
    struct stat st {};
    return ::fstat(self->fd_, &st) == 0 ? static_cast<std::int64_t>(st.st_size) : AVERROR(errno);
  }
  const off_t pos = ::lseek(self->fd_, static_cast<off_t>(offset), whence & ~AVSEEK_FORCE);
  return pos < 0 ? AVERROR(errno) : static_cast<std::int64_t>(pos);
}

int AvInput::interrupt_cb(void* opaque) {
  return static_cast<AvInput*>(opaque)->expired() ? 1 : 0;
}

Result<std::unique_ptr<AvInput>> AvInput::open(int fd, Deadline deadline) {
  install_log_callback();
  auto in = std::make_unique<AvInput>(fd, deadline);
  if (::lseek(fd, 0, SEEK_SET) != 0) {
    return make_error(ErrorCode::kInternal, "cannot rewind the media file");
  }
  auto* buffer = static_cast<unsigned char*>(av_malloc(kIoBufferSize));
  in->io_ = avio_alloc_context(buffer, kIoBufferSize, 0, in.get(), &AvInput::read_cb, nullptr,
                               &AvInput::seek_cb);
  AVFormatContext* ctx = avformat_alloc_context();
  if (buffer == nullptr || in->io_ == nullptr || ctx == nullptr) {
    if (in->io_ == nullptr) av_free(buffer);
    avformat_free_context(ctx);
    return make_error(ErrorCode::kInternal, "out of memory opening media");
  }
  ctx->pb = in->io_;
  ctx->flags |= AVFMT_FLAG_CUSTOM_IO;
  ctx->io_open = &refuse_open;
  ctx->interrupt_callback = {&AvInput::interrupt_cb, in.get()};
  ctx->format_whitelist = av_strdup(kAllowedDemuxers);
  AvLogCapture capture;
  // On failure avformat_open_input frees ctx (not our AVIOContext) and sets it to null.
  int rc = avformat_open_input(&ctx, nullptr, nullptr, nullptr);
  in->ctx_ = ctx;
  if (rc == 0) rc = avformat_find_stream_info(ctx, nullptr);
  if (rc < 0) {
    if (in->expired()) {
      return make_error(ErrorCode::kTimeout, "reading the media took longer than allowed");
    }
    std::string why = capture.last_error();
    if (why.empty()) why = av_error_text(rc);
    return make_error(ErrorCode::kInvalidArgument, why);
  }
  return in;
}

AvInput::~AvInput() {
  if (ctx_ != nullptr) avformat_close_input(&ctx_);
  if (io_ != nullptr) {
    av_freep(&io_->buffer);
    avio_context_free(&io_);
  }
}

}  // namespace sg::server::media
