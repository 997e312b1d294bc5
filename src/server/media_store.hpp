// Media files under one directory shared by every replica of every version.
//
// An upload is written to a temporary file in the same directory while its SHA-256 is
// computed, fsync'ed, and renamed to a fresh final name only when complete, so no reader
// ever sees half a file. Each upload gets a new final name; a reader that opened the
// previous file keeps reading it (the inode lives until closed) after it is replaced.
// Thread-safety: MediaStore is stateless apart from its directory and may be shared;
// a MediaUpload belongs to one thread at a time.
#pragma once

#include <openssl/evp.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "server/storage/storage.hpp"

namespace sg::server {

class MediaUpload {
 public:
  MediaUpload(std::filesystem::path dir, std::string id, std::filesystem::path temp, UniqueFd fd,
              std::uint64_t limit);
  ~MediaUpload();  // removes the temporary file unless committed
  MediaUpload(const MediaUpload&) = delete;
  MediaUpload& operator=(const MediaUpload&) = delete;

  // Appends bytes; kTooLarge once more than `limit` bytes arrived.
  Status write(std::string_view chunk);
  // fsyncs, renames into place and returns what to record.
  Result<MediaInfo> commit(std::string_view content_type);
  std::uint64_t size() const { return size_; }

 private:
  std::filesystem::path dir_;
  std::string id_;
  std::filesystem::path temp_;
  UniqueFd fd_;
  std::uint64_t limit_;
  std::uint64_t size_ = 0;
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> sha_;
  bool committed_ = false;
};

// What MediaStore::sweep() removed.
struct SweepResult {
  std::uint64_t temp_files = 0;    // abandoned uploads
  std::uint64_t orphan_files = 0;  // committed files no item records
  std::uint64_t bytes = 0;
};

// A file derived from committed media (its HLS rendition), written to a temporary file in the
// media dir and renamed to `name` by commit() only when complete; removed unless committed.
class DerivedFile {
 public:
  DerivedFile(std::filesystem::path dir, std::string name, std::filesystem::path temp, UniqueFd fd)
      : dir_(std::move(dir)), name_(std::move(name)), temp_(std::move(temp)), fd_(std::move(fd)) {}
  ~DerivedFile();
  DerivedFile(const DerivedFile&) = delete;
  DerivedFile& operator=(const DerivedFile&) = delete;

  int fd() const { return fd_.get(); }
  const std::string& name() const { return name_; }
  // fsyncs and renames into place.
  Status commit();

 private:
  std::filesystem::path dir_;
  std::string name_;
  std::filesystem::path temp_;
  UniqueFd fd_;
  bool committed_ = false;
};

class MediaStore {
 public:
  explicit MediaStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  // Creates the directory if needed and checks it is writable.
  Status init();
  Result<std::unique_ptr<MediaUpload>> begin(std::string_view id, std::uint64_t limit);
  // Opens a committed file for reading; `size` receives its size.
  Result<UniqueFd> open(std::string_view file, std::uint64_t& size);
  // Starts the file `base` + `suffix` (read-write), derived from the committed file `base`.
  Result<std::unique_ptr<DerivedFile>> begin_derived(std::string_view base, std::string_view suffix);
  // Removes a committed file (missing files are not an error).
  void remove(std::string_view file);
  // Removes what crashed or failed writers left behind: temp files (".upload-*.tmp",
  // ".derive-*.tmp") not written to for `min_age`, and media files ("*.media" and their HLS
  // renditions "*.media.hls.mp4") that no name in `referenced`
  // names and that were renamed into place (their inode's change time) more than `min_age`
  // ago. Other files are never touched. Meant for start-up, while other replicas may be
  // uploading: a live upload writes its temp file at least every body timeout (30 s) and
  // records its file within seconds of the rename, so a `min_age` of minutes spares them.
  Result<SweepResult> sweep(const std::vector<std::string>& referenced,
                            std::chrono::seconds min_age);
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

}  // namespace sg::server
