#include "server/media_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "common/log.hpp"
#include "common/random_hex.hpp"

namespace sg::server {
namespace {

std::string random_suffix() { return random_hex(16); }

Error io_error(const std::string& what, const std::filesystem::path& path) {
  return make_error(ErrorCode::kInternal,
                    what + " '" + path.string() + "': " + std::strerror(errno));
}

// Media file names derive from ids we generated, but check anyway: never leave the dir.
bool safe_name(std::string_view name) {
  if (name.empty() || name.size() > 200 || name.front() == '.') return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

}  // namespace

MediaUpload::MediaUpload(std::filesystem::path dir, std::string id, std::filesystem::path temp,
                         UniqueFd fd, std::uint64_t limit)
    : dir_(std::move(dir)),
      id_(std::move(id)),
      temp_(std::move(temp)),
      fd_(std::move(fd)),
      limit_(limit),
      sha_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
  EVP_DigestInit_ex(sha_.get(), EVP_sha256(), nullptr);
}

MediaUpload::~MediaUpload() {
  if (!committed_) ::unlink(temp_.c_str());
}

Status MediaUpload::write(std::string_view chunk) {
  if (size_ + chunk.size() > limit_) {
    return make_error(ErrorCode::kTooLarge,
                      "media exceeds the size limit of " + std::to_string(limit_) + " bytes");
  }
  EVP_DigestUpdate(sha_.get(), chunk.data(), chunk.size());
  const char* p = chunk.data();
  std::size_t left = chunk.size();
  while (left > 0) {
    ssize_t n = ::write(fd_.get(), p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write media file", temp_);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  size_ += chunk.size();
  return Status::ok();
}

Result<MediaInfo> MediaUpload::commit(std::string_view content_type) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(sha_.get(), digest, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < len; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xF];
  }
  if (::fsync(fd_.get()) != 0) return io_error("cannot fsync media file", temp_);
  fd_.reset();
  MediaInfo info;
  info.size = size_;
  info.sha256 = hex;
  info.content_type = std::string(content_type);
  info.file = id_ + "." + hex.substr(0, 16) + "." + random_suffix() + ".media";
  const auto final_path = dir_ / info.file;
  if (::rename(temp_.c_str(), final_path.c_str()) != 0)
    return io_error("cannot rename media file", temp_);
  committed_ = true;
  // Persist the rename itself.
  UniqueFd dirfd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dirfd.valid()) ::fsync(dirfd.get());
  return info;
}

DerivedFile::~DerivedFile() {
  if (!committed_) ::unlink(temp_.c_str());
}

Status DerivedFile::commit() {
  if (::fsync(fd_.get()) != 0) return io_error("cannot fsync media file", temp_);
  const auto final_path = dir_ / name_;
  if (::rename(temp_.c_str(), final_path.c_str()) != 0) {
    return io_error("cannot rename media file", temp_);
  }
  committed_ = true;
  UniqueFd dirfd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dirfd.valid()) ::fsync(dirfd.get());
  return Status::ok();
}

Result<std::unique_ptr<DerivedFile>> MediaStore::begin_derived(std::string_view base,
                                                               std::string_view suffix) {
  const std::string name = std::string(base) + std::string(suffix);
  if (!safe_name(name)) return make_error(ErrorCode::kInternal, "invalid media file name");
  auto temp = dir_ / (".derive-" + random_suffix() + ".tmp");
  UniqueFd fd(::open(temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) return io_error("cannot create media temp file", temp);
  return std::make_unique<DerivedFile>(dir_, name, std::move(temp), std::move(fd));
}

Status MediaStore::init() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) {
    return make_error(ErrorCode::kInvalidArgument,
                      "cannot create media dir '" + dir_.string() + "': " + ec.message());
  }
  if (::access(dir_.c_str(), W_OK | X_OK) != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "media dir '" + dir_.string() + "' is not writable");
  }
  return Status::ok();
}

Result<std::unique_ptr<MediaUpload>> MediaStore::begin(std::string_view id, std::uint64_t limit) {
  if (!safe_name(id))
    return make_error(ErrorCode::kInvalidArgument, "invalid content id for media");
  auto temp = dir_ / (".upload-" + std::string(id) + "-" + random_suffix() + ".tmp");
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) return io_error("cannot create media temp file", temp);
  return std::make_unique<MediaUpload>(dir_, std::string(id), std::move(temp), std::move(fd),
                                       limit);
}

Result<UniqueFd> MediaStore::open(std::string_view file, std::uint64_t& size) {
  if (!safe_name(file)) return make_error(ErrorCode::kInternal, "invalid media file name");
  auto path = dir_ / std::string(file);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) {
      return make_error(ErrorCode::kNotFound, "media file is missing from the media dir");
    }
    return io_error("cannot open media file", path);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error("cannot stat media file", path);
  size = static_cast<std::uint64_t>(st.st_size);
  return fd;
}

void MediaStore::remove(std::string_view file) {
  if (!safe_name(file)) return;
  auto path = dir_ / std::string(file);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    log::warn("cannot remove media file",
              {{"path", path.string()}, {"error", std::strerror(errno)}});
  }
}

Result<SweepResult> MediaStore::sweep(const std::vector<std::string>& referenced,
                                      std::chrono::seconds min_age) {
  const std::set<std::string_view> keep(referenced.begin(), referenced.end());
  const auto now = std::chrono::system_clock::now();
  SweepResult out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const bool temp =
        (name.starts_with(".upload-") || name.starts_with(".derive-")) && name.ends_with(".tmp");
    const bool media =
        (name.ends_with(".media") || name.ends_with(".media.hls.mp4")) && safe_name(name);
    if (!temp && !media) continue;
    if (media && keep.contains(name)) continue;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    // A temp file ages from its last write; a committed one from its rename.
    const std::time_t changed = temp ? st.st_mtime : st.st_ctime;
    if (now - std::chrono::system_clock::from_time_t(changed) < min_age) continue;
    if (::unlink(it->path().c_str()) != 0) {
      log::warn("cannot remove a swept media file",
                {{"path", it->path().string()}, {"error", std::strerror(errno)}});
      continue;
    }
    ++(temp ? out.temp_files : out.orphan_files);
    out.bytes += static_cast<std::uint64_t>(st.st_size);
  }
  if (ec) {
    return make_error(ErrorCode::kInternal,
                      "cannot list media dir '" + dir_.string() + "': " + ec.message());
  }
  return out;
}

}  // namespace sg::server
