// ReplicaSet: the local backend's kubelet. It runs replicas (streamgate-server processes) of
// releases on tracks (blue, green, canary), each on its own loopback port, and reconciles
// them towards a desired (release, count) per track:
//
//  * starts missing replicas; captures each one's stdout/stderr in LOG_DIR/TRACK-RELEASE-N.log;
//  * probes GET /ready on each replica every tick: only ready replicas are offered to the
//    gateway (ready_endpoints);
//  * restarts a replica that exits unexpectedly after a back-off of 10 s doubling to 5 min
//    (reset after 10 min of running), counting the exit as a restart at once (like a
//    kubelet's restartCount; a start that fails counts too) and keeping its exit status, so
//    the engine's judge sees a crash the moment it happens; counts readiness flaps (ready -> unready while running);
//  * measures each replica's CPU (from /proc/PID/stat, over the interval between ticks) and
//    resident memory;
//  * stops surplus replicas, and replicas of a release no longer desired on their track, in
//    order: drain in the gateway (no new requests; in-flight ones finish), then SIGTERM once
//    the gateway reports the endpoint drained (or drain_timeout passes), then SIGKILL if it
//    has not exited after grace_period. Replicas are never stopped on a fixed timer while
//    requests are in flight;
//  * session-aware draining (control/session_drain.hpp): when a whole track stops (target 0
//    replicas), its replicas first stay available at the gateway (phase kDraining, the route
//    gives the track no weight, so only sessions pinned to it still come) until the decision
//    says stop: no session pinned to the track (at once: API-only tracks stop as fast as
//    ever), every session idle for session_drain.idle, or session_drain.max since the stop
//    began; a target marked move_sessions (a rolled-back release) does not wait. Then the
//    drain above. Journal: "replica_draining" when the wait begins ("waiting for N sessions")
//    and when it ends (why). The wait restarts after a control-plane restart (adopted
//    replicas), bounded again by session_drain.max;
//  * adopts replicas recorded by an earlier control plane (PID + start time) when they are
//    still running, so a restart of `sgctl up` does not restart the service.
//
// Thread: one thread (the control loop) owns a ReplicaSet; no method is thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/process.hpp"
#include "common/result.hpp"
#include "control/replica_targets.hpp"
#include "control/session_drain.hpp"
#include "platform/backend.hpp"
#include "platform/gateway_client.hpp"
#include "platform/local/process_records.hpp"
#include "platform/store/state_store.hpp"

namespace sg::platform {

using Clock = std::chrono::steady_clock;
using control::TrackTarget;

struct Replica {
  int id = 0;
  std::string track;
  std::string release;
  std::uint16_t port = 0;
  pid_t pid = -1;
  std::uint64_t start_ticks = 0;
  bool adopted = false;  // started by an earlier control plane: not our child
  std::filesystem::path log_file;
  int restarts = 0;
  int readiness_flaps = 0;
  ReplicaPhase phase = ReplicaPhase::kStarting;
  Clock::time_point started{};
  Clock::time_point restart_at{};
  Clock::time_point deadline{};  // kDraining: SIGTERM by then; kTerminating: SIGKILL by then
  // kDraining, waiting for the sessions pinned to its track (not yet drained at the gateway),
  // since stop_began.
  bool awaiting_sessions = false;
  Clock::time_point stop_began{};
  std::chrono::seconds backoff{0};
  std::string last_exit;  // "exit 1", "signal 9 (Killed)"; kept after the restart
  // CPU measurement: the process's CPU seconds at the last tick, and when.
  double cpu_seconds = -1;
  Clock::time_point cpu_at{};
  std::optional<double> cpu_cores;
  std::optional<double> memory_bytes;

  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
  std::string name() const { return track + "-" + release + "-" + std::to_string(id); }
};

struct ReplicaSetOptions {
  std::filesystem::path log_dir;
  // Environment every replica gets besides its own (STREAMGATE_STORAGE, _CACHE, _MEDIA_DIR,
  // _API_TOKENS ...); STREAMGATE_LISTEN and STREAMGATE_VERSION_LABEL are set per replica.
  std::vector<std::pair<std::string, std::string>> common_env;
  // What a replica inherits of our environment (process.hpp): a release is someone else's
  // code and gets none of our secrets.
  std::vector<std::string> pass_env = default_pass_env();
  // Called with records() right after a process is spawned, before anything waits: a
  // control plane killed from then on leaves only processes the next one can adopt.
  std::function<void(const std::vector<ReplicaRecord>&)> record_now{};
  std::chrono::milliseconds probe_timeout{500};
  std::chrono::seconds drain_timeout{30};
  std::chrono::seconds grace_period{30};
  control::SessionDrainPolicy session_drain{};  // max 0: stop without waiting for sessions
  std::chrono::seconds initial_backoff{10};
  std::chrono::seconds max_backoff{300};
  std::chrono::seconds backoff_reset_after{600};
};

class ReplicaSet {
 public:
  // `resolve` finds a release's spec (from the catalog); `events` records what happened.
  using ResolveFn = std::function<Result<ReleaseSpec>(const std::string& release)>;
  using EventFn = std::function<void(const std::string& kind, const std::string& message)>;
  ReplicaSet(ReplicaSetOptions options, ResolveFn resolve, EventFn events);
  ~ReplicaSet();  // leaves processes running (stop_all stops them)

