// RollupStore: the platform's own time series for `sgctl report`, kept in the state store's
// file (STATE_DIR/state.db, tables track_rollups and replica_rollups) so that the periodic
// reports need no Prometheus. One row per track and per replica for each rollup period
// (1 minute; RollupRecorder builds them from what the control plane observes).
//
// Bounded: rows older than `retention` (35 days) are deleted on every write, and each table
// keeps at most its newest max_*_rows rows, whatever the clock says (the bytes this allows
// are not measured).
//
// Thread-safety: calls are serialised on the store's own connection; other processes
// (`sgctl report`) open their own RollupStore on the same file.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "common/sqlite.hpp"

namespace sg::platform {

// One track (blue, green, canary) over one period.
struct TrackRollup {
  std::int64_t start_ms = 0;  // Unix ms, a multiple of the period
  std::int64_t period_ms = 60'000;
  std::string track;
  std::string release;         // what the track ran at the period's end
  std::uint64_t requests = 0;  // through the gateway
  std::uint64_t errors = 0;    // 5xx
  // The gateway's latency histogram of these requests: counts has bounds.size() + 1 entries
  // (the last one above bounds.back()); empty when there were no requests.
  std::vector<double> latency_bounds;
  std::vector<std::uint64_t> latency_counts;
  int desired = 0;  // at the period's end
  int ready = 0;
  int running = 0;                        // replicas that exist and are not being stopped
  bool autoscaled = false;                // the autoscaler evaluated the track
  std::optional<int> autoscaler_desired;  // what it wanted at the period's end
  int scale_ups = 0;                      // autoscaler rescales in the period
  int scale_downs = 0;
};

// One replica over one period.
struct ReplicaRollup {
  std::int64_t start_ms = 0;
  std::int64_t period_ms = 60'000;
  std::string replica;
  std::string track;
  std::string release;
  std::optional<double> cpu_seconds;   // CPU time used in the period
  std::optional<double> memory_bytes;  // the most resident memory seen in the period
  int restarts = 0;                    // unexpected exits in the period
  bool ready = false;                  // ready at the period's end
};

struct RollupLimits {
  std::chrono::milliseconds retention = std::chrono::hours(24 * 35);
  std::int64_t max_track_rows = 200'000;
  std::int64_t max_replica_rows = 400'000;
};

class RollupStore {
 public:
  // Opens (creating the tables as needed) STATE_DIR/state.db.
  static Result<std::unique_ptr<RollupStore>> open(const std::filesystem::path& state_dir,
                                                   RollupLimits limits = {});
  RollupStore(const RollupStore&) = delete;
  RollupStore& operator=(const RollupStore&) = delete;

  // Adds one period's rows (one transaction) and prunes what `limits` no longer keeps,
  // measured from `now_ms`.
  Status add(const std::vector<TrackRollup>& tracks, const std::vector<ReplicaRollup>& replicas,
             std::int64_t now_ms);
  // Rows whose period starts in [from_ms, to_ms), oldest first.
  Result<std::vector<TrackRollup>> tracks(std::int64_t from_ms, std::int64_t to_ms);
  Result<std::vector<ReplicaRollup>> replicas(std::int64_t from_ms, std::int64_t to_ms);

 private:
  RollupStore(sqlite::Database db, RollupLimits limits) : db_(std::move(db)), limits_(limits) {}
  Status prune(std::int64_t now_ms);

  std::mutex mu_;
  sqlite::Database db_;
  RollupLimits limits_;
};

}  // namespace sg::platform
