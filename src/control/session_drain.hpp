// Session-aware draining: may the replicas of a track that is being stopped go now, or do
// viewers still watch on it? Shared by every backend (the local one asks it each tick; a
// Kubernetes backend would ask it before scaling a Deployment to zero).
//
// When a whole track stops (its target is 0 replicas: the old colour after a promotion, the
// canary once the new stable serves), the route already gives it no weight, so no new viewing
// session lands on it, while the sessions the gateway pinned to it keep playing there as long
// as its replicas stay available. So the backend keeps them available (not drained at the
// gateway) until the decision below says stop, then drains them as for any stop (in-flight
// requests finish) and terminates them.
//
// The decision, in order:
//   1. session draining off (policy.max == 0)              -> stop now ("off")
//   2. the track has replicas again (a new release claimed it, or only some replicas go):
//      pinning is per track, not per replica, so waiting would not keep anyone on these
//                                                           -> stop now ("track serves")
//   3. the target says its sessions move at once (a rolled-back or failed release: its
//      viewers are better served by the version that stays)  -> stop now ("moved")
//   4. `waited` >= policy.max                               -> stop ("drain limit reached")
//   5. activity unknown (the gateway did not answer)       -> wait (bounded by 4)
//   6. no live session pinned to the track                 -> stop now ("no sessions"): a
//      track that only served API traffic stops exactly as fast as without this feature
//   7. every session idle >= policy.idle (the latest request of any is that old)
//                                                           -> stop ("sessions idle")
//   8. else wait for the `active` sessions (those with a request within policy.idle).
//
// Defaults. idle 30 s: a player fetches about one segment per segment duration (2 to 10 s in
// common HLS packagings; hls.js keeps ~30 s buffered and tops it up one segment at a time), so
// 30 s without a request from any session is three times the longest usual gap: the viewers
// finished or left. max 300 s bounds how long an old version keeps running (the same bound as
// the blue-green scale-down delay and the runbook's "scale-down < 5 min"); a viewer still
// watching after that is moved to the serving track by the gateway (its next request).
//
// Pure: no clock, no I/O.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "control/replica_targets.hpp"

namespace sg::control {

struct SessionDrainPolicy {
  static constexpr int kDefaultIdleS = 30;
  static constexpr int kDefaultMaxS = 300;
  static constexpr int kMaxIdleS = 600;   // --session-drain-idle: 1..600
  static constexpr int kMaxMaxS = 86400;  // --session-drain-max: 0 (off)..86400
  std::chrono::seconds idle{kDefaultIdleS};
  std::chrono::seconds max{kDefaultMaxS};
};

// Empty when valid; else one line naming the flag, its range and the value.
std::string validate(const SessionDrainPolicy& policy);

// What the traffic path knows of the sessions pinned to one track.
struct TrackSessions {
  std::size_t sessions = 0;                           // live sessions pinned to it
  std::size_t active = 0;                             // of those, with a request within policy.idle
  std::optional<std::chrono::duration<double>> idle;  // since the latest request; none: no session
};

struct SessionDrainDecision {
  enum class Outcome { kWait, kStop };
  Outcome outcome = Outcome::kWait;
  // Why, for the journal: "off", "track serves", "sessions moved at once (...)", "drain
  // limit reached (...)", "no sessions", "sessions idle (...)", or while waiting "waiting for
  // N sessions".
  std::string reason;
  std::size_t waiting_for = 0;  // with kWait: sessions still active (0 when unknown)
  bool stop() const { return outcome == Outcome::kStop; }
};

// `target`: the track's target now; `activity`: nullopt when the gateway could not say;
// `waited`: since the track's replica began stopping.
SessionDrainDecision decide_session_drain(const SessionDrainPolicy& policy,
                                          const TrackTarget& target,
                                          const std::optional<TrackSessions>& activity,
                                          std::chrono::steady_clock::duration waited);

}  // namespace sg::control
