#include "common/sqlite.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

namespace sg::sqlite {

Error error(sqlite3* db, int rc, std::string_view component, std::string_view what) {
  const int primary = rc & 0xff;
  const std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const std::string prefix = std::string(component) + ": " + std::string(what);
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return make_error(ErrorCode::kUnavailable, prefix + ": database is locked (" + detail +
                                                   "); retry later or raise the busy timeout");
  }
  if (primary == SQLITE_CONSTRAINT) return make_error(ErrorCode::kConflict, prefix + ": " + detail);
  return make_error(ErrorCode::kInternal, prefix + " failed: " + detail);
}

namespace {

// Switching a database to WAL needs an exclusive lock, and SQLite reports SQLITE_BUSY for it
// without calling the busy handler when another connection is doing the same: wait here, up
// to the busy timeout.
Status enable_wal(sqlite3* db, const OpenOptions& o, const std::string& path) {
  const auto deadline = std::chrono::steady_clock::now() + o.busy_timeout;
  for (;;) {
    const int rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) return Status::ok();
    if ((rc & 0xff) != SQLITE_BUSY || std::chrono::steady_clock::now() >= deadline) {
      return error(db, rc, o.component, "enabling WAL on '" + path + "'");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Creates the file with the wanted mode before SQLite does (SQLite creates with 0644 less
// the umask, and the -wal/-shm files take the main file's mode).
void precreate(const std::string& path, int mode) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
                        static_cast<mode_t>(mode));
  if (fd >= 0) ::close(fd);
}

}  // namespace

Result<Database> Database::open(const std::string& path, const OpenOptions& o) {
  const bool memory = path == ":memory:";
  if (!memory) precreate(path, o.create_mode);
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      nullptr);
  Database db(raw, o.component);
  if (rc != SQLITE_OK) {
    return make_error(ErrorCode::kUnavailable,
                      o.component + ": cannot open database '" + path +
                          "': " + (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(raw, static_cast<int>(o.busy_timeout.count()));
  if (o.wal && !memory) {
    if (Status s = enable_wal(raw, o, path); !s) return s.error();
  }
  std::string pragmas = "PRAGMA synchronous=" + o.synchronous + ";";
  if (o.foreign_keys) pragmas += "PRAGMA foreign_keys=ON;";
  if (Status s = db.exec(pragmas, "configuring database '" + path + "'"); !s) return s.error();
  return db;
}

Status Database::exec(const std::string& sql, std::string_view what) {
  const int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return error(db_.get(), rc, component_, what);
  return Status::ok();
}

Result<Statement> Database::prepare(std::string_view sql, bool persistent) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                                    persistent ? SQLITE_PREPARE_PERSISTENT : 0, &raw, nullptr);
  if (rc != SQLITE_OK) return error(db_.get(), rc, component_, "preparing a statement");
  return Statement(db_.get(), raw, &component_);
}

Statement& Statement::bind(std::string_view text) {
  sqlite3_bind_text(st_.get(), ++index_, text.data(), static_cast<int>(text.size()),
                    SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind(std::int64_t value) {
  sqlite3_bind_int64(st_.get(), ++index_, value);
  return *this;
}

Statement& Statement::bind(double value) {
  sqlite3_bind_double(st_.get(), ++index_, value);
  return *this;
}

Statement& Statement::bind_null() {
  sqlite3_bind_null(st_.get(), ++index_);
  return *this;
}

Result<bool> Statement::step(std::string_view what) {
  const int rc = sqlite3_step(st_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return error(db_, rc, *component_, what);
}

Status Statement::run(std::string_view what) {
  for (;;) {
    auto row = step(what);
    if (!row) return row.error();
    if (!*row) return Status::ok();
  }
}

void Statement::reset() {
  sqlite3_reset(st_.get());
  sqlite3_clear_bindings(st_.get());
  index_ = 0;
}

std::string Statement::text(int column) const {
  const auto* p = sqlite3_column_text(st_.get(), column);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<std::size_t>(sqlite3_column_bytes(st_.get(), column)));
}

Result<Transaction> Transaction::begin(Database& db, Mode mode) {
  const char* sql = mode == Mode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN";
  if (Status s = db.exec(sql, "starting a transaction"); !s) return s.error();
  return Transaction(db);
}

Transaction::~Transaction() {
  if (active_) sqlite3_exec(db_->get(), "ROLLBACK", nullptr, nullptr, nullptr);
}

Status Transaction::commit() {
  Status s = db_->exec("COMMIT", "committing");
  if (s) active_ = false;
  return s;
}

}  // namespace sg::sqlite
