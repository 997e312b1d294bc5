// LocalPlatform: the local control plane that `sgctl up` runs. It owns a streamgate-gateway
// process (listen 127.0.0.1:8080, admin 127.0.0.1:8081 by default), the replicas of releases
// (ReplicaSet), the durable state (StateStore) and at most one rollout at a time, driven by
// the pure state machines of src/control: every tick it reconciles replicas, pushes the
// desired routes to the gateway, reads the gateway's per-track counters, steps the rollout
// and carries out its actions.
//
// Tracks in the gateway: "blue" and "green" (one of them is the active colour, which is also
// the canary's "stable" track) and "canary". A blue-green rollout starts the idle colour and
// switches the route to it; a canary rollout starts the "canary" track and shifts weight
// between the active colour and it; promoting a canary starts the new release on the idle
// colour, moves the stable share to it in one route change, and scales the old colour and
// the canary to zero.
//
// Restart safety: the gateway and the replicas run in sessions of their own and outlive a
// control plane killed with SIGKILL; the gateway keeps its last routes meanwhile. A new
// control plane adopts the gateway and the replicas it finds (PID + start time), resumes the
// rollout from its persisted state (or rolls it back when that state cannot be used) and
// never applies a route without endpoints.
//
// Threading: run() is the control loop (one thread). The command methods (deploy, rollback,
// status, ...) may be called from other threads (the control API); they take the mutex the
// loop holds while it works.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "common/result.hpp"
#include "control/rollout.hpp"
#include "gateway/core/gateway_config.hpp"
#include "platform/local/gateway_client.hpp"
#include "platform/local/replica_set.hpp"
#include "platform/local/state_store.hpp"

namespace sg::platform {

struct PlatformOptions {
  std::filesystem::path state_dir = ".streamgate";
  std::string listen = "127.0.0.1:8080";        // the gateway's client listener
  std::string admin_listen = "127.0.0.1:8081";  // the gateway's admin listener
  std::string release;                          // first release, when nothing is active yet
  int replicas = 2;                             // of the active release, when starting fresh
  std::string storage;                          // default sqlite:STATE_DIR/streamgate.db
  std::string cache = "memory";
  std::filesystem::path gateway_bin;  // streamgate-gateway
  std::filesystem::path server_bin;   // streamgate-server: the default catalog's release
  int gateway_threads = 0;
  std::chrono::milliseconds tick{500};
  std::chrono::seconds drain_timeout{30};
  std::chrono::seconds grace_period{30};
  std::chrono::seconds replica_drain_delay{1};  // STREAMGATE_DRAIN_DELAY for replicas
  std::chrono::seconds restart_backoff{10};     // first restart delay of a crashed replica
};

// What a deploy asks for. Durations in seconds; thresholds as the CLI takes them.
struct DeployRequest {
  std::string strategy;  // blue-green | canary
  std::string release;
  int timeout_s = 300;
  int verify_s = 60;             // blue-green verification window
  int scale_down_delay_s = 300;  // blue-green: old colour kept warm
  int step_interval_s = 60;      // canary step duration
  std::vector<int> steps{5, 10, 25, 50, 100};
  double max_error_rate = -1;  // < 0: the strategy's default (0.005 / 0.01)
  double max_p95_ms = -1;      // < 0: the strategy's default (200 / 500)
  int ready_stability_s = 10;  // replicas ready without interruption before traffic
  int min_requests = 50;       // no verdict before this many requests on the new version
  int canary_replicas = 1;
};
Result<DeployRequest> deploy_request_from_json(const boost::json::object& body);
boost::json::object to_json(const DeployRequest& request);

// What `sgctl rollback` started: the rollout in progress switched back (in_progress), or a new
// blue-green deployment of the previous release.
struct RollbackStarted {
  std::int64_t id = 0;
  bool in_progress = false;
};

class LocalPlatform {
 public:
  // Opens the state, registers the default release, adopts or starts the gateway and the
  // replicas. Fails with a message naming what is wrong (state dir, binary, listener).
  static Result<std::unique_ptr<LocalPlatform>> start(PlatformOptions options);
  ~LocalPlatform();

  // The control loop; returns when `stop` becomes true, after stopping the gateway and then
  // the replicas gracefully.
  void run(const std::atomic<bool>& stop);

  // Commands. Errors: kNotFound (unknown release), kConflict (a rollout is in progress, or
  // nothing to roll back), kInvalidArgument (bad options).
  Result<std::int64_t> deploy(const DeployRequest& request);
  Result<RollbackStarted> rollback();
  Status promote();
  Status abort();
  Status scale(int replicas);

  boost::json::object status();
  Result<boost::json::object> deployment(std::int64_t id);

  StateStore& store() { return *store_; }

 private:
  struct Rollout;
  explicit LocalPlatform(PlatformOptions options);

  Status init();
  Status load_settings();
  void save_settings();
  void event(const std::string& kind, const std::string& message);
  Result<ReleaseSpec> resolve(const std::string& release);

  void tick(Clock::time_point now);
  void ensure_gateway(Clock::time_point now);
  gateway::GatewayConfig desired_gateway_config() const;
  void sync_gateway();
  void sample_traffic(Clock::time_point now);

  // Rollouts (local_rollout.cpp).
  Status resume_rollout();
  void step_rollout(Clock::time_point now);
  bool execute(const control::Action& action, Clock::time_point now);
  void journal(const std::string& phase, const std::string& reason,
               const std::vector<control::Action>& actions, const control::Verdict& evidence);
  void finish_rollout(control::RolloutResult result, const std::string& reason);
  void persist_rollout();
  // Journals and carries out a decision from a manual command; kConflict when the machine
  // ignored the command in its phase.
  template <class Decision>
  Status apply_manual(const Decision& d, Clock::time_point now);
  // A new gateway process counts from zero: the rollout's baseline must too.
  void on_gateway_restarted();
  std::optional<std::string> smoke_version(const std::string& track);
  boost::json::value rollout_json() const;

  PlatformOptions opts_;
  std::mutex mu_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<ReplicaSet> replicas_;
  std::unique_ptr<GatewayClient> gateway_;
  std::string gateway_token_;
  pid_t gateway_pid_ = -1;
  std::uint64_t gateway_ticks_ = 0;
  bool gateway_adopted_ = false;
  Clock::time_point gateway_retry_at_{};
  std::optional<gateway::GatewayConfig> applied_;

  std::string active_ = "blue";         // active colour (the canary's stable track)
  std::map<std::string, int> weights_;  // track -> weight (> 0 only)
  int stable_replicas_ = 2;
  std::map<std::string, TrackTarget> pending_targets_;  // loaded, applied at the first tick

  // Recent traffic samples for live rates (status), newest last, about 10 s.
  std::deque<std::pair<Clock::time_point, TrackTraffic>> traffic_;
  std::unique_ptr<Rollout> rollout_;
};

}  // namespace sg::platform
