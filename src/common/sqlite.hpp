// A thin RAII layer over the SQLite C API with errors as values: a Database (one connection),
// Statements with positional binds and typed columns, and Transactions that roll back unless
// committed. The content store (src/server/storage) and the control plane's state store
// (src/platform) both use it. Debian's SQLiteCpp was considered: it reports every failure
// by exception, and both users need Result values at each call, so this stays a wrapper of
// ~200 lines rather than a second error model.
//
// Thread-safety: a Database and its Statements belong to one thread at a time (connections
// are opened with SQLITE_OPEN_NOMUTEX); share by pooling connections, not by locking one.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace sg::sqlite {

// An Error for result code `rc` of `db` (may be null): kUnavailable for busy/locked (with
// advice), kConflict for constraint violations, else kInternal; the message reads
// "COMPONENT: WHAT failed: SQLITE MESSAGE".
Error error(sqlite3* db, int rc, std::string_view component, std::string_view what);

struct OpenOptions {
  std::string component = "sqlite";  // names the owner in error messages ("state store")
  std::chrono::milliseconds busy_timeout{5000};
  bool wal = true;            // journal_mode=WAL (waits out a concurrent switch)
  std::string synchronous = "FULL";  // FULL survives power loss in WAL mode; NORMAL only crashes
  bool foreign_keys = true;
  int create_mode = 0600;     // file mode when the database file is created
};

class Statement;

class Database {
 public:
  // Opens (creating when missing) the database at `path` (":memory:" for a private one).
  static Result<Database> open(const std::string& path, const OpenOptions& options);
  Database(Database&&) noexcept = default;
  Database& operator=(Database&&) noexcept = default;

  sqlite3* get() const { return db_.get(); }
  const std::string& component() const { return component_; }
  Status exec(const std::string& sql, std::string_view what);
  // `persistent`: a statement kept and reused for the connection's lifetime.
  Result<Statement> prepare(std::string_view sql, bool persistent = false);
  int changes() const { return sqlite3_changes(db_.get()); }
  std::int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_.get()); }

 private:
  struct Close {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  Database(sqlite3* db, std::string component) : db_(db), component_(std::move(component)) {}
  std::unique_ptr<sqlite3, Close> db_;
  std::string component_;
};

// A prepared statement. Binds are positional in call order (1-based); reset() clears binds
// and rewinds it for the next use.
class Statement {
 public:
  Statement(Statement&&) noexcept = default;
  Statement& operator=(Statement&&) noexcept = default;

  Statement& bind(std::string_view text);
  Statement& bind(const char* text) { return bind(std::string_view(text)); }
  Statement& bind(const std::string& text) { return bind(std::string_view(text)); }
  Statement& bind(std::int64_t value);
  Statement& bind(int value) { return bind(static_cast<std::int64_t>(value)); }
  Statement& bind(double value);
  Statement& bind_null();

  // true: a row is available; false: done. Errors name `what`.
  Result<bool> step(std::string_view what);
  // Steps to the end (for statements without rows).
  Status run(std::string_view what);
  void reset();

  std::string text(int column) const;
  std::int64_t integer(int column) const { return sqlite3_column_int64(st_.get(), column); }
  double real(int column) const { return sqlite3_column_double(st_.get(), column); }
  bool is_null(int column) const { return sqlite3_column_type(st_.get(), column) == SQLITE_NULL; }

 private:
  friend class Database;
  struct Finalize {
    void operator()(sqlite3_stmt* st) const { sqlite3_finalize(st); }
  };
  Statement(sqlite3* db, sqlite3_stmt* st, const std::string* component)
      : db_(db), st_(st), component_(component) {}
  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, Finalize> st_;
  const std::string* component_;
  int index_ = 0;
};

// BEGIN (IMMEDIATE for writes: the write lock is taken at once, so a busy database fails at
// BEGIN rather than half-way) ... COMMIT; rolled back on destruction unless committed.
class Transaction {
 public:
  enum class Mode { kDeferred, kImmediate };
  static Result<Transaction> begin(Database& db, Mode mode = Mode::kImmediate);
  Transaction(Transaction&& other) noexcept
      : db_(other.db_), active_(std::exchange(other.active_, false)) {}
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status commit();

 private:
  explicit Transaction(Database& db) : db_(&db), active_(true) {}
  Database* db_;
  bool active_;
};

}  // namespace sg::sqlite
