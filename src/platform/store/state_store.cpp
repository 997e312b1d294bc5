#include "platform/store/state_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <boost/json.hpp>

#include <ctime>
#include <fstream>

#include "common/json_text.hpp"
#include "common/random_hex.hpp"

namespace sg::platform {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS releases(
  name TEXT PRIMARY KEY, exec TEXT NOT NULL, args TEXT NOT NULL, env TEXT NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deployments(
  id INTEGER PRIMARY KEY AUTOINCREMENT, strategy TEXT NOT NULL, from_release TEXT NOT NULL,
  to_release TEXT NOT NULL, result TEXT NOT NULL, reason TEXT NOT NULL,
  started_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL, options TEXT NOT NULL,
  state TEXT NOT NULL, evidence TEXT NOT NULL, journal TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events(
  id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, kind TEXT NOT NULL,
  message TEXT NOT NULL);
)sql";

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

DeploymentRecord deployment_from_row(const sqlite::Statement& st) {
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

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::optional<std::string>> read_secret_file(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return make_error(ErrorCode::kInvalidArgument,
                      "cannot open secret file " + file.string() + ": " + std::strerror(errno) +
                          (errno == ELOOP ? " (a symlink: secrets must be plain files)" : ""));
  }
  struct stat st {};
  std::string text;
  const bool stat_ok = ::fstat(fd, &st) == 0;
  if (stat_ok && S_ISREG(st.st_mode) && st.st_size <= 4096) {
    text.resize(static_cast<std::size_t>(st.st_size));
    const ssize_t n = ::read(fd, text.data(), text.size());
    text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  }
  ::close(fd);
  if (!stat_ok || !S_ISREG(st.st_mode) || st.st_size > 4096) {
    return make_error(ErrorCode::kInvalidArgument,
                      "secret file " + file.string() + " is not a regular file of <= 4096 bytes");
  }
  if (st.st_uid != ::geteuid()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "secret file " + file.string() + " belongs to uid " +
                          std::to_string(st.st_uid) + ", not to us (uid " +
                          std::to_string(::geteuid()) + "); refusing to use it");
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return make_error(ErrorCode::kInvalidArgument,
                      "secret file " + file.string() + " has mode " + mode +
                          ": others may read it; run: chmod 600 " + file.string());
  }
  const auto nl = text.find('\n');
  return std::optional<std::string>(text.substr(0, nl));
}

Result<std::string> read_or_create_secret(const fs::path& file) {
  auto existing = read_secret_file(file);
  if (!existing) return existing.error();
  if (*existing && (*existing)->size() >= 16) return **existing;
  const std::string token = secure_random_hex(48);
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

Result<sqlite::Database> open_state_db(const fs::path& state_dir, const std::string& component,
                                       const std::string& synchronous, const char* schema) {
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  if (ec) {
    return make_error(ErrorCode::kInvalidArgument,
                      "state dir " + state_dir.string() + ": " + ec.message());
  }
  const fs::path file = state_dir / "state.db";
  auto db = sqlite::Database::open(file.string(), {.component = component + " " + file.string(),
                                                   .synchronous = synchronous,
                                                   .create_mode = 0600});
  if (!db) return db.error();
  if (Status st = db->exec(schema, "creating the schema"); !st) return st.error();
  return db;
}

Result<std::unique_ptr<StateStore>> StateStore::open(const fs::path& state_dir) {
  auto db = open_state_db(state_dir, "state store", "FULL", kSchema);
  if (!db) return db.error();
  return std::unique_ptr<StateStore>(new StateStore(std::move(*db), state_dir / "state.db"));
}

Status StateStore::put_release(const ReleaseSpec& r) {
  std::lock_guard lock(mu_);
  auto st = db_.prepare(
      "INSERT INTO releases(name, exec, args, env, created_ms) VALUES(?,?,?,?,?) "
      "ON CONFLICT(name) DO UPDATE SET exec=excluded.exec, args=excluded.args, "
      "env=excluded.env");
  if (!st) return st.error();
  st->bind(r.name).bind(r.exec).bind(to_json_array(r.args)).bind(to_json_object(r.env));
  return st->bind(unix_ms_now()).run("saving release " + r.name);
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
  auto st = db_.prepare("SELECT name, exec, args, env FROM releases ORDER BY created_ms, name");
  if (!st) return st.error();
  std::vector<ReleaseSpec> out;
  for (;;) {
    auto row = st->step("reading releases");
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(
        {st->text(0), st->text(1), strings_from_json(st->text(2)), pairs_from_json(st->text(3))});
  }
}

Status StateStore::set_setting(const std::string& key, const std::string& value) {
  std::lock_guard lock(mu_);
  auto st = db_.prepare(
      "INSERT INTO settings(key, value) VALUES(?,?) "
      "ON CONFLICT(key) DO UPDATE SET value=excluded.value");
  if (!st) return st.error();
  return st->bind(key).bind(value).run("saving setting " + key);
}

Result<std::optional<std::string>> StateStore::setting(const std::string& key) {
  std::lock_guard lock(mu_);
  auto st = db_.prepare("SELECT value FROM settings WHERE key = ?");
  if (!st) return st.error();
  auto row = st->bind(key).step("reading setting " + key);
  if (!row) return row.error();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(st->text(0));
}

Status StateStore::delete_setting(const std::string& key) {
  std::lock_guard lock(mu_);
  auto st = db_.prepare("DELETE FROM settings WHERE key = ?");
  if (!st) return st.error();
  return st->bind(key).run("deleting setting " + key);
}

Result<std::vector<std::pair<std::string, std::string>>> StateStore::settings() {
  std::lock_guard lock(mu_);
  auto st = db_.prepare("SELECT key, value FROM settings ORDER BY key");
  if (!st) return st.error();
  std::vector<std::pair<std::string, std::string>> out;
  for (;;) {
    auto row = st->step("reading settings");
    if (!row) return row.error();
    if (!*row) return out;
    out.emplace_back(st->text(0), st->text(1));
  }
}

Status StateStore::put_deployment(const DeploymentRecord& d) {
  if (d.id <= 0) return make_error(ErrorCode::kInvalidArgument, "put_deployment: no id");
  std::lock_guard lock(mu_);
  auto st = db_.prepare(
      "INSERT OR REPLACE INTO deployments(id, strategy, from_release, to_release, result, "
      "reason, started_ms, finished_ms, options, state, evidence, journal) "
      "VALUES(?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!st) return st.error();
  st->bind(d.id).bind(d.strategy).bind(d.from_release).bind(d.to_release).bind(d.result);
  st->bind(d.reason).bind(d.started_ms).bind(d.finished_ms).bind(d.options).bind(d.state);
  return st->bind(d.evidence).bind(d.journal).run("storing deployment " + std::to_string(d.id));
}

Result<std::int64_t> StateStore::insert_deployment(const DeploymentRecord& d) {
  std::lock_guard lock(mu_);
  auto st = db_.prepare(
      "INSERT INTO deployments(strategy, from_release, to_release, result, reason, "
      "started_ms, finished_ms, options, state, evidence, journal) "
      "VALUES(?,?,?,?,?,?,?,?,?,?,?)");
  if (!st) return st.error();
  st->bind(d.strategy).bind(d.from_release).bind(d.to_release).bind(d.result).bind(d.reason);
  st->bind(d.started_ms).bind(d.finished_ms).bind(d.options).bind(d.state).bind(d.evidence);
  st->bind(d.journal.empty() ? std::string("[]") : d.journal);
  if (Status s = st->run("saving a deployment"); !s) return s.error();
  return db_.last_insert_rowid();
}

Status StateStore::update_deployment(const DeploymentRecord& d) {
  std::lock_guard lock(mu_);
  auto st = db_.prepare(
      "UPDATE deployments SET result=?, reason=?, finished_ms=?, state=?, evidence=?, "
      "journal=? WHERE id=?");
  if (!st) return st.error();
  st->bind(d.result).bind(d.reason).bind(d.finished_ms).bind(d.state).bind(d.evidence);
  return st->bind(d.journal).bind(d.id).run("updating deployment " + std::to_string(d.id));
}

Result<std::vector<DeploymentRecord>> StateStore::query_deployments(const std::string& where,
                                                                    std::int64_t arg) {
  std::lock_guard lock(mu_);
  auto st = db_.prepare(std::string("SELECT ") + kDeploymentColumns + " FROM deployments " + where);
  if (!st) return st.error();
  st->bind(arg);
  std::vector<DeploymentRecord> out;
  for (;;) {
    auto row = st->step("reading deployments");
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(deployment_from_row(*st));
  }
}

Result<std::vector<DeploymentRecord>> StateStore::deployments(int limit) {
  return query_deployments("ORDER BY id DESC LIMIT ?", limit);
}

Result<std::optional<DeploymentRecord>> StateStore::deployment(std::int64_t id) {
  auto rows = query_deployments("WHERE id = ?", id);
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<DeploymentRecord>();
  return std::optional<DeploymentRecord>(std::move(rows->front()));
}

Result<std::optional<DeploymentRecord>> StateStore::open_deployment() {
  auto rows =
      query_deployments("WHERE result = 'in_progress' AND id > ? ORDER BY id DESC LIMIT 1", 0);
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<DeploymentRecord>();
  return std::optional<DeploymentRecord>(std::move(rows->front()));
}

Status StateStore::add_event(const std::string& kind, const std::string& message) {
  std::lock_guard lock(mu_);
  auto st = db_.prepare("INSERT INTO events(ts_ms, kind, message) VALUES(?,?,?)");
  if (!st) return st.error();
  if (Status s = st->bind(unix_ms_now()).bind(kind).bind(message).run("saving an event"); !s) {
    return s;
  }
  return db_.exec("DELETE FROM events WHERE id <= (SELECT MAX(id) - 10000 FROM events)",
                  "trimming events");
}

Result<std::vector<DeploymentCount>> StateStore::deployment_counts() {
  std::lock_guard lock(mu_);
  auto st = db_.prepare(
      "SELECT strategy, result, COUNT(*) FROM deployments GROUP BY strategy, result "
      "ORDER BY strategy, result");
  if (!st) return st.error();
  std::vector<DeploymentCount> out;
  for (;;) {
    auto row = st->step("counting deployments");
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back({st->text(0), st->text(1), st->integer(2)});
  }
}

Result<std::vector<EventRecord>> StateStore::events(int limit) {
  std::lock_guard lock(mu_);
  auto st = db_.prepare(
      "SELECT id, ts_ms, kind, message FROM (SELECT * FROM events ORDER BY id DESC LIMIT ?) "
      "ORDER BY id");
  if (!st) return st.error();
  st->bind(limit);
  std::vector<EventRecord> out;
  for (;;) {
    auto row = st->step("reading events");
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back({st->integer(0), st->integer(1), st->text(2), st->text(3)});
  }
}

}  // namespace sg::platform
