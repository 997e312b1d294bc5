#include "platform/engine/rollup_recorder.hpp"

#include <algorithm>
#include <set>

#include "control/synthetic.hpp"

namespace sg::platform {

RollupRecorder::RollupRecorder(std::chrono::milliseconds period)
    : period_ms_(std::max<std::int64_t>(1000, period.count())) {}

std::optional<RollupBatch> RollupRecorder::observe(std::int64_t now_ms,
                                                   const PlatformStatus& status,
                                                   const TrackTraffic* traffic) {
  const std::int64_t start = now_ms - (now_ms % period_ms_ + period_ms_) % period_ms_;
  std::optional<RollupBatch> closed;
  if (start_ms_ && start != *start_ms_) closed = close(*start_ms_);
  const bool first = !start_ms_;
  start_ms_ = start;
  accumulate(status, traffic, first);
  last_status_ = status;
  return closed;
}

void RollupRecorder::accumulate(const PlatformStatus& status, const TrackTraffic* traffic,
                                bool first) {
  if (traffic != nullptr) {
    if (last_traffic_) {
      for (const auto& [track, sample] : traffic->tracks) {
        TrackAcc& acc = tracks_[track];
        acc.traffic = control::merge_samples(acc.traffic, traffic->since(*last_traffic_, track));
      }
    }
    last_traffic_ = *traffic;
  }
  std::set<std::string> seen;
  for (const auto& [track, t] : status.tracks) {
    for (const ReplicaView& r : t.replicas) {
      seen.insert(r.name);
      ReplicaAcc& acc = replicas_[r.name];
      acc.track = track;
      acc.release = r.release;
      acc.ready = r.phase == "ready";
      // The first observation only sets the baselines (what came before is not ours to
      // count); a replica first seen later is new: everything it did so far counts.
      const bool known = replica_last_.count(r.name) > 0;
      ReplicaLast& last = replica_last_[r.name];
      if (!known && first) {
        last.cpu_seconds = r.cpu_seconds;
        last.restarts = r.restarts;
      }
      if (r.cpu_seconds) {
        // A counter per process: one that went backwards is a new process, counted from 0.
        const double before = last.cpu_seconds.value_or(0);
        acc.cpu += *r.cpu_seconds >= before ? *r.cpu_seconds - before : *r.cpu_seconds;
        acc.cpu_known = true;
      }
      last.cpu_seconds = r.cpu_seconds;
      if (r.rss_mib) acc.memory = std::max(acc.memory.value_or(0), *r.rss_mib * 1048576.0);
      acc.restarts += std::max(0, r.restarts - last.restarts);
      last.restarts = r.restarts;
    }
  }
  std::erase_if(replica_last_, [&](const auto& kv) { return seen.count(kv.first) == 0; });
  if (!status.autoscaler) return;
  for (const auto& [track, hpa] : status.autoscaler->tracks) {
    if (!hpa.last_decision) continue;
    std::string& seen_at = decision_seen_[track];
    if (hpa.last_decision->at == seen_at) continue;
    seen_at = hpa.last_decision->at;
    if (first || !hpa.last_decision->rescale) continue;
    TrackAcc& acc = tracks_[track];
    if (hpa.last_decision->desired_replicas > hpa.last_decision->current_replicas) {
      ++acc.scale_ups;
    } else {
      ++acc.scale_downs;
    }
  }
}

RollupBatch RollupRecorder::close(std::int64_t start_ms) {
  RollupBatch out;
  std::set<std::string> names;
  for (const auto& [track, t] : last_status_.tracks) {
    if (!t.release.empty() || !t.replicas.empty()) names.insert(track);
  }
  for (const auto& [track, acc] : tracks_) names.insert(track);
  for (const std::string& track : names) {
    TrackRollup r;
    r.start_ms = start_ms;
    r.period_ms = period_ms_;
    r.track = track;
    if (auto t = last_status_.tracks.find(track); t != last_status_.tracks.end()) {
      r.release = t->second.release;
      r.desired = t->second.desired;
      r.ready = t->second.ready;
      r.running = static_cast<int>(std::count_if(
          t->second.replicas.begin(), t->second.replicas.end(),
          [](const ReplicaView& v) { return v.phase != "draining" && v.phase != "terminating"; }));
    }
    if (auto a = tracks_.find(track); a != tracks_.end()) {
      r.requests = a->second.traffic.requests;
      r.errors = a->second.traffic.errors;
      if (r.requests > 0) {
        r.latency_bounds = a->second.traffic.bounds;
        r.latency_counts = a->second.traffic.counts;
      }
      r.scale_ups = a->second.scale_ups;
      r.scale_downs = a->second.scale_downs;
    }
    if (last_status_.autoscaler) {
      if (auto h = last_status_.autoscaler->tracks.find(track);
          h != last_status_.autoscaler->tracks.end()) {
        r.autoscaled = true;
        r.autoscaler_desired = h->second.desired_replicas;
      }
    }
    if (r.release.empty() && r.requests == 0) continue;  // a track that is gone and was idle
    out.tracks.push_back(std::move(r));
  }
  // Every replica seen in the period, also one stopped before its end.
  for (const auto& [name, a] : replicas_) {
    ReplicaRollup r;
    r.start_ms = start_ms;
    r.period_ms = period_ms_;
    r.replica = name;
    r.track = a.track;
    r.release = a.release;
    r.ready = a.ready;
    if (a.cpu_known) r.cpu_seconds = a.cpu;
    r.memory_bytes = a.memory;
    r.restarts = a.restarts;
    out.replicas.push_back(std::move(r));
  }
  tracks_.clear();
  replicas_.clear();
  return out;
}

}  // namespace sg::platform
