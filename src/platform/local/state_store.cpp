#include "platform/local/state_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <boost/json.hpp>

#include <ctime>
#include <fstream>
#include <random>

#include "common/json_text.hpp"

namespace sg::platform {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS releases(
  name TEXT PRIMARY KEY, exec TEXT NOT NULL, args TEXT NOT NULL, env TEXT NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS replicas(
  id INTEGER PRIMARY KEY, track TEXT NOT NULL, release TEXT NOT NULL, port INTEGER NOT NULL,
  pid INTEGER NOT NULL, start_ticks INTEGER NOT NULL, log_file TEXT NOT NULL,
  restarts INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS deployments(
  id INTEGER PRIMARY KEY AUTOINCREMENT, strategy TEXT NOT NULL, from_release TEXT NOT NULL,
  to_release TEXT NOT NULL, result TEXT NOT NULL, reason TEXT NOT NULL,
  started_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL, options TEXT NOT NULL,
  state TEXT NOT NULL, evidence TEXT NOT NULL, journal TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events(
  id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, kind TEXT NOT NULL,
  message TEXT NOT NULL);
)sql";

Error db_error(sqlite3* db, const std::string& what) {
  return make_error(ErrorCode::kUnavailable,
                    "state store: " + what + ": " + (db != nullptr ? sqlite3_errmsg(db) : "?"));
}

// A prepared statement with positional binds (1-based, in call order) and typed columns.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &st_, nullptr); }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool prepared() const { return rc_ == SQLITE_OK; }
  Stmt& bind(const std::string& v) {
    sqlite3_bind_text(st_, ++index_, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(std::int64_t v) {
    sqlite3_bind_int64(st_, ++index_, v);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(st_); }
  std::string text(int col) const {
    const auto* p = sqlite3_column_text(st_, col);
    return p != nullptr ? std::string(reinterpret_cast<const char*>(p),
                                      static_cast<std::size_t>(sqlite3_column_bytes(st_, col)))
                        : std::string();
  }
  std::int64_t integer(int col) const { return sqlite3_column_int64(st_, col); }

 private:
  sqlite3_stmt* st_ = nullptr;
  int rc_ = SQLITE_ERROR;
  int index_ = 0;
};

std::string to_json_array(const std::vector<std::string>& items) {
  json::array a;
  for (const auto& s : items) a.emplace_back(s);
  return json_text(a);
}
std::string to_json_object(const std::vector<std::pair<std::string, std::string>>& env) {
  json::array a;  // an array of pairs keeps the order the operator gave
  for (const auto& [k, v] : env) a.push_back(json::array{json::string(k), json::string(v)});
  return json_text(a);
}
std::vector<std::string> strings_from_json(const std::string& text) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& item : v.as_array()) {
    if (item.is_string()) out.emplace_back(item.as_string());
  }
  return out;
}
std::vector<std::pair<std::string, std::string>> pairs_from_json(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& item : v.as_array()) {
    if (item.is_array() && item.as_array().size() == 2 && item.as_array()[0].is_string() &&
        item.as_array()[1].is_string()) {
      out.emplace_back(std::string(item.as_array()[0].as_string()),
                       std::string(item.as_array()[1].as_string()));
    }
  }
  return out;
}

constexpr const char* kDeploymentColumns =
    "id, strategy, from_release, to_release, result, reason, started_ms, finished_ms, options, "
    "state, evidence, journal";

DeploymentRecord deployment_from_row(const Stmt& st) {
  DeploymentRecord d;
  d.id = st.integer(0);
  d.strategy = st.text(1);
  d.from_release = st.text(2);
  d.to_release = st.text(3);
  d.result = st.text(4);
  d.reason = st.text(5);
  d.started_ms = st.integer(6);
  d.finished_ms = st.integer(7);
  d.options = st.text(8);
  d.state = st.text(9);
  d.evidence = st.text(10);
  d.journal = st.text(11);
  return d;
}

}  // namespace

