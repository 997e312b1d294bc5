// Engine: the control plane, backend-agnostic. It owns
//   * the desired state: which colour is active, the route weights, and every track's desired
//     replicas through the one owner of replica counts (control::ReplicaTargets: rollout
//     before operator before autoscaler), each change recorded as an event with its reason;
//   * the rollout in progress (RolloutRunner): started by deploy(), stepped every tick with
//     what the backend observes, resumed after a restart (or rolled back when it cannot be);
//   * verification without users (SyntheticTraffic), at the rate the rollout asks for;
//   * autoscaling (AutoscalerLoop, the HPA algorithm of src/control/hpa.hpp), per track on
//     each track's own replicas: the stable track between min and max, a rollout's
//     autoscalable claim (the canary, a new colour) raised above its claim, never below what
//     the canary's weight needs (that floor is its minimum, not the spec's); a colour kept
//     warm or draining is not autoscaled. The spec
//     is persisted (setting "autoscaler") and survives a restart;
//   * the operator's commands and the typed status.
// It carries decisions out through a Backend (backend.hpp) and reads time from an injected
// Clock, so tests drive it with a fake backend on a simulated clock.
//
// Threading: tick() runs on the control loop's thread (run() loops it); the commands and
// status() may be called from any thread (the control API). One mutex serialises them, so a
// command never interleaves with a tick and every backend call happens under it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "control/hpa_spec.hpp"
#include "control/replica_targets.hpp"
#include "control/rollout_options.hpp"
#include "platform/backend.hpp"
#include "platform/engine/autoscaler_loop.hpp"
#include "platform/engine/rollout_runner.hpp"
#include "platform/engine/synthetic_traffic.hpp"
#include "platform/model.hpp"
#include "platform/store/state_store.hpp"

namespace sg::platform {

struct EngineOptions {
  std::string state_dir;         // shown in status
  std::string initial_release;   // the stable release when the state is new
  bool release_given = false;    // initial_release came from the operator (warn if ignored)
  int initial_replicas = 2;      // its replicas
  std::chrono::milliseconds tick{500};
  bool echo_events = true;  // also print each event on stderr (sgctl up's log)
  // Ok when `release` can be deployed (locally: it is in the catalog); else the error names it.
  std::function<Status(const std::string& release)> check_release;
  // Called by run() after each tick, under no lock; false ends the loop (the Kubernetes
  // control plane saves its state to the cluster here and stops when another writer took it).
  std::function<bool()> after_tick;
};

// What `sgctl rollback` started: the rollout in progress switched back (in_progress), or a
// new blue-green deployment of the previous release.
struct RollbackStarted {
  std::int64_t id = 0;
  bool in_progress = false;
};

class Engine {
 public:
  // `synthetic` defaults to HttpSyntheticTraffic (real requests to the backend's endpoints).
  Engine(EngineOptions options, Backend& backend, StateStore& store, const Clock& clock,
         std::unique_ptr<SyntheticTraffic> synthetic = nullptr);
  ~Engine();

  // Loads the desired state (or starts it from initial_release) and resumes the rollout left
  // in progress, if any. Fails only when the stored settings or the release are unusable.
  Status start();
  // One control-loop pass: push the desired state, reconcile, observe, step the rollout,
  // carry its actions out.
  void tick();
  // tick() every options.tick until `stop`; then stops the backend's workload (shutdown).
  void run(const std::atomic<bool>& stop);

  // Commands. Errors: kNotFound (unknown release), kConflict (a rollout is in progress, or
  // the command does not apply now, e.g. scale while autoscaling is on), kInvalidArgument (bad options), kUnavailable (the
  // traffic path is not up yet).
  Result<std::int64_t> deploy(const control::RolloutOptions& options);
  Result<RollbackStarted> rollback();
  Status promote();
  Status abort();
  Status scale(int replicas);
  // Autoscaling on with `spec` (validated; replaces an earlier spec), or off (nullopt): the
  // active track then keeps its current count as the operator's. kInvalidArgument for a bad
  // spec, kConflict with nothing active.
  Status autoscale(std::optional<control::HpaSpec> spec);

  PlatformStatus status();
  // The gateway's cumulative per-track counters as last read (none before the first read).
  std::optional<TrackTraffic> latest_traffic();
  // Deployments by strategy and result, from the state store (for /metrics).
  Result<std::vector<DeploymentCount>> deployment_counts();
  Result<DeploymentView> deployment(std::int64_t id);

 private:
  struct Routes {
    std::string active = "blue";
    std::map<std::string, int> weights;  // > 0 only
  };

  control::TimePoint now();
  void event(const std::string& kind, const std::string& message);
  void record(const std::vector<control::TargetChange>& changes);
  Status load_settings();
  void save_settings();
  Status load_autoscaler();
  void autoscale_step(control::TimePoint now);
  int weight_floor(const std::string& track) const;
  void push_desired();
  void observe();
  void step_rollout(control::TimePoint now);
  RolloutLook look() const;
  TrackLook track_look(const std::string& track, const std::string& release) const;
  bool carry_out_pending();
  void carry_out(const control::Action& action);
  void switch_to(const std::string& colour);
  // When the rollout ended rolled back or failed and `track` runs its new release: marks the
  // track so its viewing sessions move at once when it stops (ReplicaTargets).
  void move_sessions_if_rejected(const std::string& track);
  void end_rollout();
  void resume_rollout();
  void fail_safe(const std::string& problem, const DeploymentRecord& stored);
  Result<std::int64_t> deploy_locked(const control::RolloutOptions& options);
  std::optional<TrafficView> traffic_view(const std::string& track) const;
  double organic_rps(const std::string& track) const;
  // The rollout's synthetic requests: those sent before a restart of the control plane
  // (persisted every few seconds) plus this process's.
  control::TrafficSample synthetic_total() const;
  void save_synthetic(bool force);

  EngineOptions opts_;
  Backend& backend_;
  StateStore& store_;
  const Clock& clock_;
  std::mutex mu_;
  control::TimePoint last_now_{};
  Routes routes_;
  control::ReplicaTargets targets_;
  std::unique_ptr<RolloutRunner> rollout_;
  std::unique_ptr<SyntheticTraffic> synthetic_;
  control::TrafficSample synthetic_offset_;
  std::chrono::steady_clock::time_point synthetic_saved_at_{};
  std::vector<ReplicaInfo> replicas_;
  std::unique_ptr<AutoscalerLoop> autoscaler_;
  std::map<std::string, std::string> autoscaler_problems_;  // track -> ScalingActive False reason
  std::uint64_t traffic_epoch_ = 0;
  // Recent traffic samples for live rates (status), newest last, about 10 s.
  std::deque<std::pair<std::chrono::steady_clock::time_point, TrackTraffic>> traffic_;
};

}  // namespace sg::platform
