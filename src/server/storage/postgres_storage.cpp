#include "server/storage/postgres_storage.hpp"

#include <algorithm>
#include <pqxx/pqxx>
#include <vector>

#include "common/connection_pool.hpp"
#include "common/http/url.hpp"
#include "common/log.hpp"
#include "server/storage/migrations.hpp"

namespace sg::server {
namespace {

// Any constant works as long as every StreamGate version uses the same one.
constexpr std::int64_t kMigrationLockKey = 0x53474d4947;  // "SGMIG"

constexpr const char* kColumns =
    "c.id, c.seq, c.revision, c.title, c.description, c.duration_seconds, c.metadata_json, "
    "c.created_at, c.updated_at, c.media_size, c.media_sha256, c.media_content_type, "
    "c.media_file, ARRAY(SELECT t.tag FROM content_tags t WHERE t.content_id = c.id "
    "ORDER BY t.position), c.media_stream, c.media_hls_file, c.media_hls_index";

struct Prepared {
  const char* name;
  std::string sql;
};

const std::vector<Prepared>& prepared_statements() {
  static const std::vector<Prepared> kAll = {
      {"sg_get", std::string("SELECT ") + kColumns + " FROM content c WHERE c.id = $1"},
      {"sg_get_for_update",
       std::string("SELECT ") + kColumns + " FROM content c WHERE c.id = $1 FOR UPDATE"},
      {"sg_insert",
       "INSERT INTO content (id, revision, title, description, duration_seconds, "
       "metadata_json, created_at, updated_at, media_size, media_sha256, media_content_type, "
       "media_file, media_stream, media_hls_file, media_hls_index) "
       "VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING seq"},
      {"sg_tags_clear", "DELETE FROM content_tags WHERE content_id = $1"},
      {"sg_tag_insert",
       "INSERT INTO content_tags (content_id, content_seq, position, tag) "
       "VALUES ($1, $2, $3, $4)"},
      {"sg_list", std::string("SELECT ") + kColumns +
                      " FROM content c WHERE c.seq > $1 ORDER BY c.seq LIMIT $2"},
      {"sg_list_tag", std::string("SELECT ") + kColumns +
                          " FROM (SELECT DISTINCT content_seq FROM content_tags WHERE tag = $1 AND "
                          "content_seq > $2 ORDER BY content_seq LIMIT $3) m "
                          "JOIN content c ON c.seq = m.content_seq ORDER BY c.seq"},
      {"sg_update",
       "UPDATE content SET title = $3, description = $4, duration_seconds = $5, "
       "metadata_json = $6, updated_at = $7, revision = revision + 1 "
       "WHERE id = $1 AND revision = $2 RETURNING seq"},
      {"sg_revision", "SELECT revision FROM content WHERE id = $1"},
      {"sg_delete", "DELETE FROM content WHERE id = $1 AND revision = $2"},
      {"sg_set_media",
       "UPDATE content SET media_size = $2, media_sha256 = $3, media_content_type = $4, "
       "media_file = $5, media_stream = $6, media_hls_file = $7, media_hls_index = $8, "
       "updated_at = $9, revision = revision + 1 WHERE id = $1"},
  };
  return kAll;
}

// libpq waits forever for an unreachable host unless told otherwise; its unit is seconds.
std::string with_connect_timeout(const std::string& url, std::chrono::milliseconds timeout) {
  if (url.find("connect_timeout=") != std::string::npos) return url;
  const auto seconds = std::max<std::int64_t>(2, (timeout.count() + 999) / 1000);
  return url + (url.find('?') == std::string::npos ? "?" : "&") +
         "connect_timeout=" + std::to_string(seconds);
}

std::string first_line(const char* text) {
  std::string s(text);
  const auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

Content read_row(const pqxx::row& r) {
  Content c;
  c.id = r[0].as<std::string>();
  c.seq = r[1].as<std::int64_t>();
  c.revision = r[2].as<std::int64_t>();
  c.fields.title = r[3].as<std::string>();
  c.fields.description = r[4].as<std::string>();
  c.fields.duration_seconds = r[5].as<double>();
  c.fields.metadata_json = r[6].as<std::string>();
  c.created_at = r[7].as<std::string>();
  c.updated_at = r[8].as<std::string>();
  if (!r[12].is_null()) {
    c.media = MediaInfo{static_cast<std::uint64_t>(r[9].as<std::int64_t>()),
                        r[10].as<std::string>(), r[11].as<std::string>(), r[12].as<std::string>(),
                        r[14].as<std::string>(std::string()), r[15].as<std::string>(std::string()),
                        r[16].as<std::string>(std::string())};
  }
  pqxx::array_parser tags = r[13].as_array();
  for (;;) {
    auto [kind, value] = tags.get_next();
    if (kind == pqxx::array_parser::done) break;
    if (kind == pqxx::array_parser::string_value) c.fields.tags.push_back(std::move(value));
  }
  return c;
}

Error not_found(std::string_view id) {
  return make_error(ErrorCode::kNotFound, "content '" + std::string(id) + "' not found");
}

Error revision_mismatch(std::string_view id, std::int64_t actual, std::int64_t expected) {
  return make_error(ErrorCode::kPreconditionFailed,
                    "content '" + std::string(id) + "' is at revision " + std::to_string(actual) +
                        ", not the expected " + std::to_string(expected));
}

void write_tags(pqxx::work& w, const std::string& id, std::int64_t seq,
                const std::vector<std::string>& tags) {
  w.exec_prepared("sg_tags_clear", id);
  for (std::size_t i = 0; i < tags.size(); ++i) {
    w.exec_prepared("sg_tag_insert", id, seq, static_cast<std::int64_t>(i), tags[i]);
  }
}

}  // namespace

// Hands out up to pool_size connections, opening them lazily; broken ones are discarded on
// release so their slot reconnects on next use. run() converts libpqxx exceptions to Errors.
class PgPool {
 public:
  using Pool = ConnectionPool<pqxx::connection>;