Status validate_release_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-');
  }
  if (ok) return Status::ok();
  return make_error(ErrorCode::kInvalidArgument,
                    "release name '" + name + "' must be 1..64 characters of [A-Za-z0-9._-]");
}

Result<std::string> release_from_image(const std::string& image) {
  std::string name = image;
  if (const auto colon = image.find(':'); colon != std::string::npos) {
    if (image.substr(0, colon) != "streamgate") {
      return make_error(ErrorCode::kInvalidArgument,
                        "image '" + image + "': only streamgate:NAME images resolve locally");
    }
    name = image.substr(colon + 1);
  }
  if (auto st = validate_release_name(name); !st) return st.error();
  return name;
}

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::string> read_or_create_secret(const fs::path& file) {
  std::ifstream in(file);
  std::string token;
  if (in && std::getline(in, token) && token.size() >= 16) return token;
  std::random_device rd;  // /dev/urandom on Linux
  static constexpr char kHex[] = "0123456789abcdef";
  token.clear();
  for (int i = 0; i < 48; ++i) token += kHex[rd() % 16];
  // A fresh 0600 file renamed over the old one: never readable by others, even for a moment,
  // and no process-wide umask change.
  const fs::path tmp = file.string() + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  const std::string line = token + "\n";
  const bool ok =
      fd >= 0 && ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  if (fd >= 0) ::close(fd);
  std::error_code ec;
  if (ok) fs::rename(tmp, file, ec);
  if (!ok || ec) {
    ::unlink(tmp.c_str());
    return make_error(ErrorCode::kInternal, "cannot write secret file " + file.string());
  }
  return token;
}

std::string iso8601_utc(std::int64_t unix_ms) {
  if (unix_ms < 0) unix_ms = 0;
  const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return buf;
}

Result<std::unique_ptr<StateStore>> StateStore::open(const fs::path& state_dir) {
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  if (ec) {
    return make_error(ErrorCode::kInvalidArgument,
                      "state dir " + state_dir.string() + ": " + ec.message());
  }
  const fs::path file = state_dir / "state.db";
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    Error e = db_error(db, "opening " + file.string());
    sqlite3_close_v2(db);
    return e;
  }
  std::unique_ptr<StateStore> store(new StateStore(db));
  sqlite3_busy_timeout(db, 5000);
  if (auto st = store->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"); !st) {
    return st.error();
  }
  if (auto st = store->exec(kSchema); !st) return st.error();
  return store;
}

StateStore::~StateStore() { sqlite3_close_v2(db_); }

Status StateStore::exec(const std::string& sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string text = msg != nullptr ? msg : "?";
    sqlite3_free(msg);
    return make_error(ErrorCode::kUnavailable, "state store: " + text);
  }
  return Status::ok();
}

Status StateStore::put_release(const ReleaseSpec& r) {
  std::lock_guard lock(mu_);
  Stmt st(db_,
          "INSERT INTO releases(name, exec, args, env, created_ms) VALUES(?,?,?,?,?) "
          "ON CONFLICT(name) DO UPDATE SET exec=excluded.exec, args=excluded.args, "
          "env=excluded.env");
  if (!st.prepared()) return db_error(db_, "put_release");
  st.bind(r.name).bind(r.exec).bind(to_json_array(r.args)).bind(to_json_object(r.env));
  st.bind(unix_ms_now());
  if (st.step() != SQLITE_DONE) return db_error(db_, "saving release " + r.name);
  return Status::ok();
}

Result<std::optional<ReleaseSpec>> StateStore::release(const std::string& name) {
  auto all = releases();
  if (!all) return all.error();
  for (auto& r : *all) {
    if (r.name == name) return std::optional<ReleaseSpec>(std::move(r));
  }
  return std::optional<ReleaseSpec>();
}

Result<std::vector<ReleaseSpec>> StateStore::releases() {
  std::lock_guard lock(mu_);
  Stmt st(db_, "SELECT name, exec, args, env FROM releases ORDER BY created_ms, name");
  if (!st.prepared()) return db_error(db_, "releases");
  std::vector<ReleaseSpec> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) {
    out.push_back(
        {st.text(0), st.text(1), strings_from_json(st.text(2)), pairs_from_json(st.text(3))});
  }
  if (rc != SQLITE_DONE) return db_error(db_, "reading releases");
  return out;
}

