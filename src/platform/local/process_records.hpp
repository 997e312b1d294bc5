// ProcessRecords: the local backend's record of the processes it started (the gateway and
// every replica: PID + start time, port, log), in its own table of STATE_DIR/state.db, so a
// control plane restarted after SIGKILL adopts them instead of starting second copies.
// Thread-safe (calls are serialised); each call is one transaction.
#pragma once

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

// A replica process as recorded for adoption after a restart of the control plane.
struct ReplicaRecord {
  std::string track;    // blue | green | canary
  std::string release;  // release name
  std::uint16_t port = 0;
  std::int64_t pid = 0;
  std::uint64_t start_ticks = 0;
  std::string log_file;
  int restarts = 0;
  int readiness_flaps = 0;
  std::string last_exit;
};

// The gateway process an earlier control plane started.
struct GatewayRecord {
  std::int64_t pid = 0;
  std::uint64_t start_ticks = 0;
};

class ProcessRecords {
 public:
  static Result<std::unique_ptr<ProcessRecords>> open(const std::filesystem::path& state_dir);

  Status replace_replicas(const std::vector<ReplicaRecord>& replicas);
  Result<std::vector<ReplicaRecord>> replicas();
  Status set_gateway(const std::optional<GatewayRecord>& gateway);  // nullopt: none
  Result<std::optional<GatewayRecord>> gateway();

 private:
  explicit ProcessRecords(sqlite::Database db) : db_(std::move(db)) {}
  std::mutex mu_;
  sqlite::Database db_;
};

}  // namespace sg::platform
