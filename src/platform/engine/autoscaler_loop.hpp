// AutoscalerLoop: the engine's side of autoscaling. Every control tick it takes what the
// backend observes (replicas with readiness and CPU; per-endpoint rps and in-flight from the
// traffic path) and keeps, per replica, the samples of the last metric window and its
// readiness history; every sync period it turns each autoscaled track's replicas into the
// HPA's view of pods and runs that track's control::HorizontalAutoscaler (src/control/hpa.hpp).
// The engine applies the result through ReplicaTargets::recommend.
//
// Metrics per replica (the HPA's "pods"):
//   * cpu: the mean of the backend's CPU readings (cores, from /proc locally) over the window,
//     in millicores, against the spec's CPU request; present once it has two readings;
//   * rps: the traffic path's requests per second to the replica's address (a 10 s window);
//   * in_flight: the mean of the traffic path's in-flight readings over the window.
// The window is the sync period, at least 2 s and at most 15 s. A replica the traffic path
// does not route to (starting, not yet added) has no rps or in-flight value ("missing").
// Phases: starting and unready replicas are running pods that are not Ready; backing-off
// replicas are pending; draining and terminating ones are being deleted. A replica's start
// time is when this loop first saw it (after a restart of the control plane: the adoption).
//
// Each track keeps its last kRecentEvaluations records (autoscaler_model.hpp), numbered by
// one sequence over all tracks, for `sgctl get hpa -o json` ("recent_evaluations").
//
// Thread: the engine's (under its mutex).
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "control/hpa.hpp"
#include "platform/autoscaler_model.hpp"
#include "platform/backend.hpp"

namespace sg::platform {

class AutoscalerLoop {
 public:
  using Steady = std::chrono::steady_clock::time_point;

  AutoscalerLoop(control::HpaSpec spec, Steady now);

  const control::HpaSpec& spec() const { return spec_; }
  // A changed spec keeps each track's HPA state (recommendations, scale events), as an
  // edited HPA does.
  void set_spec(control::HpaSpec spec) { spec_ = std::move(spec); }
  // Every tick.
  void observe(const std::vector<ReplicaInfo>& replicas,
               const Result<std::vector<EndpointLoad>>& load, Steady steady, control::TimePoint now);
  // A sync period has passed since the last evaluation (the first comes one period after
  // the loop started).
  bool due(Steady steady) const { return steady >= next_; }
  void evaluated(Steady steady) { next_ = steady + spec_.sync_period; }

  // One HPA pass for `track` running `release` with `current` desired replicas. A rollout's
  // track passes `floor` (what the rollout claims, or the canary's weight needs), which
  // replaces the spec's minimum there (never above its maximum): the autoscaler only adds to
  // a rollout's count.
  control::HpaRecord evaluate(const std::string& track, const std::string& release, int current,
                              std::optional<int> floor, control::TimePoint now);
  // The track is not autoscaled now: its HPA state is dropped (a new one starts afresh).
  void forget(const std::string& track);
  std::vector<std::string> tracks() const;

  // The view of every evaluated track; `ready` counts ready replicas per track.
  AutoscalerView view(const std::map<std::string, int>& ready) const;

  // The HPA's pods for `track`/`release` now (for tests and the evaluation).
  std::vector<control::HpaPod> pods(const std::string& track, const std::string& release,
                                    control::TimePoint now) const;

 private:
  struct Series {
    std::string track;
    std::string release;
    std::string address;
    ReplicaPhase phase = ReplicaPhase::kStarting;
    control::TimePoint first_seen{};
    std::optional<bool> ready;
    control::TimePoint ready_transition{};
    std::deque<std::pair<Steady, double>> cpu;        // cores
    std::deque<std::pair<Steady, double>> in_flight;  // requests
    std::optional<double> rps;
    Steady seen{};
  };
  struct TrackState {
    control::HorizontalAutoscaler hpa;
    std::string release;
    std::optional<control::HpaRecord> last;
    std::deque<std::pair<std::int64_t, control::HpaRecord>> recent;  // (seq, record), oldest first
  };

  std::chrono::milliseconds window() const;

  control::HpaSpec spec_;
  Steady next_;
  std::int64_t seq_ = 0;
  std::map<std::string, Series> series_;  // by replica name
  std::map<std::string, TrackState> tracks_;
};

// "cpu 142% of 70%, rps 12.5 of 10" for events and reasons.
std::string describe_metrics(const control::HpaRecord& record);

}  // namespace sg::platform
