#include "control/replica_targets.hpp"

#include <algorithm>
#include <set>

namespace sg::control {

std::string describe(const TargetChange& c) {
  const std::string release = c.after.release.empty() ? c.before.release : c.after.release;
  std::string out = c.track + " (" + release + "): ";
  if (c.before.release != c.after.release && !c.before.release.empty() &&
      c.before.replicas > 0 && c.after.replicas > 0) {
    out = c.track + ": " + c.before.release + " -> " + c.after.release + ", ";
  }
  out += std::to_string(c.before.replicas) + " -> " + std::to_string(c.after.replicas) +
         " replicas (" + c.source + ": " + c.reason + ")";
  return out;
}

TrackTarget ReplicaTargets::effective(const std::string& track) const {
  const auto rec = s_.recommendations.find(track);
  if (const auto c = s_.claims.find(track); c != s_.claims.end()) {
    TrackTarget t = c->second.target;
    t.move_sessions = t.replicas <= 0 && s_.move_sessions.count(track) != 0;
    if (c->second.autoscalable && rec != s_.recommendations.end() && t.replicas > 0) {
      t.replicas = std::max(t.replicas, rec->second);
    }
    return t;
  }
  if (track == s_.stable_track && !s_.stable_release.empty()) {
    const int n = rec != s_.recommendations.end() ? rec->second : s_.operator_replicas;
    return {s_.stable_release, n};
  }
  const auto last = s_.last_release.find(track);
  return {last == s_.last_release.end() ? std::string() : last->second, 0,
          s_.move_sessions.count(track) != 0};
}

std::map<std::string, TrackTarget> ReplicaTargets::effective_all() const {
  std::set<std::string> tracks;
  if (!s_.stable_release.empty()) tracks.insert(s_.stable_track);
  for (const auto& [t, c] : s_.claims) tracks.insert(t);
  for (const auto& [t, r] : s_.recommendations) tracks.insert(t);
  for (const auto& [t, r] : s_.last_release) tracks.insert(t);
  std::map<std::string, TrackTarget> out;
  for (const auto& t : tracks) out[t] = effective(t);
  return out;
}

std::string ReplicaTargets::source(const std::string& track) const {
  if (s_.claims.count(track) != 0) return "rollout";
  if (track != s_.stable_track || s_.stable_release.empty()) return "none";
  return s_.recommendations.count(track) != 0 ? "autoscaler" : "operator";
}

std::optional<TargetClaim> ReplicaTargets::claim_of(const std::string& track) const {
  const auto it = s_.claims.find(track);
  if (it == s_.claims.end()) return std::nullopt;
  return it->second;
}

template <class Mutate>
std::vector<TargetChange> ReplicaTargets::change(const std::string& source,
                                                 const std::string& reason, Mutate&& mutate) {
  const auto before = effective_all();
  mutate();
  // A track that stops keeps its last release for display and for a later claim's log line.
  for (const auto& [track, target] : before) {
    if (!target.release.empty()) s_.last_release[track] = target.release;
  }
  // A track that serves again is drained session-aware the next time it stops.
  std::erase_if(s_.move_sessions, [this](const std::string& t) { return effective(t).replicas > 0; });
  const auto after = effective_all();
  std::vector<TargetChange> out;
  for (const auto& [track, now] : after) {
    const auto was = before.find(track);
    const TrackTarget old = was == before.end() ? TrackTarget{} : was->second;
    const bool same_count = old.replicas == now.replicas;
    const bool same_release = old.release == now.release || now.replicas == 0;
    if (same_count && same_release) continue;
    out.push_back({track, old, now, source, reason});
  }
  return out;
}

std::vector<TargetChange> ReplicaTargets::set_stable(const std::string& track,
                                                     const std::string& release,
                                                     const std::string& reason) {
  return change("rollout", reason, [&] {
    s_.stable_track = track;
    s_.stable_release = release;
  });
}

std::vector<TargetChange> ReplicaTargets::set_operator_replicas(int replicas,
                                                                const std::string& reason) {
  return change("operator", reason, [&] { s_.operator_replicas = replicas; });
}

std::vector<TargetChange> ReplicaTargets::claim(const std::string& track, TargetClaim claim,
                                                const std::string& reason) {
  return change("rollout", reason, [&] { s_.claims[track] = std::move(claim); });
}

std::vector<TargetChange> ReplicaTargets::release(const std::string& track,
                                                  const std::string& reason) {
  return change("rollout", reason, [&] { s_.claims.erase(track); });
}

std::vector<TargetChange> ReplicaTargets::release_all(const std::string& reason) {
  return change("rollout", reason, [&] { s_.claims.clear(); });
}

void ReplicaTargets::move_sessions_on_stop(const std::string& track) {
  s_.move_sessions.insert(track);
}

std::vector<TargetChange> ReplicaTargets::recommend(const std::string& track,
                                                    std::optional<int> replicas,
                                                    const std::string& reason) {
  return change("autoscaler", reason, [&] {
    if (replicas) {
      s_.recommendations[track] = *replicas;
    } else {
      s_.recommendations.erase(track);
    }
  });
}

}  // namespace sg::control
