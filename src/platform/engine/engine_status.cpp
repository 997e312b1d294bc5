// The engine's typed status and deployment views (model.hpp).
#include <boost/json.hpp>

#include "control/judge.hpp"
#include "platform/engine/engine.hpp"
#include "platform/store/views.hpp"

namespace sg::platform {

namespace {

constexpr const char* kTracks[] = {"blue", "green", "canary"};

ReplicaView replica_view(const ReplicaInfo& r) {
  ReplicaView v;
  v.name = r.name;
  v.track = r.track;
  v.release = r.release;
  v.address = r.address;
  v.pid = r.pid;
  v.phase = replica_phase_name(r.phase);
  v.restarts = r.restarts;
  v.readiness_flaps = r.readiness_flaps;
  v.last_exit = r.last_exit;
  v.log = r.log;
  if (r.cpu_cores) v.cpu_percent = *r.cpu_cores * 100;
  if (r.memory_bytes) v.rss_mib = *r.memory_bytes / (1024.0 * 1024.0);
  v.cpu_seconds = r.cpu_seconds_total;
  return v;
}

}  // namespace

std::optional<TrafficView> Engine::traffic_view(const std::string& track) const {
  if (traffic_.size() < 2) return std::nullopt;
  const auto& [t0, old] = traffic_.front();
  const auto& [t1, cur] = traffic_.back();
  const control::TrafficSample d = cur.since(old, track);
  const double secs = std::chrono::duration<double>(t1 - t0).count();
  TrafficView v;
  v.window_s = secs;
  v.rps = secs > 0 ? static_cast<double>(d.requests) / secs : 0.0;
  v.error_rate =
      d.requests > 0 ? static_cast<double>(d.errors) / static_cast<double>(d.requests) : 0.0;
  v.p95_ms = d.requests > 0 ? control::histogram_quantile(d, 0.95) * 1000.0 : 0.0;
  return v;
}

std::optional<TrackTraffic> Engine::latest_traffic() {
  std::lock_guard lock(mu_);
  if (traffic_.empty()) return std::nullopt;
  return traffic_.back().second;
}

PlatformStatus Engine::status() {
  std::lock_guard lock(mu_);
  PlatformStatus s;
  s.backend = std::string(backend_.name());
  s.state_dir = opts_.state_dir;
  const GatewayInfo g = backend_.gateway();
  s.gateway = {g.listen, g.admin, g.pid, g.running,
               g.cpu_cores ? std::optional<double>(*g.cpu_cores * 100) : std::nullopt,
               g.memory_bytes ? std::optional<double>(*g.memory_bytes / (1024.0 * 1024.0))
                              : std::nullopt};
  s.active_colour = routes_.active;
  s.active_release = targets_.stable_release();
  s.weights = routes_.weights;
  for (const char* track : kTracks) {
    const control::TrackTarget target = targets_.effective(track);
    TrackView t;
    t.release = target.release;
    t.desired = target.replicas;
    t.desired_by = targets_.source(track);
    const auto w = routes_.weights.find(track);
    t.weight = w == routes_.weights.end() ? 0 : w->second;
    for (const auto& r : replicas_) {
      if (r.track != track) continue;
      t.replicas.push_back(replica_view(r));
      if (r.release == target.release && r.phase == ReplicaPhase::kReady) ++t.ready;
    }
    if (target.release.empty() && t.replicas.empty()) continue;
    if (target.replicas == 0 && t.replicas.empty() && t.weight == 0) continue;
    t.traffic = traffic_view(track);
    s.tracks[track] = std::move(t);
  }
  if (rollout_) s.rollout = rollout_->view(synthetic_total().requests);
  if (autoscaler_) {
    std::map<std::string, int> ready;
    for (const auto& [track, t] : s.tracks) ready[track] = t.ready;
    s.autoscaler = autoscaler_->view(ready);
  }
  return s;
}

Result<std::vector<DeploymentCount>> Engine::deployment_counts() {
  std::lock_guard lock(mu_);
  return store_.deployment_counts();
}

Result<DeploymentView> Engine::deployment(std::int64_t id) {
  std::lock_guard lock(mu_);
  auto d = store_.deployment(id);
  if (!d) return d.error();
  if (!*d) return make_error(ErrorCode::kNotFound, "no deployment " + std::to_string(id));
  DeploymentView v = deployment_view(**d);
  if (rollout_ && rollout_->record().id == id) {
    v.live = rollout_->view(synthetic_total().requests);
    v.journal = rollout_->journal();
  }
  return v;
}

}  // namespace sg::platform
