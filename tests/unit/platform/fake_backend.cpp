#include "fake_backend.hpp"

#include <algorithm>
#include <cmath>

#include "common/metrics.hpp"

namespace sg::platform::test {
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

namespace {

control::TrafficSample empty_sample() {
  control::TrafficSample s;
  const auto b = metrics::default_latency_buckets();
  s.bounds.assign(b.begin(), b.end());
  s.counts.assign(s.bounds.size() + 1, 0);
  return s;
}

void add_latency(control::TrafficSample& s, double seconds, std::uint64_t n) {
  std::size_t i = 0;
  while (i < s.bounds.size() && seconds > s.bounds[i]) ++i;
  s.counts[i] += n;
}

}  // namespace

FakeBackend::FakeBackend(const Clock& clock) : clock_(clock) {}

const FakeRelease& FakeBackend::release(const std::string& name) { return releases[name]; }

void FakeBackend::set_track(const std::string& track, const control::TrackTarget& target) {
  targets[track] = target;
}

void FakeBackend::sync_routes() {
  if (desired_weights_ == applied_weights) return;
  // Like the local backend: never point the route at a track without a ready replica.
  for (const auto& [track, w] : desired_weights_) {
    if (w > 0 && !serving_release(track)) return;
  }
  applied_weights = desired_weights_;
  route_log.push_back(applied_weights);
}

std::optional<std::string> FakeBackend::serving_release(const std::string& track) const {
  for (const auto& r : replicas_) {
    if (r.info.track == track && r.info.phase == ReplicaPhase::kReady) return r.info.release;
  }
  return std::nullopt;
}

void FakeBackend::reconcile_replicas(Steady::time_point now) {
  for (auto& r : replicas_) {
    const FakeRelease& rel = release(r.info.release);
    if (r.info.phase == ReplicaPhase::kBackoff) {
      if (now < r.restart_at) continue;
      r.info.phase = ReplicaPhase::kStarting;
      r.started = now;
    }
    if (rel.crash_after && now - r.started >= *rel.crash_after) {
      ++r.info.restarts;
      r.info.last_exit = "signal 9 (Killed)";
      r.info.phase = ReplicaPhase::kBackoff;
      r.restart_at = now + rel.restart_backoff;
      continue;
    }
    if (r.info.phase == ReplicaPhase::kStarting && !rel.never_ready &&
        now - r.started >= rel.ready_after) {
      r.info.phase = ReplicaPhase::kReady;
    }
  }
  for (const auto& [track, target] : targets) {
    // Replicas of another release, or beyond the count, go (the newest first).
    std::vector<FakeReplica> keep;
    int have = 0;
    for (auto& r : replicas_) {
      if (r.info.track != track) {
        keep.push_back(r);
      } else if (r.info.release == target.release && have < target.replicas) {
        keep.push_back(r);
        ++have;
      }
    }
    replicas_ = std::move(keep);
    for (; have < target.replicas; ++have) {
      FakeReplica r;
      const int id = next_id_++;
      r.info.name = track + "-" + target.release + "-" + std::to_string(id);
      r.info.track = track;
      r.info.release = target.release;
      r.info.address = "fake:" + track + ":" + std::to_string(id);
      r.info.pid = 100000 + id;
      r.info.log = "fake log of " + r.info.name;
      r.started = now;
      replicas_.push_back(r);
    }
  }
}

void FakeBackend::answer(const std::string& name, double n, double& carry,
                         control::TrafficSample& sample) {
  const double total = n + carry;
  const auto whole = static_cast<std::uint64_t>(total);
  carry = total - static_cast<double>(whole);
  if (whole == 0) return;
  const FakeRelease& rel = release(name);
  if (sample.bounds.empty()) sample = empty_sample();
  const auto errors = static_cast<std::uint64_t>(std::llround(static_cast<double>(whole) *
                                                               rel.error_rate));
  sample.requests += whole;
  sample.errors += errors;
  add_latency(sample, rel.latency_s, whole);
}

void FakeBackend::route_traffic(double seconds) {
  if (organic_rps <= 0 || !gateway_up) return;
  for (const auto& [track, w] : applied_weights) {
    const auto release = serving_release(track);
    if (!release) continue;  // the gateway would retry elsewhere: nothing counted here
    const double n = organic_rps * seconds * w / 100.0;
    const std::uint64_t before = counters_.tracks[track].requests;
    answer(*release, n, carries_[track], counters_.tracks[track]);
    served_by_release[*release] += counters_.tracks[track].requests - before;
  }
}

void FakeBackend::reconcile(Steady::time_point now) {
  reconcile_replicas(now);
  sync_routes();
  if (last_) route_traffic(std::chrono::duration<double>(now - *last_).count());
  last_ = now;
  for (auto& r : replicas_) {
    r.info.cpu_cores.reset();
    if (r.info.phase == ReplicaPhase::kBackoff) continue;
    r.info.cpu_cores = replica_rps(r) * release(r.info.release).cpu_seconds_per_request;
  }
}

double FakeBackend::replica_rps(const FakeReplica& r) const {
  if (r.info.phase != ReplicaPhase::kReady || !gateway_up) return 0;
  const auto w = applied_weights.find(r.info.track);
  if (w == applied_weights.end()) return 0;
  int ready = 0;
  for (const auto& o : replicas_) {
    ready += o.info.track == r.info.track && o.info.phase == ReplicaPhase::kReady ? 1 : 0;
  }
  return organic_rps * w->second / 100.0 / ready;
}

Result<std::vector<EndpointLoad>> FakeBackend::endpoint_load() {
  if (!gateway_up) return make_error(ErrorCode::kUnavailable, "the gateway is down");
  std::vector<EndpointLoad> out;
  for (const auto& r : replicas_) {
    if (r.info.phase != ReplicaPhase::kReady) continue;
    const double rps = replica_rps(r);
    out.push_back({r.info.track, r.info.address, rps, 10, rps * release(r.info.release).latency_s});
  }
  return out;
}

std::vector<ReplicaInfo> FakeBackend::replicas() const {
  std::vector<ReplicaInfo> out;
  for (const auto& r : replicas_) out.push_back(r.info);
  return out;
}

GatewayInfo FakeBackend::gateway() const {
  return {"127.0.0.1:8080", "127.0.0.1:8081", std::nullopt, gateway_up, std::nullopt,
          std::nullopt};
}

Result<TrackTraffic> FakeBackend::traffic() {
  if (!gateway_up) return make_error(ErrorCode::kUnavailable, "the gateway is down");
  return counters_;
}

std::optional<std::string> FakeBackend::track_version(const std::string& track) {
  const auto release = serving_release(track);
  if (!release) return std::nullopt;
  return releases[*release].version.value_or(*release);
}

std::vector<std::string> FakeBackend::track_endpoints(const std::string& track) const {
  std::vector<std::string> out;
  for (const auto& r : replicas_) {
    if (r.info.track == track && r.info.phase == ReplicaPhase::kReady) out.push_back(r.info.address);
  }
  return out;
}

std::string FakeBackend::log_tail(const ReplicaInfo& replica, std::size_t) const {
  return "last lines of " + replica.name;
}

void FakeSyntheticTraffic::set_plan(std::vector<std::string> endpoints, std::vector<std::string>,
                                    double rps) {
  accrue();
  endpoints_ = std::move(endpoints);
  rps_ = rps;
  max_rps_seen = std::max(max_rps_seen, rps);
}

void FakeSyntheticTraffic::reset() {
  accrue();
  rps_ = 0;
  endpoints_.clear();
  sample_ = control::TrafficSample{};
  sent_ = 0;
}

void FakeSyntheticTraffic::accrue() const {
  const auto now = clock_.steady();
  if (last_ && rps_ > 0 && !endpoints_.empty()) {
    // "fake:TRACK:ID": the track's ready replicas answer.
    const std::string& ep = endpoints_.front();
    const std::string track = ep.substr(5, ep.rfind(':') - 5);
    if (auto release = backend_.serving_release(track)) {
      const std::uint64_t before = sample_.requests;
      backend_.answer(*release, rps_ * std::chrono::duration<double>(now - *last_).count(),
                      carry_, sample_);
      total_sent += sample_.requests - before;
    }
  }
  last_ = now;
}

control::TrafficSample FakeSyntheticTraffic::sample() const {
  accrue();
  return sample_;
}

}  // namespace sg::platform::test
