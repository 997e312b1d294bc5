#include "platform/local/process_records.hpp"

namespace sg::platform {
namespace fs = std::filesystem;

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS local_replicas(
  id INTEGER PRIMARY KEY, track TEXT NOT NULL, release TEXT NOT NULL, port INTEGER NOT NULL,
  pid INTEGER NOT NULL, start_ticks INTEGER NOT NULL, log_file TEXT NOT NULL,
  restarts INTEGER NOT NULL, readiness_flaps INTEGER NOT NULL, last_exit TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS local_gateway(
  id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL, start_ticks INTEGER NOT NULL);
)sql";

}  // namespace

Result<std::unique_ptr<ProcessRecords>> ProcessRecords::open(const fs::path& state_dir) {
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  const fs::path file = state_dir / "state.db";
  auto db = sqlite::Database::open(
      file.string(), {.component = "process records " + file.string(), .create_mode = 0600});
  if (!db) return db.error();
  if (Status st = db->exec(kSchema, "creating the schema"); !st) return st.error();
  return std::unique_ptr<ProcessRecords>(new ProcessRecords(std::move(*db)));
}

Status ProcessRecords::replace_replicas(const std::vector<ReplicaRecord>& replicas) {
  std::lock_guard lock(mu_);
  auto txn = sqlite::Transaction::begin(db_);
  if (!txn) return txn.error();
  if (Status st = db_.exec("DELETE FROM local_replicas", "clearing replicas"); !st) return st;
  auto ins = db_.prepare(
      "INSERT INTO local_replicas(track, release, port, pid, start_ticks, log_file, restarts, "
      "readiness_flaps, last_exit) VALUES(?,?,?,?,?,?,?,?,?)");
  if (!ins) return ins.error();
  for (const auto& r : replicas) {
    ins->reset();
    ins->bind(r.track).bind(r.release).bind(static_cast<std::int64_t>(r.port)).bind(r.pid);
    ins->bind(static_cast<std::int64_t>(r.start_ticks)).bind(r.log_file).bind(r.restarts);
    ins->bind(r.readiness_flaps).bind(r.last_exit);
    if (Status st = ins->run("saving replicas"); !st) return st;
  }
  return txn->commit();
}

Result<std::vector<ReplicaRecord>> ProcessRecords::replicas() {
  std::lock_guard lock(mu_);
  auto st = db_.prepare(
      "SELECT track, release, port, pid, start_ticks, log_file, restarts, readiness_flaps, "
      "last_exit FROM local_replicas ORDER BY id");
  if (!st) return st.error();
  std::vector<ReplicaRecord> out;
  for (;;) {
    auto row = st->step("reading replicas");
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back({st->text(0), st->text(1), static_cast<std::uint16_t>(st->integer(2)),
                   st->integer(3), static_cast<std::uint64_t>(st->integer(4)), st->text(5),
                   static_cast<int>(st->integer(6)), static_cast<int>(st->integer(7)),
                   st->text(8)});
  }
}

Status ProcessRecords::set_gateway(const std::optional<GatewayRecord>& gateway) {
  std::lock_guard lock(mu_);
  if (!gateway) return db_.exec("DELETE FROM local_gateway", "forgetting the gateway");
  auto st = db_.prepare(
      "INSERT INTO local_gateway(id, pid, start_ticks) VALUES(1,?,?) "
      "ON CONFLICT(id) DO UPDATE SET pid=excluded.pid, start_ticks=excluded.start_ticks");
  if (!st) return st.error();
  return st->bind(gateway->pid).bind(static_cast<std::int64_t>(gateway->start_ticks))
      .run("recording the gateway");
}

Result<std::optional<GatewayRecord>> ProcessRecords::gateway() {
  std::lock_guard lock(mu_);
  auto st = db_.prepare("SELECT pid, start_ticks FROM local_gateway WHERE id = 1");
  if (!st) return st.error();
  auto row = st->step("reading the gateway");
  if (!row) return row.error();
  if (!*row) return std::optional<GatewayRecord>();
  return std::optional<GatewayRecord>(
      GatewayRecord{st->integer(0), static_cast<std::uint64_t>(st->integer(1))});
}

}  // namespace sg::platform
