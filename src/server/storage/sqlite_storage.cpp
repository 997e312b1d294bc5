#include "server/storage/sqlite_storage.hpp"

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "common/connection_pool.hpp"
#include "common/log.hpp"
#include "common/sqlite.hpp"
#include "server/storage/migrations.hpp"

namespace sg::server {
namespace {

constexpr const char* kColumns =
    "c.id, c.seq, c.revision, c.title, c.description, c.duration_seconds, c.metadata_json, "
    "c.created_at, c.updated_at, c.media_size, c.media_sha256, c.media_content_type, "
    "c.media_file, c.media_stream, c.media_hls_file, c.media_hls_index";

// One connection with its prepared statements, cached by SQL text.
class Connection {
 public:
  explicit Connection(sqlite::Database db) : db_(std::move(db)) {}
  sqlite3* db() const { return db_.get(); }

  Result<sqlite::Statement*> prepare(const std::string& sql) {
    auto it = cache_.find(sql);
    if (it != cache_.end()) return &it->second;
    auto st = db_.prepare(sql, /*persistent=*/true);
    if (!st) return st.error();
    return &cache_.emplace(sql, std::move(*st)).first->second;
  }

  Status exec(const std::string& sql, std::string_view what) { return db_.exec(sql, what); }
  sqlite::Database& database() { return db_; }

 private:
  sqlite::Database db_;
  std::unordered_map<std::string, sqlite::Statement> cache_;
};

// A bound execution of a cached statement; resets it on destruction so it can be reused.
class Query {
 public:
  Query(Connection& conn, sqlite::Statement* st) : conn_(conn), st_(*st) {}
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  ~Query() { st_.reset(); }
  Query& text(std::string_view v) {
    st_.bind(v);
    return *this;
  }
  Query& integer(std::int64_t v) {
    st_.bind(v);
    return *this;
  }
  Query& real(double v) {
    st_.bind(v);
    return *this;
  }
  Query& null() {
    st_.bind_null();
    return *this;
  }
  // true while rows come, false when done, else an error naming `what`.
  Result<bool> step(std::string_view what) { return st_.step(what); }
  Status run(std::string_view what) { return st_.run(what); }
  int changes() const { return sqlite3_changes(conn_.db()); }

 private:
  Connection& conn_;
  sqlite::Statement& st_;
};

Content read_row(const sqlite::Statement& st) {
  Content c;
  c.id = st.text(0);
  c.seq = st.integer(1);
  c.revision = st.integer(2);
  c.fields.title = st.text(3);
  c.fields.description = st.text(4);
  c.fields.duration_seconds = st.real(5);
  c.fields.metadata_json = st.text(6);
  c.created_at = st.text(7);
  c.updated_at = st.text(8);
  if (!st.is_null(12)) {
    c.media = MediaInfo{static_cast<std::uint64_t>(st.integer(9)), st.text(10), st.text(11),
                        st.text(12), st.text(13), st.text(14), st.text(15)};
  }
  return c;
}

Result<Connection> open_connection(const std::string& path, const StorageOptions& options) {
  sqlite::OpenOptions o;
  o.component = "sqlite";
  o.busy_timeout = options.busy_timeout;
  // FULL: in WAL mode every commit fsyncs the WAL before it returns, so an acknowledged write
  // survives a power loss (NORMAL would survive a crash of the process only; storage.hpp).
  o.synchronous = "FULL";
  o.create_mode = 0644;
  auto db = sqlite::Database::open(path, o);
  if (!db) return db.error();
  return Connection(std::move(*db));
}

Result<std::vector<int>> applied_versions(Connection& conn) {
  auto st = conn.prepare("SELECT version FROM schema_migrations");
  if (!st) return st.error();
  Query q(conn, *st);
  std::vector<int> out;
  for (;;) {
    auto row = q.step("reading schema_migrations");
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(static_cast<int>((*st)->integer(0)));
  }
}

Status apply_one(Connection& conn, const migrations::Migration& m) {
  const std::string sql(m.sql);
  if (Status s = conn.exec(sql, "applying migration " + std::to_string(m.version)); !s) {
    return s;
  }
  auto st = conn.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)");
  if (!st) return st.error();
  Query q(conn, *st);
  return q.integer(m.version).text(log::now_rfc3339()).run("recording a migration");
}

Status migrate(Connection& conn, const std::string& path) {
  using migrations::Dialect;
  auto txn = sqlite::Transaction::begin(conn.database());
  if (!txn) return txn.error();
  const std::string bootstrap(migrations::bootstrap_sql());
  if (Status s = conn.exec(bootstrap, "creating schema_migrations"); !s) return s;
  auto applied = applied_versions(conn);
  if (!applied) return applied.error();
  for (const auto& m : migrations::pending(Dialect::kSqlite, *applied, path)) {
    if (Status s = apply_one(conn, m); !s) return s;
    log::info("applied storage migration",
              {{"backend", "sqlite"}, {"version", m.version}, {"description", m.description}});
  }
  return txn->commit();
}

}  // namespace

