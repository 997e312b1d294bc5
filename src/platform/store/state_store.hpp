// StateStore: the control plane's durable state in one SQLite database, STATE_DIR/state.db
// (created 0600): the release catalog, settings (the engine's routes and replica targets),
// deployments with their rollout state, journal and evidence, and events. The local backend
// keeps its own table of processes in the same file (local/process_records.hpp).
//
// Every sgctl process opens its own StateStore on the same file (WAL, synchronous=FULL, 5 s
// busy timeout): `sgctl up` writes; `sgctl release add|history|events` read and write
// without a running control plane. Each call is one transaction. Thread-safe (calls are
// serialised on one connection).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "common/sqlite.hpp"

namespace sg::platform {

// A release: the executable, arguments and environment that run one version locally.
struct ReleaseSpec {
  std::string name;  // "v1.3.0"; [A-Za-z0-9._-]{1,64}
  std::string exec;  // absolute path of the executable
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
};

// One deployment (rollout), from start to result.
struct DeploymentRecord {
  std::int64_t id = 0;
  std::string strategy;  // blue-green | canary
  std::string from_release;
  std::string to_release;
  std::string result;  // in_progress | promoted | rolled_back | failed
  std::string reason;
  std::int64_t started_ms = 0;   // Unix time, ms
  std::int64_t finished_ms = 0;  // 0 while in progress
  std::string options;           // JSON: the rollout's options (model.hpp)
  std::string state;             // JSON: the state machine's state map (for resuming)
  std::string evidence;          // JSON: the last verdict
  std::string journal;           // JSON array of journal entries
};

struct DeploymentCount {
  std::string strategy;
  std::string result;
  std::int64_t count = 0;
};

struct EventRecord {
  std::int64_t id = 0;
  std::int64_t ts_ms = 0;
  std::string kind;  // replica_started, replica_exited, rollout, replicas, ...
  std::string message;
};

std::int64_t unix_ms_now();
// The first line of the secret file `file`, or nullopt when there is none. A file that others
// may read or write (mode wider than 0600), that another user owns, or that is not a
// regular file (a symlink, say) is refused with an error saying how to fix it.
Result<std::optional<std::string>> read_secret_file(const std::filesystem::path& file);
// The secret (48 hex digits) in `file`, created with mode 0600 when missing; an existing
// file must pass read_secret_file's checks.
Result<std::string> read_or_create_secret(const std::filesystem::path& file);
// "2026-11-24T22:15:03.120Z"
std::string iso8601_utc(std::int64_t unix_ms);

// Opens STATE_DIR/state.db (creating the directory and the 0600 file as needed) as a
// connection named `component` with `synchronous` (FULL | NORMAL), and runs `schema` (CREATE
// ... IF NOT EXISTS) on it. StateStore and RollupStore each hold one.
Result<sqlite::Database> open_state_db(const std::filesystem::path& state_dir,
                                       const std::string& component,
                                       const std::string& synchronous, const char* schema);

class StateStore {
 public:
  // Opens (creating directories, file and schema as needed) DIR/state.db.
  static Result<std::unique_ptr<StateStore>> open(const std::filesystem::path& state_dir);
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  Status put_release(const ReleaseSpec& release);  // adds or replaces
  Result<std::optional<ReleaseSpec>> release(const std::string& name);
  Result<std::vector<ReleaseSpec>> releases();

  Status set_setting(const std::string& key, const std::string& value);
  Result<std::optional<std::string>> setting(const std::string& key);
  Status delete_setting(const std::string& key);
  // Every setting, by key.
  Result<std::vector<std::pair<std::string, std::string>>> settings();

  // Inserts `record` (id ignored) and returns its id.
  Result<std::int64_t> insert_deployment(const DeploymentRecord& record);
  Status update_deployment(const DeploymentRecord& record);
  // Inserts or replaces the deployment with record.id (> 0): restoring state kept elsewhere
  // (the Kubernetes backend's ConfigMap).
  Status put_deployment(const DeploymentRecord& record);
  // Newest first, at most `limit`.
  Result<std::vector<DeploymentRecord>> deployments(int limit);
  Result<std::optional<DeploymentRecord>> deployment(std::int64_t id);
  // The deployment still in progress, if any (at most one at a time).
  Result<std::optional<DeploymentRecord>> open_deployment();
  // How many deployments there are by strategy and result (every one ever recorded; the
  // deployments table is never pruned, so a count only grows unless it is in_progress).
  Result<std::vector<DeploymentCount>> deployment_counts();

  // Keeps the newest 10,000 events.
  Status add_event(const std::string& kind, const std::string& message);
  // Newest last, the last `limit`.
  Result<std::vector<EventRecord>> events(int limit);

  const std::filesystem::path& file() const { return file_; }

 private:
  StateStore(sqlite::Database db, std::filesystem::path file)
      : db_(std::move(db)), file_(std::move(file)) {}
  Result<std::vector<DeploymentRecord>> query_deployments(const std::string& where,
                                                          std::int64_t arg);

  std::mutex mu_;
  sqlite::Database db_;
  std::filesystem::path file_;
};

}  // namespace sg::platform
