#include "common/log_rotation.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/unique_fd.hpp"

namespace sg {
namespace fs = std::filesystem;

namespace {

fs::path numbered(const fs::path& file, int n) {
  return fs::path(file.string() + "." + std::to_string(n));
}

Error io_error(const std::string& what, const fs::path& file) {
  return make_error(ErrorCode::kInternal, what + " " + file.string() + ": " + std::strerror(errno));
}

// Copies the first `size` bytes of `from` into a fresh 0600 file `to` (replacing it).
Status copy_prefix(int from, const fs::path& to, std::uint64_t size) {
  const fs::path tmp = to.string() + ".tmp";
  UniqueFd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!out.valid()) return io_error("cannot create", tmp);
  loff_t in_off = 0;
  while (static_cast<std::uint64_t>(in_off) < size) {
    const auto left = static_cast<std::size_t>(size - static_cast<std::uint64_t>(in_off));
    const ssize_t n = ::copy_file_range(from, &in_off, out.get(), nullptr, left, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const Error e = io_error("cannot copy log into", tmp);
      ::unlink(tmp.c_str());
      return e;
    }
  }
  if (::rename(tmp.c_str(), to.c_str()) != 0) {
    const Error e = io_error("cannot rename", tmp);
    ::unlink(tmp.c_str());
    return e;
  }
  return Status::ok();
}

}  // namespace

Result<bool> rotate_log_if_large(const fs::path& file, const LogRotation& rule) {
  if (rule.keep < 1) return make_error(ErrorCode::kInvalidArgument, "log rotation keeps >= 1 file");
  UniqueFd in(::open(file.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
  if (!in.valid()) {
    if (errno == ENOENT) return false;
    return io_error("cannot open log", file);
  }
  struct stat st {};
  if (::fstat(in.get(), &st) != 0) return io_error("cannot stat log", file);
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument, "log " + file.string() + " is not a file");
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size <= rule.max_bytes) return false;
  std::error_code ec;
  fs::remove(numbered(file, rule.keep), ec);
  for (int n = rule.keep - 1; n >= 1; --n) {
    if (fs::exists(numbered(file, n), ec)) fs::rename(numbered(file, n), numbered(file, n + 1), ec);
    if (ec) {
      return make_error(ErrorCode::kInternal,
                        "cannot shift " + numbered(file, n).string() + ": " + ec.message());
    }
  }
  if (Status st_copy = copy_prefix(in.get(), numbered(file, 1), size); !st_copy) {
    return st_copy.error();
  }
  // What was appended after `size` (during the copy) is lost with the truncation.
  if (::ftruncate(in.get(), 0) != 0) return io_error("cannot truncate log", file);
  return true;
}

}  // namespace sg