// Up to pool_size connections (exactly one for ":memory:", a private database per connection).
class SqlitePool : public ConnectionPool<Connection> {
 public:
  SqlitePool(const std::string& path, const StorageOptions& options)
      : ConnectionPool<Connection>(
            {.name = "sqlite '" + path + "'",
             .capacity = path == ":memory:" ? 1 : std::max(1, options.pool_size),
             .acquire_timeout = options.acquire_timeout},
            [path, options]() -> Result<std::unique_ptr<Connection>> {
              auto conn = open_connection(path, options);
              if (!conn) return conn.error();
              return std::make_unique<Connection>(std::move(*conn));
            }) {}
};
namespace {

Result<std::optional<Content>> find_row(Connection& conn, std::string_view id) {
  auto st = conn.prepare(std::string("SELECT ") + kColumns + " FROM content c WHERE c.id = ?");
  if (!st) return st.error();
  Query q(conn, *st);
  q.text(id);
  auto rc = q.step("reading content");
  if (!rc) return rc.error();
  if (!*rc) return std::optional<Content>();
  return std::optional<Content>(read_row(**st));
}

Status load_tags(Connection& conn, Content& item) {
  auto st = conn.prepare("SELECT tag FROM content_tags WHERE content_id = ? ORDER BY position");
  if (!st) return st.error();
  Query q(conn, *st);
  q.text(item.id);
  item.fields.tags.clear();
  for (;;) {
    auto rc = q.step("reading tags");
    if (!rc) return rc.error();
    if (!*rc) return Status::ok();
    item.fields.tags.push_back((*st)->text(0));
  }
}

Result<Content> find_with_tags(Connection& conn, std::string_view id) {
  auto row = find_row(conn, id);
  if (!row) return row.error();
  if (!row->has_value()) {
    return make_error(ErrorCode::kNotFound, "content '" + std::string(id) + "' not found");
  }
  Content item = std::move(**row);
  if (Status s = load_tags(conn, item); !s) return s.error();
  return item;
}

Status write_tags(Connection& conn, const Content& item) {
  auto del = conn.prepare("DELETE FROM content_tags WHERE content_id = ?");
  if (!del) return del.error();
  if (Status s = Query(conn, *del).text(item.id).run("clearing tags"); !s) return s;
  auto ins = conn.prepare(
      "INSERT INTO content_tags (content_id, content_seq, position, tag) VALUES (?, ?, ?, ?)");
  if (!ins) return ins.error();
  for (std::size_t i = 0; i < item.fields.tags.size(); ++i) {
    Query q(conn, *ins);
    q.text(item.id).integer(item.seq).integer(static_cast<std::int64_t>(i));
    if (Status s = q.text(item.fields.tags[i]).run("writing tags"); !s) return s;
  }
  return Status::ok();
}

Error revision_mismatch(std::string_view id, std::int64_t actual, std::int64_t expected) {
  return make_error(ErrorCode::kPreconditionFailed,
                    "content '" + std::string(id) + "' is at revision " + std::to_string(actual) +
                        ", not the expected " + std::to_string(expected));
}

}  // namespace

SqliteStorage::SqliteStorage(std::unique_ptr<SqlitePool> pool) : pool_(std::move(pool)) {}
SqliteStorage::~SqliteStorage() = default;

