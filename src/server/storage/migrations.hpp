// The versioned schema of content storage, one list of migrations per SQL dialect.
//
// Both dialects describe one logical schema: `content` (one row per item; `seq` is the
// monotonic list order, `revision` the ETag), `content_tags` (the tags of an item in their
// given order, indexed by (tag, content_seq) so a tag filter walks the index in list order)
// and `schema_migrations(version, applied_at)` recording each applied version exactly once.
// Versions only ever grow; a migration is never edited once released. Applying them (under
// a lock) is the job of each storage implementation; this file only says what to apply.
#pragma once

#include <string_view>
#include <vector>

namespace sg::server::migrations {

enum class Dialect { kSqlite, kPostgres };

struct Migration {
  int version;                   // 1, 2, ... in order, no gaps
  std::string_view description;  // logged when applied
  std::string_view sql;          // one or more statements separated by ';'
};

// All migrations this binary knows for `dialect`, ascending by version.
const std::vector<Migration>& all(Dialect dialect);

// The highest version this binary knows for `dialect`.
int latest_version(Dialect dialect);

// The migrations of `dialect` whose version is not in `applied`, ascending. A version in
// `applied` newer than this binary knows (a newer binary migrated the database first) is
// logged at warn level and otherwise ignored: the schema is forward compatible.
std::vector<Migration> pending(Dialect dialect, const std::vector<int>& applied,
                               std::string_view database);

// The SQL that creates schema_migrations if absent (run under the migration lock); the same
// text works in both dialects.
std::string_view bootstrap_sql();

}  // namespace sg::server::migrations