  PgPool(const std::string& url, const StorageOptions& options)
      : url_(with_connect_timeout(url, options.acquire_timeout)),
        shown_url_(http::redact_url(url)),
        options_(options),
        pool_({.name = "postgresql " + shown_url_,
               .capacity = std::max(1, options.pool_size),
               .acquire_timeout = options.acquire_timeout},
              [this] { return connect(); }) {}

  const std::string& shown_url() const { return shown_url_; }

  Result<Pool::Lease> acquire() { return pool_.acquire(); }

  // Runs fn(connection) -> Result<T> or Status on a pooled connection.
  template <class F>
  auto run(std::string_view what, F&& fn) -> decltype(fn(std::declval<pqxx::connection&>())) {
    auto lease = acquire();
    if (!lease) return lease.error();
    try {
      auto out = fn(**lease);
      if (!(*lease)->is_open()) lease->mark_broken();
      return out;
    } catch (const pqxx::broken_connection& e) {
      lease->mark_broken();
      return make_error(ErrorCode::kUnavailable, "postgresql: connection to " + shown_url_ +
                                                     " lost during " + std::string(what) + ": " +
                                                     first_line(e.what()));
    } catch (const pqxx::in_doubt_error& e) {
      lease->mark_broken();
      Error error =
          make_error(ErrorCode::kUnavailable, "postgresql: outcome of " + std::string(what) +
                                                  " unknown, connection lost at commit");
      error.outcome_unknown = true;
      return error;
    } catch (const pqxx::unique_violation& e) {
      return make_error(ErrorCode::kConflict,
                        "postgresql: " + std::string(what) + ": duplicate key");
    } catch (const pqxx::sql_error& e) {
      const bool timeout = e.sqlstate() == "57014";
      return make_error(timeout ? ErrorCode::kTimeout : ErrorCode::kInternal,
                        "postgresql: " + std::string(what) + " failed: " + first_line(e.what()));
    } catch (const std::exception& e) {
      return make_error(ErrorCode::kInternal,
                        "postgresql: " + std::string(what) + " failed: " + first_line(e.what()));
    }
  }

 private:
  Result<std::unique_ptr<pqxx::connection>> connect() {
    try {
      auto conn = std::make_unique<pqxx::connection>(url_);
      {
        pqxx::nontransaction n(*conn);
        n.exec_params("SELECT set_config('statement_timeout', $1, false)",
                      std::to_string(options_.busy_timeout.count()));
        // A commit returns once it is on disk (storage.hpp), whatever the server's default.
        n.exec("SET synchronous_commit = on");
      }
      for (const Prepared& p : prepared_statements()) conn->prepare(p.name, p.sql);
      return conn;
    } catch (const std::exception& e) {
      return make_error(ErrorCode::kUnavailable, "postgresql: cannot connect to " + shown_url_ +
                                                     ": " + first_line(e.what()));
    }
  }

