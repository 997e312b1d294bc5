// Storage on PostgreSQL through libpqxx: the production backend.
//
// A bounded pool of pool_size connections, opened lazily; a caller waits at most
// acquire_timeout for one (then kUnavailable). Every connection sets statement_timeout to
// busy_timeout and uses prepared statements. A connection that broke is dropped when
// returned, so the next call opens a fresh one: a restarted server costs one failed call per
// pooled connection at most. Errors: unique violation -> kConflict, lost or refused
// connection -> kUnavailable, statement timeout -> kTimeout. Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "server/storage/storage.hpp"

namespace sg::server {

class PgPool;

class PostgresStorage final : public Storage {
 public:
  // Connects to `url` (a libpq URI) and applies pending migrations while holding a
  // session-level advisory lock, so concurrent openers apply each version exactly once.
  static Result<std::unique_ptr<Storage>> open(const std::string& url,
                                               const StorageOptions& options);
  ~PostgresStorage() override;

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
  std::string_view backend() const override { return "postgresql"; }

 private:
  explicit PostgresStorage(std::unique_ptr<PgPool> pool);
  std::unique_ptr<PgPool> pool_;
};

}  // namespace sg::server