Status StateStore::set_setting(const std::string& key, const std::string& value) {
  std::lock_guard lock(mu_);
  Stmt st(db_,
          "INSERT INTO settings(key, value) VALUES(?,?) "
          "ON CONFLICT(key) DO UPDATE SET value=excluded.value");
  if (!st.prepared()) return db_error(db_, "set_setting");
  st.bind(key).bind(value);
  if (st.step() != SQLITE_DONE) return db_error(db_, "saving setting " + key);
  return Status::ok();
}

Result<std::optional<std::string>> StateStore::setting(const std::string& key) {
  std::lock_guard lock(mu_);
  Stmt st(db_, "SELECT value FROM settings WHERE key = ?");
  if (!st.prepared()) return db_error(db_, "setting");
  st.bind(key);
  const int rc = st.step();
  if (rc == SQLITE_ROW) return std::optional<std::string>(st.text(0));
  if (rc != SQLITE_DONE) return db_error(db_, "reading setting " + key);
  return std::optional<std::string>();
}

Status StateStore::replace_replicas(const std::vector<ReplicaRecord>& replicas) {
  std::lock_guard lock(mu_);
  if (auto st = exec("BEGIN IMMEDIATE"); !st) return st;
  // Any failure after BEGIN rolls back, so no transaction is ever left open.
  auto write_all = [&]() -> Status {
    if (auto st = exec("DELETE FROM replicas"); !st) return st;
    for (const auto& r : replicas) {
      Stmt st(db_,
              "INSERT INTO replicas(track, release, port, pid, start_ticks, log_file, restarts) "
              "VALUES(?,?,?,?,?,?,?)");
      if (!st.prepared()) return db_error(db_, "saving replicas");
      st.bind(r.track).bind(r.release).bind(static_cast<std::int64_t>(r.port)).bind(r.pid);
      st.bind(static_cast<std::int64_t>(r.start_ticks)).bind(r.log_file);
      st.bind(static_cast<std::int64_t>(r.restarts));
      if (st.step() != SQLITE_DONE) return db_error(db_, "saving replicas");
    }
    return exec("COMMIT");
  };
  Status st = write_all();
  if (!st) (void)exec("ROLLBACK");
  return st;
}

Result<std::vector<ReplicaRecord>> StateStore::replicas() {
  std::lock_guard lock(mu_);
  Stmt st(db_,
          "SELECT track, release, port, pid, start_ticks, log_file, restarts FROM replicas "
          "ORDER BY id");
  if (!st.prepared()) return db_error(db_, "replicas");
  std::vector<ReplicaRecord> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) {
    out.push_back({st.text(0), st.text(1), static_cast<std::uint16_t>(st.integer(2)), st.integer(3),
                   static_cast<std::uint64_t>(st.integer(4)), st.text(5),
                   static_cast<int>(st.integer(6))});
  }
  if (rc != SQLITE_DONE) return db_error(db_, "reading replicas");
  return out;
}

Result<std::int64_t> StateStore::insert_deployment(const DeploymentRecord& d) {
  std::lock_guard lock(mu_);
  Stmt st(db_,
          "INSERT INTO deployments(strategy, from_release, to_release, result, reason, "
          "started_ms, finished_ms, options, state, evidence, journal) "
          "VALUES(?,?,?,?,?,?,?,?,?,?,?)");
  if (!st.prepared()) return db_error(db_, "insert_deployment");
  st.bind(d.strategy).bind(d.from_release).bind(d.to_release).bind(d.result).bind(d.reason);
  st.bind(d.started_ms).bind(d.finished_ms).bind(d.options).bind(d.state).bind(d.evidence);
  st.bind(d.journal.empty() ? std::string("[]") : d.journal);
  if (st.step() != SQLITE_DONE) return db_error(db_, "saving deployment");
  return static_cast<std::int64_t>(sqlite3_last_insert_rowid(db_));
}