Result<std::unique_ptr<Storage>> SqliteStorage::open(const std::string& path,
                                                     const StorageOptions& options) {
  auto pool = std::make_unique<SqlitePool>(path, options);
  {
    auto lease = pool->acquire();
    if (!lease) return lease.error();
    if (Status s = migrate(**lease, path); !s) {
      return make_error(s.error().code, "migrating '" + path + "': " + s.error().message);
    }
  }
  return std::unique_ptr<Storage>(new SqliteStorage(std::move(pool)));
}

Result<Content> SqliteStorage::create(const Content& item) {
  auto lease = pool_->acquire();
  if (!lease) return lease.error();
  Connection& conn = **lease;
  auto txn = sqlite::Transaction::begin(conn.database());
  if (!txn) return txn.error();
  auto st = conn.prepare(
      "INSERT INTO content (id, revision, title, description, duration_seconds, metadata_json, "
      "created_at, updated_at, media_size, media_sha256, media_content_type, media_file, "
      "media_stream, media_hls_file, media_hls_index) "
      "VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st) return st.error();
  {
    Query q(conn, *st);
    q.text(item.id).text(item.fields.title).text(item.fields.description);
    q.real(item.fields.duration_seconds).text(item.fields.metadata_json);
    q.text(item.created_at).text(item.updated_at);
    if (item.media) {
      q.integer(static_cast<std::int64_t>(item.media->size)).text(item.media->sha256);
      q.text(item.media->content_type).text(item.media->file);
      q.text(item.media->stream_json).text(item.media->hls_file).text(item.media->hls_index_json);
    } else {
      q.null().null().null().null().null().null().null();
    }
    if (Status s = q.run("inserting content"); !s) {
      if (s.error().code == ErrorCode::kConflict) {
        return make_error(ErrorCode::kConflict, "content '" + item.id + "' already exists");
      }
      return s.error();
    }
  }
  Content out = item;
  out.seq = conn.database().last_insert_rowid();
  out.revision = 1;
  if (Status s = write_tags(conn, out); !s) return s.error();
  if (Status s = txn->commit(); !s) return s.error();
  return out;
}

Result<Content> SqliteStorage::get(std::string_view id) {
  auto lease = pool_->acquire();
  if (!lease) return lease.error();
  return find_with_tags(**lease, id);
}

Result<ListPage> SqliteStorage::list(const ListQuery& query) {
  auto lease = pool_->acquire();
  if (!lease) return lease.error();
  Connection& conn = **lease;
  const std::string sql =
      query.tag ? std::string("SELECT ") + kColumns +
                      " FROM (SELECT DISTINCT content_seq FROM content_tags WHERE tag = ? AND "
                      "content_seq > ? ORDER BY content_seq LIMIT ?) m "
                      "JOIN content c ON c.seq = m.content_seq ORDER BY c.seq"
                : std::string("SELECT ") + kColumns +
                      " FROM content c WHERE c.seq > ? ORDER BY c.seq LIMIT ?";
  auto st = conn.prepare(sql);
  if (!st) return st.error();
  ListPage page;
  {
    Query q(conn, *st);
    if (query.tag) q.text(*query.tag);
    // One row past the page tells whether another page follows.
    q.integer(query.after_seq.value_or(0)).integer(query.limit + 1);
    for (;;) {
      auto rc = q.step("listing content");
      if (!rc) return rc.error();
      if (!*rc) break;
      page.items.push_back(read_row(**st));
    }
  }
  if (static_cast<int>(page.items.size()) > query.limit) {
    page.items.resize(static_cast<std::size_t>(query.limit));
    page.next_after_seq = page.items.back().seq;
  }
  for (Content& item : page.items) {
    if (Status s = load_tags(conn, item); !s) return s.error();
  }
  return page;
}

Result<Content> SqliteStorage::update(std::string_view id, std::int64_t expected_revision,
                                      const ContentFields& fields, std::string_view updated_at) {
  auto lease = pool_->acquire();
  if (!lease) return lease.error();
  Connection& conn = **lease;
  auto txn = sqlite::Transaction::begin(conn.database());
  if (!txn) return txn.error();
  auto st = conn.prepare(
      "UPDATE content SET title = ?, description = ?, duration_seconds = ?, metadata_json = ?, "
      "updated_at = ?, revision = revision + 1 WHERE id = ? AND revision = ?");
  if (!st) return st.error();
  Query q(conn, *st);
  q.text(fields.title).text(fields.description).real(fields.duration_seconds);
  q.text(fields.metadata_json).text(updated_at).text(id).integer(expected_revision);
  if (Status s = q.run("updating content"); !s) return s.error();
  const bool changed = q.changes() > 0;
  auto row = find_row(conn, id);
  if (!row) return row.error();
  if (!row->has_value()) {
    return make_error(ErrorCode::kNotFound, "content '" + std::string(id) + "' not found");
  }
  if (!changed) return revision_mismatch(id, (*row)->revision, expected_revision);
  Content item = std::move(**row);
  item.fields.tags = fields.tags;
  if (Status s = write_tags(conn, item); !s) return s.error();
  if (Status s = txn->commit(); !s) return s.error();
  return item;
}

Result<Content> SqliteStorage::remove(std::string_view id,
                                      std::optional<std::int64_t> expected_revision) {
  auto lease = pool_->acquire();
  if (!lease) return lease.error();
  Connection& conn = **lease;
  auto txn = sqlite::Transaction::begin(conn.database());
  if (!txn) return txn.error();
  auto item = find_with_tags(conn, id);
  if (!item) return item.error();
  if (expected_revision && *expected_revision != item->revision) {
    return revision_mismatch(id, item->revision, *expected_revision);
  }
  auto st = conn.prepare("DELETE FROM content WHERE id = ? AND revision = ?");
  if (!st) return st.error();
  Query q(conn, *st);
  if (Status s = q.text(id).integer(item->revision).run("deleting content"); !s) {
    return s.error();
  }
  if (q.changes() != 1) {
    return make_error(ErrorCode::kInternal,
                      "sqlite: content '" + std::string(id) + "' changed while being deleted");
  }
  if (Status s = txn->commit(); !s) return s.error();
  return item;
}

Result<MediaChange> SqliteStorage::set_media(std::string_view id, const MediaInfo& media,
                                             std::string_view updated_at) {
  auto lease = pool_->acquire();
  if (!lease) return lease.error();
  Connection& conn = **lease;
  // BEGIN IMMEDIATE: no other writer between the read and the update.
  auto txn = sqlite::Transaction::begin(conn.database());
  if (!txn) return txn.error();
  auto before = find_with_tags(conn, id);
  if (!before) return before.error();
  auto st = conn.prepare(
      "UPDATE content SET media_size = ?, media_sha256 = ?, media_content_type = ?, "
      "media_file = ?, media_stream = ?, media_hls_file = ?, media_hls_index = ?, "
      "updated_at = ?, revision = revision + 1 WHERE id = ?");
  if (!st) return st.error();
  {
    Query q(conn, *st);
    q.integer(static_cast<std::int64_t>(media.size)).text(media.sha256);
    q.text(media.content_type).text(media.file).text(media.stream_json).text(media.hls_file);
    q.text(media.hls_index_json).text(updated_at).text(id);
    if (Status s = q.run("recording media"); !s) return s.error();
    if (q.changes() != 1) {
      return make_error(ErrorCode::kInternal,
                        "sqlite: content '" + std::string(id) + "' changed while recording media");
    }
  }
  auto item = find_with_tags(conn, id);
  if (!item) return item.error();
  if (Status s = txn->commit(); !s) return s.error();
  return MediaChange{std::move(*item), std::move(before->media)};
}

Result<std::vector<std::string>> SqliteStorage::media_files() {
  auto lease = pool_->acquire();
  if (!lease) return lease.error();
  Connection& conn = **lease;
  auto st = conn.prepare("SELECT media_file FROM content WHERE media_file IS NOT NULL "
      "UNION ALL SELECT media_hls_file FROM content WHERE media_hls_file <> ''");
  if (!st) return st.error();
  Query q(conn, *st);
  std::vector<std::string> out;
  for (;;) {
    auto rc = q.step("listing media files");
    if (!rc) return rc.error();
    if (!*rc) return out;
    out.push_back((*st)->text(0));
  }
}

Status SqliteStorage::ping() {
  auto lease = pool_->acquire();
  if (!lease) return lease.error();
  return (**lease).exec("SELECT 1", "ping");
}

}  // namespace sg::server
