// RollupRecorder: turns what the control plane observes every second or so (the typed
// status and the gateway's cumulative per-track counters) into one row per track and per
// replica for each period (1 minute), for the RollupStore and `sgctl report`.
//
// Counters are differenced between consecutive observations, so a counter that starts again
// (a restarted gateway, a replica's new process) loses nothing but the requests or CPU time
// of the instant it restarted. A period's gauges (desired, ready, release) are those of its
// last observation; memory is the most seen. Autoscaler rescales are counted from the
// autoscaler's last decision (a new decision time with rescale set). A period closes when the
// first observation of a later period arrives; periods without any observation (the control
// plane was down) have no rows.
//
// Thread-safety: none; one caller (the control plane's loop).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "platform/model.hpp"
#include "platform/store/rollup_store.hpp"
#include "platform/track_traffic.hpp"

namespace sg::platform {

struct RollupBatch {
  std::vector<TrackRollup> tracks;
  std::vector<ReplicaRollup> replicas;
};

class RollupRecorder {
 public:
  explicit RollupRecorder(std::chrono::milliseconds period = std::chrono::minutes(1));

  // One observation at `now_ms` (Unix ms). `traffic` is null when the gateway's counters could
  // not be read. Returns the rows of the period that this observation closed, if any.
  std::optional<RollupBatch> observe(std::int64_t now_ms, const PlatformStatus& status,
                                     const TrackTraffic* traffic);

 private:
  struct TrackAcc {
    control::TrafficSample traffic;
    int scale_ups = 0;
    int scale_downs = 0;
  };
  struct ReplicaAcc {
    std::string track;
    std::string release;
    bool ready = false;  // at its last observation
    double cpu = 0;
    bool cpu_known = false;
    std::optional<double> memory;
    int restarts = 0;
  };
  struct ReplicaLast {
    std::optional<double> cpu_seconds;
    int restarts = 0;
  };

  RollupBatch close(std::int64_t start_ms);
  void accumulate(const PlatformStatus& status, const TrackTraffic* traffic, bool first);

  std::int64_t period_ms_;
  std::optional<std::int64_t> start_ms_;  // the open period
  std::optional<TrackTraffic> last_traffic_;
  std::map<std::string, ReplicaLast> replica_last_;
  std::map<std::string, std::string> decision_seen_;  // track -> last decision time
  std::map<std::string, TrackAcc> tracks_;
  std::map<std::string, ReplicaAcc> replicas_;
  PlatformStatus last_status_;
};

}  // namespace sg::platform
