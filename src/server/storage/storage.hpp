// Storage of content items: the contract both implementations (SQLite, PostgreSQL) keep.
//
// Items have a server-assigned string id, a monotonically increasing `seq` (the stable list
// order and the pagination cursor) and a `revision` that starts at 1 and grows by one on every
// change (the ETag). All methods are thread-safe: implementations hold a pool of connections
// and every call takes one for its duration. Queries are parameterised; no input is ever
// spliced into SQL. Every method may block (disk, network): callers keep them off I/O threads.
//
// Durability: a write that returned ok survives a power loss, not only a crash of the
// process. SQLite runs in WAL mode with synchronous=FULL, so every commit fsyncs the WAL
// before it returns (sqlite_durability_test counts those syncs); PostgreSQL sessions run with
// synchronous_commit=on, so COMMIT returns once the WAL record is flushed. Callers may
// therefore delete a file a committed write stopped referring to as soon as the call returns.
// A write whose commit answer was lost (the connection broke during COMMIT) fails with
// Error::outcome_unknown set: it may have committed, and nothing it may refer to may be
// deleted.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace sg::server {

struct MediaInfo {
  std::uint64_t size = 0;
  std::string sha256;        // lower-case hex
  std::string content_type;  // as uploaded
  std::string file;          // file name inside the media dir
  // The streaming form (media/hls_rendition.hpp), written with the media: the probe and HLS
  // summary shown in the content JSON ("" for media stored before HLS existed), the
  // fragmented MP4's file name in the media dir and its segment index ("" without HLS).
  std::string stream_json;
  std::string hls_file;
  std::string hls_index_json;
};

struct ContentFields {
  std::string title;
  std::string description;
  std::vector<std::string> tags;  // each tag is matched exactly by list filters
  double duration_seconds = 0;
  std::string metadata_json = "{}";  // a serialized JSON object
};

struct Content {
  std::string id;
  std::int64_t seq = 0;       // assigned by storage on create
  std::int64_t revision = 1;  // 1 on create, +1 per update or media change
  ContentFields fields;
  std::string created_at;  // RFC 3339 UTC
  std::string updated_at;
  std::optional<MediaInfo> media;
};

// What Storage::set_media did: the item after the change, and the media it replaced (whose
// file is the caller's to remove). Both are read in the one transaction that writes, so of
// two uploads racing on one item each learns exactly the file it replaced: none is orphaned.
struct MediaChange {
  Content item;
  std::optional<MediaInfo> previous;
};

struct ListQuery {
  int limit = 20;                         // 1..100, validated by the caller
  std::optional<std::int64_t> after_seq;  // exclusive cursor
  std::optional<std::string> tag;         // only items carrying this tag
};

struct ListPage {
  std::vector<Content> items;                  // ordered by seq ascending
  std::optional<std::int64_t> next_after_seq;  // set when more items may follow
};

class Storage {
 public:
  virtual ~Storage() = default;

  // Inserts `item` (id, fields, timestamps given by the caller; seq and revision assigned).
  // kConflict if the id exists.
  virtual Result<Content> create(const Content& item) = 0;
  // kNotFound if absent.
  virtual Result<Content> get(std::string_view id) = 0;
  virtual Result<ListPage> list(const ListQuery& query) = 0;
  // Replaces the fields of `id` when its revision equals `expected_revision`, sets updated_at,
  // and bumps the revision. kNotFound if absent, kPreconditionFailed if the revision differs.
  virtual Result<Content> update(std::string_view id, std::int64_t expected_revision,
                                 const ContentFields& fields, std::string_view updated_at) = 0;
  // Deletes `id`; when `expected_revision` is set it must match (else kPreconditionFailed).
  // kNotFound if absent. Returns the deleted item (its media file is the caller's to remove).
  virtual Result<Content> remove(std::string_view id,
                                 std::optional<std::int64_t> expected_revision) = 0;
  // Records the media of `id` (replacing any previous) and bumps the revision.
  // Returns the updated item and the media it replaced; kNotFound if absent.
  virtual Result<MediaChange> set_media(std::string_view id, const MediaInfo& media,
                                        std::string_view updated_at) = 0;
  // The media file names the items record, HLS renditions included (for sweeping orphans
  // from the media dir).
  virtual Result<std::vector<std::string>> media_files() = 0;
  // A cheap round trip proving the database answers.
  virtual Status ping() = 0;
  // "sqlite" or "postgresql".
  virtual std::string_view backend() const = 0;
};

struct StorageOptions {
  int pool_size = 8;                                // connections
  std::chrono::milliseconds acquire_timeout{5000};  // waiting for a free connection
  std::chrono::milliseconds busy_timeout{5000};     // SQLite lock wait / PG statement_timeout
};

// Opens "sqlite:PATH" (PATH may be ":memory:" for tests) or "postgresql://..." /
// "postgres://...", applying pending migrations first. Safe when several processes (even of
// different versions) open the same database at once: migrations are serialised by a lock
// and applied exactly once.
Result<std::unique_ptr<Storage>> open_storage(const std::string& url,
                                              const StorageOptions& options);

}  // namespace sg::server
