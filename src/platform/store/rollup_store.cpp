#include "platform/store/rollup_store.hpp"

#include <boost/json.hpp>

#include "common/json_text.hpp"
#include "platform/store/state_store.hpp"

namespace sg::platform {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS track_rollups(
  id INTEGER PRIMARY KEY AUTOINCREMENT, start_ms INTEGER NOT NULL, period_ms INTEGER NOT NULL,
  track TEXT NOT NULL, release TEXT NOT NULL, requests INTEGER NOT NULL,
  errors INTEGER NOT NULL, latency TEXT NOT NULL, desired INTEGER NOT NULL,
  ready INTEGER NOT NULL, running INTEGER NOT NULL, autoscaled INTEGER NOT NULL,
  autoscaler_desired INTEGER, scale_ups INTEGER NOT NULL, scale_downs INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS track_rollups_start ON track_rollups(start_ms);
CREATE TABLE IF NOT EXISTS replica_rollups(
  id INTEGER PRIMARY KEY AUTOINCREMENT, start_ms INTEGER NOT NULL, period_ms INTEGER NOT NULL,
  replica TEXT NOT NULL, track TEXT NOT NULL, release TEXT NOT NULL, cpu_seconds REAL,
  memory_bytes REAL, restarts INTEGER NOT NULL, ready INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS replica_rollups_start ON replica_rollups(start_ms);
)sql";

// The histogram as [[bounds...], [counts...]]; "" without requests.
std::string latency_text(const TrackRollup& r) {
  if (r.latency_counts.empty()) return "";
  json::array bounds;
  for (double b : r.latency_bounds) bounds.emplace_back(b);
  json::array counts;
  for (std::uint64_t c : r.latency_counts) counts.emplace_back(c);
  return json_text(json::array{bounds, counts});
}

// Malformed text (never written by us) reads as no histogram.
void read_latency(const std::string& text, TrackRollup& r) {
  if (text.empty()) return;
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  if (ec || !v.is_array() || v.as_array().size() != 2) return;
  const auto& a = v.as_array();
  if (!a[0].is_array() || !a[1].is_array()) return;
  std::vector<double> bounds;
  std::vector<std::uint64_t> counts;
  for (const auto& b : a[0].as_array()) {
    if (!b.is_number()) return;
    bounds.push_back(b.to_number<double>());
  }
  for (const auto& c : a[1].as_array()) {
    if (!c.is_uint64() && !c.is_int64()) return;
    counts.push_back(c.to_number<std::uint64_t>());
  }
  if (counts.size() != bounds.size() + 1) return;
  r.latency_bounds = std::move(bounds);
  r.latency_counts = std::move(counts);
}

std::int64_t to_i64(std::uint64_t v) {
  return v > static_cast<std::uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(v);
}

}  // namespace

Result<std::unique_ptr<RollupStore>> RollupStore::open(const fs::path& state_dir,
                                                       RollupLimits limits) {
  // NORMAL: a rollup lost to a power cut costs one minute of a report.
  auto db = open_state_db(state_dir, "rollups", "NORMAL", kSchema);
  if (!db) return db.error();
  return std::unique_ptr<RollupStore>(new RollupStore(std::move(*db), limits));
}

Status RollupStore::add(const std::vector<TrackRollup>& tracks,
                        const std::vector<ReplicaRollup>& replicas, std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto tx = sqlite::Transaction::begin(db_);
  if (!tx) return tx.error();
  auto t = db_.prepare(
      "INSERT INTO track_rollups(start_ms, period_ms, track, release, requests, errors, latency, "
      "desired, ready, running, autoscaled, autoscaler_desired, scale_ups, scale_downs) "
      "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!t) return t.error();
  for (const TrackRollup& r : tracks) {
    t->reset();
    t->bind(r.start_ms).bind(r.period_ms).bind(r.track).bind(r.release);
    t->bind(to_i64(r.requests)).bind(to_i64(r.errors)).bind(latency_text(r));
    t->bind(r.desired).bind(r.ready).bind(r.running).bind(r.autoscaled ? 1 : 0);
    if (r.autoscaler_desired) {
      t->bind(*r.autoscaler_desired);
    } else {
      t->bind_null();
    }
    t->bind(r.scale_ups).bind(r.scale_downs);
    if (Status st = t->run("saving a track rollup"); !st) return st;
  }
  auto p = db_.prepare(
      "INSERT INTO replica_rollups(start_ms, period_ms, replica, track, release, cpu_seconds, "
      "memory_bytes, restarts, ready) VALUES(?,?,?,?,?,?,?,?,?)");
  if (!p) return p.error();
  for (const ReplicaRollup& r : replicas) {
    p->reset();
    p->bind(r.start_ms).bind(r.period_ms).bind(r.replica).bind(r.track).bind(r.release);
    if (r.cpu_seconds) {
      p->bind(*r.cpu_seconds);
    } else {
      p->bind_null();
    }
    if (r.memory_bytes) {
      p->bind(*r.memory_bytes);
    } else {
      p->bind_null();
    }
    p->bind(r.restarts).bind(r.ready ? 1 : 0);
    if (Status st = p->run("saving a replica rollup"); !st) return st;
  }
  if (Status st = prune(now_ms); !st) return st;
  return tx->commit();
}

Status RollupStore::prune(std::int64_t now_ms) {
  const std::int64_t oldest = now_ms - limits_.retention.count();
  for (const auto& [table, cap] :
       {std::pair<const char*, std::int64_t>{"track_rollups", limits_.max_track_rows},
        {"replica_rollups", limits_.max_replica_rows}}) {
    auto old = db_.prepare(std::string("DELETE FROM ") + table + " WHERE start_ms < ?");
    if (!old) return old.error();
    if (Status st = old->bind(oldest).run("pruning old rollups"); !st) return st;
    // Ids only grow (AUTOINCREMENT): the newest `cap` rows are those above max(id) - cap.
    auto over = db_.prepare(std::string("DELETE FROM ") + table +
                            " WHERE id <= (SELECT MAX(id) FROM " + table + ") - ?");
    if (!over) return over.error();
    if (Status st = over->bind(cap).run("capping the rollups"); !st) return st;
  }
  return Status::ok();
}

Result<std::vector<TrackRollup>> RollupStore::tracks(std::int64_t from_ms, std::int64_t to_ms) {
  std::lock_guard lock(mu_);
  auto st = db_.prepare(
      "SELECT start_ms, period_ms, track, release, requests, errors, latency, desired, ready, "
      "running, autoscaled, autoscaler_desired, scale_ups, scale_downs FROM track_rollups "
      "WHERE start_ms >= ? AND start_ms < ? ORDER BY start_ms, track");
  if (!st) return st.error();
  st->bind(from_ms).bind(to_ms);
  std::vector<TrackRollup> out;
  for (;;) {
    auto row = st->step("reading track rollups");
    if (!row) return row.error();
    if (!*row) break;
    TrackRollup r;
    r.start_ms = st->integer(0);
    r.period_ms = st->integer(1);
    r.track = st->text(2);
    r.release = st->text(3);
    r.requests = static_cast<std::uint64_t>(std::max<std::int64_t>(0, st->integer(4)));
    r.errors = static_cast<std::uint64_t>(std::max<std::int64_t>(0, st->integer(5)));
    read_latency(st->text(6), r);
    r.desired = static_cast<int>(st->integer(7));
    r.ready = static_cast<int>(st->integer(8));
    r.running = static_cast<int>(st->integer(9));
    r.autoscaled = st->integer(10) != 0;
    if (!st->is_null(11)) r.autoscaler_desired = static_cast<int>(st->integer(11));
    r.scale_ups = static_cast<int>(st->integer(12));
    r.scale_downs = static_cast<int>(st->integer(13));
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<ReplicaRollup>> RollupStore::replicas(std::int64_t from_ms, std::int64_t to_ms) {
  std::lock_guard lock(mu_);
  auto st = db_.prepare(
      "SELECT start_ms, period_ms, replica, track, release, cpu_seconds, memory_bytes, restarts, "
      "ready FROM replica_rollups WHERE start_ms >= ? AND start_ms < ? "
      "ORDER BY start_ms, replica");
  if (!st) return st.error();
  st->bind(from_ms).bind(to_ms);
  std::vector<ReplicaRollup> out;
  for (;;) {
    auto row = st->step("reading replica rollups");
    if (!row) return row.error();
    if (!*row) break;
    ReplicaRollup r;
    r.start_ms = st->integer(0);
    r.period_ms = st->integer(1);
    r.replica = st->text(2);
    r.track = st->text(3);
    r.release = st->text(4);
    if (!st->is_null(5)) r.cpu_seconds = st->real(5);
    if (!st->is_null(6)) r.memory_bytes = st->real(6);
    r.restarts = static_cast<int>(st->integer(7));
    r.ready = st->integer(8) != 0;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace sg::platform