Status StateStore::update_deployment(const DeploymentRecord& d) {
  std::lock_guard lock(mu_);
  Stmt st(db_,
          "UPDATE deployments SET result=?, reason=?, finished_ms=?, state=?, evidence=?, "
          "journal=? WHERE id=?");
  if (!st.prepared()) return db_error(db_, "update_deployment");
  st.bind(d.result).bind(d.reason).bind(d.finished_ms).bind(d.state).bind(d.evidence);
  st.bind(d.journal).bind(d.id);
  if (st.step() != SQLITE_DONE) return db_error(db_, "updating deployment");
  return Status::ok();
}

Result<std::vector<DeploymentRecord>> StateStore::deployments(int limit) {
  std::lock_guard lock(mu_);
  const std::string sql =
      std::string("SELECT ") + kDeploymentColumns + " FROM deployments ORDER BY id DESC LIMIT ?";
  Stmt st(db_, sql.c_str());
  if (!st.prepared()) return db_error(db_, "deployments");
  st.bind(static_cast<std::int64_t>(limit));
  std::vector<DeploymentRecord> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) out.push_back(deployment_from_row(st));
  if (rc != SQLITE_DONE) return db_error(db_, "reading deployments");
  return out;
}

Result<std::optional<DeploymentRecord>> StateStore::deployment(std::int64_t id) {
  std::lock_guard lock(mu_);
  const std::string sql =
      std::string("SELECT ") + kDeploymentColumns + " FROM deployments WHERE id = ?";
  Stmt st(db_, sql.c_str());
  if (!st.prepared()) return db_error(db_, "deployment");
  st.bind(id);
  const int rc = st.step();
  if (rc == SQLITE_ROW) return std::optional<DeploymentRecord>(deployment_from_row(st));
  if (rc != SQLITE_DONE) return db_error(db_, "reading deployment");
  return std::optional<DeploymentRecord>();
}

Result<std::optional<DeploymentRecord>> StateStore::open_deployment() {
  std::lock_guard lock(mu_);
  const std::string sql = std::string("SELECT ") + kDeploymentColumns +
                          " FROM deployments WHERE result = 'in_progress' ORDER BY id DESC "
                          "LIMIT 1";
  Stmt st(db_, sql.c_str());
  if (!st.prepared()) return db_error(db_, "open_deployment");
  const int rc = st.step();
  if (rc == SQLITE_ROW) return std::optional<DeploymentRecord>(deployment_from_row(st));
  if (rc != SQLITE_DONE) return db_error(db_, "reading deployments");
  return std::optional<DeploymentRecord>();
}

Status StateStore::add_event(const std::string& kind, const std::string& message) {
  std::lock_guard lock(mu_);
  Stmt st(db_, "INSERT INTO events(ts_ms, kind, message) VALUES(?,?,?)");
  if (!st.prepared()) return db_error(db_, "add_event");
  st.bind(unix_ms_now()).bind(kind).bind(message);
  if (st.step() != SQLITE_DONE) return db_error(db_, "saving event");
  // Keep the newest 10,000 events.
  return exec("DELETE FROM events WHERE id <= (SELECT MAX(id) - 10000 FROM events)");
}

Result<std::vector<EventRecord>> StateStore::events(int limit) {
  std::lock_guard lock(mu_);
  Stmt st(db_,
          "SELECT id, ts_ms, kind, message FROM (SELECT * FROM events ORDER BY id DESC LIMIT ?) "
          "ORDER BY id");
  if (!st.prepared()) return db_error(db_, "events");
  st.bind(static_cast<std::int64_t>(limit));
  std::vector<EventRecord> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) {
    out.push_back({st.integer(0), st.integer(1), st.text(2), st.text(3)});
  }
  if (rc != SQLITE_DONE) return db_error(db_, "reading events");
  return out;
}

}  // namespace sg::platform
