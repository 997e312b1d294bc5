#include "server/storage/sqlite_storage.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/log.hpp"
#include "server/storage/migrations.hpp"

namespace sg::server {
namespace {

constexpr const char* kColumns =
    "c.id, c.seq, c.revision, c.title, c.description, c.duration_seconds, c.metadata_json, "
    "c.created_at, c.updated_at, c.media_size, c.media_sha256, c.media_content_type, "
    "c.media_file, c.media_stream, c.media_hls_file, c.media_hls_index";

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbHandle = std::unique_ptr<sqlite3, DbCloser>;
struct StmtFinalizer {
  void operator()(sqlite3_stmt* st) const { sqlite3_finalize(st); }
};
using StmtHandle = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
  const int primary = rc & 0xff;
  std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return make_error(ErrorCode::kUnavailable, "sqlite: " + std::string(what) +
                                                   ": database is locked (" + detail +
                                                   "); retry later or raise the busy timeout");
  }
  if (primary == SQLITE_CONSTRAINT) {
    return make_error(ErrorCode::kConflict, "sqlite: " + std::string(what) + ": " + detail);
  }
  return make_error(ErrorCode::kInternal, "sqlite: " + std::string(what) + " failed: " + detail);
}

// One connection with its prepared statements, cached by SQL text.
class Connection {
 public:
  explicit Connection(DbHandle db) : db_(std::move(db)) {}
  sqlite3* db() const { return db_.get(); }

