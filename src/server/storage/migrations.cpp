#include "server/storage/migrations.hpp"

#include <algorithm>

#include "common/log.hpp"

namespace sg::server::migrations {
namespace {

// SQLite cannot combine AUTOINCREMENT with a TEXT primary key, so there `seq` is the rowid
// (AUTOINCREMENT: never reused, even after the newest row is deleted) and `id` is UNIQUE.
// `content_tags.content_seq` duplicates the owner's seq so the tag index yields list order.
const std::vector<Migration> kSqlite = {
    {1, "content table",
     R"sql(
CREATE TABLE content (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  revision INTEGER NOT NULL,
  title TEXT NOT NULL,
  description TEXT NOT NULL,
  duration_seconds REAL NOT NULL,
  metadata_json TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  media_size INTEGER,
  media_sha256 TEXT,
  media_content_type TEXT,
  media_file TEXT
))sql"},
    {2, "content tags with a tag index in list order",
     R"sql(
CREATE TABLE content_tags (
  content_id TEXT NOT NULL REFERENCES content(id) ON DELETE CASCADE,
  content_seq INTEGER NOT NULL,
  position INTEGER NOT NULL,
  tag TEXT NOT NULL,
  PRIMARY KEY (content_id, position)
);
CREATE INDEX content_tags_by_tag ON content_tags(tag, content_seq))sql"},
    {3, "media streaming form: probe summary, HLS file and segment index",
     R"sql(
ALTER TABLE content ADD COLUMN media_stream TEXT;
ALTER TABLE content ADD COLUMN media_hls_file TEXT;
ALTER TABLE content ADD COLUMN media_hls_index TEXT)sql"},
};

const std::vector<Migration> kPostgres = {
    {1, "content table",
     R"sql(
CREATE TABLE content (
  id TEXT PRIMARY KEY,
  seq BIGSERIAL NOT NULL UNIQUE,
  revision BIGINT NOT NULL,
  title TEXT NOT NULL,
  description TEXT NOT NULL,
  duration_seconds DOUBLE PRECISION NOT NULL,
  metadata_json TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  media_size BIGINT,
  media_sha256 TEXT,
  media_content_type TEXT,
  media_file TEXT
))sql"},
    {2, "content tags with a tag index in list order",
     R"sql(
CREATE TABLE content_tags (
  content_id TEXT NOT NULL REFERENCES content(id) ON DELETE CASCADE,
  content_seq BIGINT NOT NULL,
  position INTEGER NOT NULL,
  tag TEXT NOT NULL,
  PRIMARY KEY (content_id, position)
);
CREATE INDEX content_tags_by_tag ON content_tags(tag, content_seq))sql"},
    {3, "media streaming form: probe summary, HLS file and segment index",
     R"sql(
ALTER TABLE content ADD COLUMN media_stream TEXT,
  ADD COLUMN media_hls_file TEXT,
  ADD COLUMN media_hls_index TEXT)sql"},
};

}  // namespace

const std::vector<Migration>& all(Dialect dialect) {
  return dialect == Dialect::kSqlite ? kSqlite : kPostgres;
}

int latest_version(Dialect dialect) { return all(dialect).back().version; }

std::vector<Migration> pending(Dialect dialect, const std::vector<int>& applied,
                               std::string_view database) {
  std::vector<Migration> out;
  for (const Migration& m : all(dialect)) {
    if (std::find(applied.begin(), applied.end(), m.version) == applied.end()) out.push_back(m);
  }
  const int latest = latest_version(dialect);
  for (int version : applied) {
    if (version > latest) {
      log::warn("database schema is newer than this binary; continuing without downgrading",
                {{"database", database}, {"db_version", version}, {"binary_version", latest}});
    }
  }
  return out;
}

std::string_view bootstrap_sql() {
  return "CREATE TABLE IF NOT EXISTS schema_migrations ("
         "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)";
}

}  // namespace sg::server::migrations