  const std::string url_;
  const std::string shown_url_;
  const StorageOptions options_;
  Pool pool_;
};

namespace {

// Holds the session-level migration lock; released on destruction even after a failure.
class MigrationLock {
 public:
  explicit MigrationLock(pqxx::connection& conn) : conn_(conn) {
    pqxx::nontransaction n(conn_);
    n.exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
  }
  MigrationLock(const MigrationLock&) = delete;
  MigrationLock& operator=(const MigrationLock&) = delete;
  ~MigrationLock() {
    try {
      pqxx::nontransaction n(conn_);
      n.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
    } catch (const std::exception& e) {
      // The session ends with the connection, which frees the lock anyway.
      log::warn("releasing the migration lock failed", {{"error", first_line(e.what())}});
    }
  }

 private:
  pqxx::connection& conn_;
};

Status migrate(pqxx::connection& conn, const std::string& shown_url) {
  MigrationLock lock(conn);
  pqxx::work w(conn);
  w.exec(std::string(migrations::bootstrap_sql()));
  std::vector<int> applied;
  for (const auto& row : w.exec("SELECT version FROM schema_migrations")) {
    applied.push_back(row[0].as<int>());
  }
  for (const auto& m : migrations::pending(migrations::Dialect::kPostgres, applied, shown_url)) {
    w.exec(std::string(m.sql));
    w.exec_params("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", m.version,
                  log::now_rfc3339());
    log::info("applied storage migration",
              {{"backend", "postgresql"}, {"version", m.version}, {"description", m.description}});
  }
  w.commit();
  return Status::ok();
}

std::optional<std::string> opt_text(const std::optional<MediaInfo>& m, std::string MediaInfo::*f) {
  return m ? std::optional<std::string>((*m).*f) : std::nullopt;
}

}  // namespace

PostgresStorage::PostgresStorage(std::unique_ptr<PgPool> pool) : pool_(std::move(pool)) {}
PostgresStorage::~PostgresStorage() = default;

Result<std::unique_ptr<Storage>> PostgresStorage::open(const std::string& url,
                                                       const StorageOptions& options) {
  auto pool = std::make_unique<PgPool>(url, options);
  const std::string shown = pool->shown_url();
  Status s = pool->run("migrating", [&](pqxx::connection& c) { return migrate(c, shown); });
  if (!s) return make_error(s.error().code, "opening " + shown + ": " + s.error().message);
  return std::unique_ptr<Storage>(new PostgresStorage(std::move(pool)));
}

Result<Content> PostgresStorage::create(const Content& item) {
  auto out = pool_->run("creating content", [&](pqxx::connection& c) -> Result<Content> {
    pqxx::work w(c);
    const auto& m = item.media;
    std::optional<std::int64_t> size;
    if (m) size = static_cast<std::int64_t>(m->size);
    pqxx::row r =
        w.exec_prepared1("sg_insert", item.id, item.fields.title, item.fields.description,
                         item.fields.duration_seconds, item.fields.metadata_json, item.created_at,
                         item.updated_at, size, opt_text(m, &MediaInfo::sha256),
                         opt_text(m, &MediaInfo::content_type), opt_text(m, &MediaInfo::file),
                         opt_text(m, &MediaInfo::stream_json), opt_text(m, &MediaInfo::hls_file),
                         opt_text(m, &MediaInfo::hls_index_json));
    Content created = item;
    created.seq = r[0].as<std::int64_t>();
    created.revision = 1;
    write_tags(w, created.id, created.seq, created.fields.tags);
    w.commit();
    return created;
  });
  if (!out && out.error().code == ErrorCode::kConflict) {
    return make_error(ErrorCode::kConflict, "content '" + item.id + "' already exists");
  }
  return out;
}

Result<Content> PostgresStorage::get(std::string_view id) {
  return pool_->run("reading content", [&](pqxx::connection& c) -> Result<Content> {
    pqxx::read_transaction t(c);
    pqxx::result r = t.exec_prepared("sg_get", std::string(id));
    if (r.empty()) return not_found(id);
    return read_row(r[0]);
  });
}

Result<ListPage> PostgresStorage::list(const ListQuery& query) {
  return pool_->run("listing content", [&](pqxx::connection& c) -> Result<ListPage> {
    pqxx::read_transaction t(c);
    // One row past the page tells whether another page follows.
    const std::int64_t after = query.after_seq.value_or(0);
    const std::int64_t limit = query.limit + 1;
    pqxx::result r = query.tag ? t.exec_prepared("sg_list_tag", *query.tag, after, limit)
                               : t.exec_prepared("sg_list", after, limit);
    ListPage page;
    for (const auto& row : r) page.items.push_back(read_row(row));
    if (static_cast<int>(page.items.size()) > query.limit) {
      page.items.resize(static_cast<std::size_t>(query.limit));
      page.next_after_seq = page.items.back().seq;
    }
    return page;
  });
}

Result<Content> PostgresStorage::update(std::string_view id, std::int64_t expected_revision,
                                        const ContentFields& fields, std::string_view updated_at) {
  return pool_->run("updating content", [&](pqxx::connection& c) -> Result<Content> {
    const std::string key(id);
    pqxx::work w(c);
    pqxx::result r =
        w.exec_prepared("sg_update", key, expected_revision, fields.title, fields.description,
                        fields.duration_seconds, fields.metadata_json, std::string(updated_at));
    if (r.empty()) {
      pqxx::result current = w.exec_prepared("sg_revision", key);
      if (current.empty()) return not_found(id);
      return revision_mismatch(id, current[0][0].as<std::int64_t>(), expected_revision);
    }
    write_tags(w, key, r[0][0].as<std::int64_t>(), fields.tags);
    Content item = read_row(w.exec_prepared1("sg_get", key));
    w.commit();
    return item;
  });
}

Result<Content> PostgresStorage::remove(std::string_view id,
                                        std::optional<std::int64_t> expected_revision) {
  return pool_->run("deleting content", [&](pqxx::connection& c) -> Result<Content> {
    const std::string key(id);
    pqxx::work w(c);
    pqxx::result r = w.exec_prepared("sg_get_for_update", key);
    if (r.empty()) return not_found(id);
    Content item = read_row(r[0]);
    if (expected_revision && *expected_revision != item.revision) {
      return revision_mismatch(id, item.revision, *expected_revision);
    }
    pqxx::result d = w.exec_prepared("sg_delete", key, item.revision);
    if (d.affected_rows() != 1) {
      return make_error(ErrorCode::kInternal,
                        "postgresql: content '" + key + "' changed while being deleted");
    }
    w.commit();
    return item;
  });
}

Result<MediaChange> PostgresStorage::set_media(std::string_view id, const MediaInfo& media,
                                               std::string_view updated_at) {
  return pool_->run("recording media", [&](pqxx::connection& c) -> Result<MediaChange> {
    const std::string key(id);
    pqxx::work w(c);
    // The row lock makes a concurrent set_media wait, then read what this one wrote.
    pqxx::result locked = w.exec_prepared("sg_get_for_update", key);
    if (locked.empty()) return not_found(id);
    std::optional<MediaInfo> previous = read_row(locked[0]).media;
    pqxx::result r =
        w.exec_prepared("sg_set_media", key, static_cast<std::int64_t>(media.size), media.sha256,
                        media.content_type, media.file, media.stream_json, media.hls_file,
                        media.hls_index_json, std::string(updated_at));
    if (r.affected_rows() != 1) {
      return make_error(ErrorCode::kInternal,
                        "postgresql: content '" + key + "' changed while recording media");
    }
    Content item = read_row(w.exec_prepared1("sg_get", key));
    w.commit();
    return MediaChange{std::move(item), std::move(previous)};
  });
}

Result<std::vector<std::string>> PostgresStorage::media_files() {
  return pool_->run("listing media files",
                    [](pqxx::connection& c) -> Result<std::vector<std::string>> {
                      pqxx::read_transaction t(c);
                      std::vector<std::string> out;
                      for (const auto& row :
                           t.exec("SELECT media_file FROM content WHERE media_file IS NOT NULL "
      "UNION ALL SELECT media_hls_file FROM content WHERE media_hls_file <> ''")) {
                        out.push_back(row[0].as<std::string>());
                      }
                      return out;
                    });
}

Status PostgresStorage::ping() {
  return pool_->run("ping", [](pqxx::connection& c) -> Status {
    pqxx::nontransaction n(c);
    n.exec("SELECT 1");
    return Status::ok();
  });
}

}  // namespace sg::server
