// ReplicaTargets: the one owner of every track's desired replicas (which release, how many).
// Nothing else decides a replica count; every change goes through a method here, which
// returns the effective changes so the caller records each as an event with its reason.
//
// Writers, in precedence order:
//   1. The rollout in progress claims the tracks it works on (the new colour, the canary, the
//      old colour kept warm) with claim(); release() hands a track back. A claim may let the
//      autoscaler raise its count (the canary and a new colour under load) or pin it (a colour
//      being kept warm or drained is never scaled up).
//   2. The operator sets the stable track's count (sgctl scale): set_operator_replicas().
//   3. The autoscaler recommends a count per track: recommend(); on the stable track it
//      replaces the operator's count while autoscaling is on, on a claimed track it only
//      raises an autoscalable claim.
// effective(track) = claim (raised by the autoscaler when autoscalable) if claimed; else the
// stable track's autoscaler recommendation or operator count; else 0 replicas.
//
// Pure and single-threaded: the engine owns one instance and persists state().
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace sg::control {

struct TrackTarget {
  std::string release;
  int replicas = 0;
  // With replicas == 0: the viewing sessions pinned to the track move to the serving track at
  // once (its replicas are drained without waiting for them; session_drain.hpp), because the
  // release is the one a rollout rolled back or failed. Otherwise (the healthy old version
  // after a promotion, a promoted canary) the backend drains session-aware.
  bool move_sessions = false;
  bool operator==(const TrackTarget&) const = default;
};

struct TargetClaim {
  TrackTarget target;
  bool autoscalable = false;
  bool operator==(const TargetClaim&) const = default;
};

// One effective change: `track` went from `before` to `after` because `source` (rollout,
// operator, autoscaler) said `reason`.
struct TargetChange {
  std::string track;
  TrackTarget before;
  TrackTarget after;
  std::string source;
  std::string reason;
};
std::string describe(const TargetChange& change);  // "blue (v1): 2 -> 4 replicas (operator: ...)"

// What ReplicaTargets persists.
struct ReplicaTargetsState {
  std::string stable_track = "blue";
  std::string stable_release;
  int operator_replicas = 2;
  std::map<std::string, TargetClaim> claims{};
  std::map<std::string, int> recommendations{};  // autoscaler, per track
  std::map<std::string, std::string> last_release{};  // a stopped track's last release
  // Stopped tracks whose sessions move at once (TrackTarget::move_sessions); a track leaves
  // this set when it gets replicas again.
  std::set<std::string> move_sessions{};
};

class ReplicaTargets {
 public:
  ReplicaTargets() = default;
  explicit ReplicaTargets(ReplicaTargetsState state) : s_(std::move(state)) {}

  // The stable (active) track and its release; its count is the operator's or the autoscaler's.
  std::vector<TargetChange> set_stable(const std::string& track, const std::string& release,
                                       const std::string& reason);
  std::vector<TargetChange> set_operator_replicas(int replicas, const std::string& reason);
  std::vector<TargetChange> claim(const std::string& track, TargetClaim claim,
                                  const std::string& reason);
  std::vector<TargetChange> release(const std::string& track, const std::string& reason);
  std::vector<TargetChange> release_all(const std::string& reason);
  // Marks `track` so that when it stops (now or at its next release()) its sessions move at
  // once instead of being waited for: the rolled-back or failed release's track. Cleared when
  // the track gets replicas again.
  void move_sessions_on_stop(const std::string& track);
  // nullopt withdraws the recommendation.
  std::vector<TargetChange> recommend(const std::string& track, std::optional<int> replicas,
                                      const std::string& reason);

  TrackTarget effective(const std::string& track) const;
  // Every track with a target (stable, claimed, recommended or stopped with a known release).
  std::map<std::string, TrackTarget> effective_all() const;
  // Which writer decides `track` now: "rollout", "autoscaler", "operator" or "none".
  std::string source(const std::string& track) const;

  const std::string& stable_track() const { return s_.stable_track; }
  const std::string& stable_release() const { return s_.stable_release; }
  int operator_replicas() const { return s_.operator_replicas; }
  std::optional<TargetClaim> claim_of(const std::string& track) const;
  const ReplicaTargetsState& state() const { return s_; }

 private:
  template <class Mutate>
  std::vector<TargetChange> change(const std::string& source, const std::string& reason,
                                   Mutate&& mutate);

  ReplicaTargetsState s_;
};

}  // namespace sg::control