  // Adopts recorded replicas whose process is still the one recorded; returns how many.
  int adopt(const std::vector<ReplicaRecord>& records, Clock::time_point now);

  void set_target(const std::string& track, TrackTarget target);
  std::optional<TrackTarget> target(const std::string& track) const;
  const std::map<std::string, TrackTarget>& targets() const { return targets_; }

  // One reconciliation pass: reap, probe, restart, start, stop. `gateway` may be null (before
  // the gateway runs): stopping then skips the drain.
  void tick(Clock::time_point now, const GatewayClient* gateway);

  // Replicas of `track` running `release` that answered /ready at the last probe.
  int ready_count(const std::string& track, const std::string& release) const;
  // Addresses the gateway should list for `track`: ready (or briefly unready) replicas and
  // those still draining. Sorted.
  std::vector<std::string> gateway_endpoints(const std::string& track) const;
  const std::vector<Replica>& replicas() const { return replicas_; }
  std::vector<ReplicaInfo> info() const;
  std::vector<ReplicaRecord> records() const;
  // True once something changed that records() would show (cleared by the call).
  bool take_dirty();

  // Stops every replica (drain, SIGTERM, SIGKILL after the grace period) and waits, at most
  // grace_period + drain_timeout.
  void stop_all(const GatewayClient* gateway);

 private:
  Status spawn(Replica& r, Clock::time_point now);
  void begin_stop(Replica& r, Clock::time_point now, const GatewayClient* gateway);
  // The drain at the gateway that ends in SIGTERM (deadline: drain_timeout from now).
  void begin_endpoint_drain(Replica& r, Clock::time_point now, const GatewayClient* gateway,
                            const std::string& why);
  // Whether a replica waiting for its track's sessions may go on to the endpoint drain.
  control::SessionDrainDecision session_decision(const Replica& r, Clock::time_point now,
                                                 const GatewayClient* gateway);
  bool alive(Replica& r);  // reaps our children; records last_exit
  void probe(Replica& r, Clock::time_point now);
  void measure(Replica& r, Clock::time_point now);
  void on_exit(Replica& r, Clock::time_point now);
  void reconcile(Clock::time_point now, const GatewayClient* gateway);

  ReplicaSetOptions opts_;
  ResolveFn resolve_;
  EventFn events_;
  std::map<std::string, TrackTarget> targets_;
  std::vector<Replica> replicas_;
  // The gateway's per-track sessions (nullopt inside: it did not answer), asked at most once
  // a second (kSessionsPollPeriod): the gateway walks its whole session table to answer.
  std::optional<std::optional<std::map<std::string, control::TrackSessions>>> sessions_seen_;
  Clock::time_point sessions_seen_at_{};
  int next_id_ = 1;
  bool dirty_ = false;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
Result<std::uint16_t> pick_free_port();

}  // namespace sg::platform
