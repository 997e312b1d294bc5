// StateStore: the local control plane's durable state in one SQLite database under the state
// directory (state.db): the release catalog, settings (active colour, weights, the gateway's
// identity), the replicas the supervisor started (PID + start time, so a restarted control
// plane can adopt them), deployments with their rollout state and evidence, and events.
//
// Every sgctl process opens its own StateStore on the same file (WAL mode, 5 s busy timeout):
// `sgctl up` writes, `sgctl release add|history|events` read and write without a running
// control plane. Each call is one transaction. Thread-safe (calls are serialised).
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace sg::platform {

// A release: the executable, arguments and environment that run one version locally.
struct ReleaseSpec {
  std::string name;  // "v1.3.0"; [A-Za-z0-9._-]{1,64}
  std::string exec;  // absolute path of the executable
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
};
// Ok, or what is wrong with the name.
Status validate_release_name(const std::string& name);
// "streamgate:v1.3.0" or "v1.3.0" -> "v1.3.0"; other repositories are refused.
Result<std::string> release_from_image(const std::string& image);

// A replica process as recorded for adoption after a restart of the control plane.
struct ReplicaRecord {
  std::string track;    // blue | green | canary
  std::string release;  // release name
  std::uint16_t port = 0;
  std::int64_t pid = 0;
  std::uint64_t start_ticks = 0;
  std::string log_file;
  int restarts = 0;
};

// One deployment (rollout), from start to result.
struct DeploymentRecord {
  std::int64_t id = 0;
  std::string strategy;  // blue-green | canary | scale
  std::string from_release;
  std::string to_release;
  std::string result;  // in_progress | promoted | rolled_back | failed
  std::string reason;
  std::int64_t started_ms = 0;   // Unix time, ms
  std::int64_t finished_ms = 0;  // 0 while in progress
  std::string options;           // JSON: the rollout's configuration
  std::string state;             // JSON: the state machine's state map (for resuming)
  std::string evidence;          // JSON: the last verdict's numbers
  std::string journal;           // JSON array of {ts_ms, phase, reason, actions}
};

struct EventRecord {
  std::int64_t id = 0;
  std::int64_t ts_ms = 0;
  std::string kind;  // replica_started, replica_exited, rollout, route, ...
  std::string message;
};

std::int64_t unix_ms_now();
// The secret (48 hex digits) in `file`, created with mode 0600 when missing.
Result<std::string> read_or_create_secret(const std::filesystem::path& file);
// "2026-11-24T22:15:03.120Z"
std::string iso8601_utc(std::int64_t unix_ms);

class StateStore {
 public:
  // Opens (creating directories, file and schema as needed) DIR/state.db.
  static Result<std::unique_ptr<StateStore>> open(const std::filesystem::path& state_dir);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  Status put_release(const ReleaseSpec& release);  // adds or replaces
  Result<std::optional<ReleaseSpec>> release(const std::string& name);
  Result<std::vector<ReleaseSpec>> releases();

  Status set_setting(const std::string& key, const std::string& value);
  Result<std::optional<std::string>> setting(const std::string& key);

  Status replace_replicas(const std::vector<ReplicaRecord>& replicas);
  Result<std::vector<ReplicaRecord>> replicas();

  // Inserts `record` (id ignored) and returns its id.
  Result<std::int64_t> insert_deployment(const DeploymentRecord& record);
  Status update_deployment(const DeploymentRecord& record);
  // Newest first, at most `limit`.
  Result<std::vector<DeploymentRecord>> deployments(int limit);
  Result<std::optional<DeploymentRecord>> deployment(std::int64_t id);
  // The deployment still in progress, if any (at most one at a time).
  Result<std::optional<DeploymentRecord>> open_deployment();

  Status add_event(const std::string& kind, const std::string& message);
  // Newest last, the last `limit`.
  Result<std::vector<EventRecord>> events(int limit);

 private:
  explicit StateStore(sqlite3* db) : db_(db) {}
  Status exec(const std::string& sql);

  std::mutex mu_;
  sqlite3* db_;
};

}  // namespace sg::platform