  Result<sqlite3_stmt*> prepare(const std::string& sql) {
    auto it = cache_.find(sql);
    if (it != cache_.end()) return it->second.get();
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db(), sql.c_str(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    if (rc != SQLITE_OK) return sqlite_error(db(), rc, "preparing a statement");
    cache_.emplace(sql, StmtHandle(raw));
    return raw;
  }

  Status exec(const char* sql, std::string_view what) {
    const int rc = sqlite3_exec(db(), sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return sqlite_error(db(), rc, what);
    return Status::ok();
  }

 private:
  DbHandle db_;
  std::unordered_map<std::string, StmtHandle> cache_;
};

// A bound execution of a cached statement; resets it on destruction so it can be reused.
class Query {
 public:
  Query(Connection& conn, sqlite3_stmt* st) : conn_(conn), st_(st) {}
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  ~Query() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  Query& text(std::string_view v) {
    sqlite3_bind_text(st_, ++index_, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Query& integer(std::int64_t v) {
    sqlite3_bind_int64(st_, ++index_, v);
    return *this;
  }
  Query& real(double v) {
    sqlite3_bind_double(st_, ++index_, v);
    return *this;
  }
  Query& null() {
    sqlite3_bind_null(st_, ++index_);
    return *this;
  }
  // SQLITE_ROW or SQLITE_DONE, else an error naming `what`.
  Result<int> step(std::string_view what) {
    const int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) return rc;
    return sqlite_error(conn_.db(), rc, what);
  }
  Status run(std::string_view what) { return step(what).status(); }
  sqlite3_stmt* stmt() const { return st_; }
  int changes() const { return sqlite3_changes(conn_.db()); }

 private:
  Connection& conn_;
  sqlite3_stmt* st_;
  int index_ = 0;
};

std::string column_text(sqlite3_stmt* st, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
  return p == nullptr ? std::string() : std::string(p, sqlite3_column_bytes(st, i));
}

Content read_row(sqlite3_stmt* st) {
  Content c;
  c.id = column_text(st, 0);
  c.seq = sqlite3_column_int64(st, 1);
  c.revision = sqlite3_column_int64(st, 2);
  c.fields.title = column_text(st, 3);
  c.fields.description = column_text(st, 4);
  c.fields.duration_seconds = sqlite3_column_double(st, 5);
  c.fields.metadata_json = column_text(st, 6);
  c.created_at = column_text(st, 7);
  c.updated_at = column_text(st, 8);
  if (sqlite3_column_type(st, 12) != SQLITE_NULL) {
    c.media = MediaInfo{static_cast<std::uint64_t>(sqlite3_column_int64(st, 9)),
                        column_text(st, 10), column_text(st, 11), column_text(st, 12),
                        column_text(st, 13), column_text(st, 14), column_text(st, 15)};
  }
  return c;
}

// A write transaction taken with BEGIN IMMEDIATE; rolled back unless committed.
class WriteTxn {
 public:
  explicit WriteTxn(Connection& conn) : conn_(conn) {}
  WriteTxn(const WriteTxn&) = delete;
  WriteTxn& operator=(const WriteTxn&) = delete;
  ~WriteTxn() {
    if (active_) sqlite3_exec(conn_.db(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Status begin() {
    Status s = conn_.exec("BEGIN IMMEDIATE", "starting a write transaction");
    active_ = s.is_ok();
    return s;
  }
  Status commit() {
    Status s = conn_.exec("COMMIT", "committing");
    if (s.is_ok()) active_ = false;
    return s;
  }

 private:
  Connection& conn_;
  bool active_ = false;
};

// Switching a new database to WAL needs an exclusive lock, and SQLite reports SQLITE_BUSY
// for it without calling the busy handler when another process is doing the same; so wait
// here, up to the busy timeout.
Status enable_wal(sqlite3* db, const std::string& path, std::chrono::milliseconds busy_timeout) {
  const auto deadline = std::chrono::steady_clock::now() + busy_timeout;
  for (;;) {
    const int rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) return Status::ok();
    if ((rc & 0xff) != SQLITE_BUSY || std::chrono::steady_clock::now() >= deadline) {
      return sqlite_error(db, rc, "enabling WAL on '" + path + "'");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Result<DbHandle> open_connection(const std::string& path, const StorageOptions& options) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  DbHandle db(raw);
  if (rc != SQLITE_OK) {
    return make_error(ErrorCode::kUnavailable, "sqlite: cannot open database '" + path +
                                                   "': " + sqlite_error(raw, rc, "open").message);
  }
  sqlite3_busy_timeout(db.get(), static_cast<int>(options.busy_timeout.count()));
  if (path != ":memory:") {
    if (Status s = enable_wal(db.get(), path, options.busy_timeout); !s) return s.error();
  }
  const int prc = sqlite3_exec(db.get(), "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON",
                               nullptr, nullptr, nullptr);
  if (prc != SQLITE_OK) {
    return sqlite_error(db.get(), prc, "configuring database '" + path + "'");
  }
  return db;
}

Result<std::vector<int>> applied_versions(Connection& conn) {
  auto st = conn.prepare("SELECT version FROM schema_migrations");
  if (!st) return st.error();
  Query q(conn, *st);
  std::vector<int> out;
  for (;;) {
    auto rc = q.step("reading schema_migrations");
    if (!rc) return rc.error();
    if (*rc == SQLITE_DONE) return out;
    out.push_back(sqlite3_column_int(*st, 0));
  }
}

Status apply_one(Connection& conn, const migrations::Migration& m) {
  const std::string sql(m.sql);
  if (Status s = conn.exec(sql.c_str(), "applying migration " + std::to_string(m.version)); !s) {
    return s;
  }
  auto st = conn.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)");
  if (!st) return st.error();
  Query q(conn, *st);
  return q.integer(m.version).text(log::now_rfc3339()).run("recording a migration");
}

Status migrate(Connection& conn, const std::string& path) {
  using migrations::Dialect;
  WriteTxn txn(conn);
  if (Status s = txn.begin(); !s) return s;
  const std::string bootstrap(migrations::bootstrap_sql());
  if (Status s = conn.exec(bootstrap.c_str(), "creating schema_migrations"); !s) return s;
  auto applied = applied_versions(conn);
  if (!applied) return applied.error();
  for (const auto& m : migrations::pending(Dialect::kSqlite, *applied, path)) {
    if (Status s = apply_one(conn, m); !s) return s;
    log::info("applied storage migration",
              {{"backend", "sqlite"}, {"version", m.version}, {"description", m.description}});
  }
  return txn.commit();
}

}  // namespace

// Hands out connections, opening up to `capacity` lazily; callers wait for a free one for at
// most acquire_timeout.
class SqlitePool {
 public:
  class Lease {
   public:
    Lease(SqlitePool* pool, std::unique_ptr<Connection> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_) pool_->release(std::move(conn_));
    }
    Connection& operator*() const { return *conn_; }

   private:
    SqlitePool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  SqlitePool(std::string path, const StorageOptions& options)
      : path_(std::move(path)),
        options_(options),
        capacity_(path_ == ":memory:" ? 1 : std::max(1, options.pool_size)) {}

  const std::string& path() const { return path_; }

  Result<Lease> acquire() {
    std::unique_lock lock(mu_);
    const bool ready = cv_.wait_for(lock, options_.acquire_timeout,
                                    [&] { return !idle_.empty() || open_ < capacity_; });
    if (!ready) {
      return make_error(ErrorCode::kUnavailable,
                        "sqlite: no free connection to '" + path_ + "' within " +
                            std::to_string(options_.acquire_timeout.count()) + " ms (pool of " +
                            std::to_string(capacity_) + ")");
    }
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_;
    lock.unlock();
    auto db = open_connection(path_, options_);
    if (!db) {
      std::lock_guard relock(mu_);
      --open_;
      cv_.notify_one();
      return db.error();
    }
    return Lease(this, std::make_unique<Connection>(std::move(*db)));
  }

 private:
  void release(std::unique_ptr<Connection> conn) {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(conn));
    cv_.notify_one();
  }

  const std::string path_;
  const StorageOptions options_;
  const int capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;
};

namespace {

Result<std::optional<Content>> find_row(Connection& conn, std::string_view id) {
  auto st = conn.prepare(std::string("SELECT ") + kColumns + " FROM content c WHERE c.id = ?");
  if (!st) return st.error();
  Query q(conn, *st);
  q.text(id);
  auto rc = q.step("reading content");
  if (!rc) return rc.error();
  if (*rc == SQLITE_DONE) return std::optional<Content>();
  return std::optional<Content>(read_row(*st));
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
    if (*rc == SQLITE_DONE) return Status::ok();
    item.fields.tags.push_back(column_text(*st, 0));
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
  WriteTxn txn(conn);
  if (Status s = txn.begin(); !s) return s.error();
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
  out.seq = sqlite3_last_insert_rowid(conn.db());
  out.revision = 1;
  if (Status s = write_tags(conn, out); !s) return s.error();
  if (Status s = txn.commit(); !s) return s.error();
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
      if (*rc == SQLITE_DONE) break;
      page.items.push_back(read_row(*st));
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
  WriteTxn txn(conn);
  if (Status s = txn.begin(); !s) return s.error();
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
  if (Status s = txn.commit(); !s) return s.error();
  return item;
}

Result<Content> SqliteStorage::remove(std::string_view id,
                                      std::optional<std::int64_t> expected_revision) {
  auto lease = pool_->acquire();
  if (!lease) return lease.error();
  Connection& conn = **lease;
  WriteTxn txn(conn);
  if (Status s = txn.begin(); !s) return s.error();
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
  if (Status s = txn.commit(); !s) return s.error();
  return item;
}

Result<MediaChange> SqliteStorage::set_media(std::string_view id, const MediaInfo& media,
                                             std::string_view updated_at) {
  auto lease = pool_->acquire();
  if (!lease) return lease.error();
  Connection& conn = **lease;
  WriteTxn txn(conn);  // BEGIN IMMEDIATE: no other writer between the read and the update
  if (Status s = txn.begin(); !s) return s.error();
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
  if (Status s = txn.commit(); !s) return s.error();
  return MediaChange{std::move(*item), std::move(before->media)};
}

Status SqliteStorage::ping() {
  auto lease = pool_->acquire();
  if (!lease) return lease.error();
  return (**lease).exec("SELECT 1", "ping");
}

}  // namespace sg::server
