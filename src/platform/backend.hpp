// Backend: what the engine (src/platform/engine) asks of a platform, and what it observes.
// Two implementations: local (processes and our gateway, src/platform/local) and Kubernetes
// (Deployments and Services with our gateway; written against this interface, copying no
// engine code).
//
// The engine is declarative towards a backend. Every tick it states each track's desired
// replicas (set_track: a release and a count, 0 = drain and stop) and the route weights
// (set_weights), then calls reconcile(), which converges without blocking for long:
// starting, probing, restarting, draining and stopping replicas, applying routes. A backend
// orders its own steps safely: a route change is applied before a replica it stops weighting
// is drained; a replica is drained at the gateway before it is stopped; a route never points
// at a track without endpoints. sync_routes() applies the desired weights at once (after a
// decision, so a switch does not wait for the next tick).
//
// Observations: replicas() with readiness, restarts (crashes), readiness flaps, exit reasons,
// and CPU and memory where measurable; traffic() with the per-track cumulative counters of
// the traffic path; endpoint_load() per endpoint for the autoscaler; track_version() for smoke tests; track_endpoints() for synthetic
// requests; log_tail() for evidence.
//
// Threading: every method is called from the engine's thread, which serialises commands
// from other threads; a backend needs no locking of its own towards the engine.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "control/replica_targets.hpp"
#include "platform/track_traffic.hpp"

namespace sg::platform {

enum class ReplicaPhase {
  kStarting,     // started, not yet ready
  kReady,        // its readiness probe answered at the last look
  kUnready,      // was ready, now fails its probe (still running)
  kBackoff,      // exited unexpectedly; restarts after a back-off
  kDraining,     // being stopped: no new requests, in-flight ones finish
  kTerminating,  // told to stop; killed after the grace period
};
const char* replica_phase_name(ReplicaPhase phase);

struct ReplicaInfo {
  std::string name;     // unique: "canary-v2-3" locally, the pod name on a cluster
  std::string track;    // blue | green | canary
  std::string release;  // the release it runs
  std::string address;  // "127.0.0.1:40123"; empty while it has none
  std::optional<std::int64_t> pid;  // local processes only; none while backing off
  ReplicaPhase phase = ReplicaPhase::kStarting;
  int restarts = 0;          // unexpected exits since the replica was created
  int readiness_flaps = 0;   // ready -> unready transitions while running
  std::string last_exit;     // "exit 1", "signal 9 (Killed)"; empty if it never exited
  std::string log;           // where its log is (a file, a pod)
  std::optional<double> cpu_cores;     // CPU used over the last reconcile interval
  std::optional<double> memory_bytes;  // resident memory
  // CPU time of its current process, a counter that starts again with each new process (as a
  // container's after a restart); none while it has no process.
  std::optional<double> cpu_seconds_total;
};

// One endpoint's load as the traffic path sees it: requests per second over a recent window
// and requests in flight now (the autoscaler's per-replica rps and in-flight metrics).
struct EndpointLoad {
  std::string track;
  std::string address;  // HOST:PORT, as ReplicaInfo::address
  double rps = 0;
  double window_s = 0;  // the span rps is averaged over
  double in_flight = 0;
};

struct GatewayInfo {
  std::string listen;
  std::string admin;
  std::optional<std::int64_t> pid;
  bool running = false;  // its admin API answers
  std::optional<double> cpu_cores;
  std::optional<double> memory_bytes;
};

// The version the replica at HOST:PORT reports in GET /api/v1/health (1 s timeout); none
// without an answer. Backends' track_version() asks their ready replicas with it.
std::optional<std::string> health_version(const std::string& address);

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;  // "local" | "kubernetes"

  // Desired state; carried out by reconcile(). Idempotent.
  virtual void set_track(const std::string& track, const control::TrackTarget& target) = 0;
  // track -> weight, weights > 0 only, summing to 100.
  virtual void set_weights(const std::map<std::string, int>& weights) = 0;
  virtual void reconcile(std::chrono::steady_clock::time_point now) = 0;
  virtual void sync_routes() = 0;

  virtual std::vector<ReplicaInfo> replicas() const = 0;
  virtual GatewayInfo gateway() const = 0;
  // Cumulative per-track counters of the traffic path; kUnavailable while it is down. A new
  // gateway counts from zero, and traffic_epoch() changes then.
  virtual Result<TrackTraffic> traffic() = 0;
  virtual std::uint64_t traffic_epoch() const = 0;
  // The version a ready replica of `track` reports in /api/v1/health; none without answer.
  virtual std::optional<std::string> track_version(const std::string& track) = 0;
  // HOST:PORT of `track`'s ready replicas, where synthetic requests go.
  virtual std::vector<std::string> track_endpoints(const std::string& track) const = 0;
  // Per-endpoint load of the traffic path (every endpoint it routes to, draining ones too);
  // kUnavailable while the traffic path is down or where the backend cannot measure it (the
  // default), which the autoscaler reports as missing metrics.
  virtual Result<std::vector<EndpointLoad>> endpoint_load();
  // The end of a replica's log, at most `max_bytes`.
  virtual std::string log_tail(const ReplicaInfo& replica, std::size_t max_bytes) const = 0;

  // Stops what this backend runs for the platform (locally: the gateway, then every replica,
  // gracefully). A cluster backend leaves the workload serving.
  virtual void shutdown() = 0;
};

}  // namespace sg::platform
