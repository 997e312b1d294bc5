// Storage on SQLite: the embedded default.
//
// The database runs in WAL mode with synchronous=NORMAL, foreign keys on and a busy timeout
// of StorageOptions::busy_timeout. A pool of up to pool_size connections serves calls; each
// call holds one connection for its duration, and every write runs in BEGIN IMMEDIATE so
// writers queue on the database lock instead of failing on a lock upgrade. ":memory:" uses
// exactly one connection (a private in-memory database is per connection). Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "server/storage/storage.hpp"

namespace sg::server {

class SqlitePool;

class SqliteStorage final : public Storage {
 public:
  // Opens (creating if absent) the database file at `path` and applies pending migrations
  // under BEGIN IMMEDIATE, so concurrent openers apply each version exactly once.
  static Result<std::unique_ptr<Storage>> open(const std::string& path,
                                               const StorageOptions& options);
  ~SqliteStorage() override;

  Result<Content> create(const Content& item) override;
  Result<Content> get(std::string_view id) override;
  Result<ListPage> list(const ListQuery& query) override;
  Result<Content> update(std::string_view id, std::int64_t expected_revision,
                         const ContentFields& fields, std::string_view updated_at) override;
  Result<Content> remove(std::string_view id,
                         std::optional<std::int64_t> expected_revision) override;
  Result<MediaChange> set_media(std::string_view id, const MediaInfo& media,
                                std::string_view updated_at) override;
  Result<std::vector<std::string>> media_files() override;
  Status ping() override;
  std::string_view backend() const override { return "sqlite"; }

 private:
  explicit SqliteStorage(std::unique_ptr<SqlitePool> pool);
  std::unique_ptr<SqlitePool> pool_;
};

}  // namespace sg::server
