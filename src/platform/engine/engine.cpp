// The engine's loop: start, tick, observations for the rollout, and resuming after a
// restart. Commands are in engine_commands.cpp, status in engine_status.cpp, settings in
// engine_settings.cpp.
#include "platform/engine/engine.hpp"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "common/json_text.hpp"
#include "common/metrics.hpp"
#include "platform/engine/rollout_records.hpp"

namespace sg::platform {
using namespace std::chrono_literals;

Engine::Engine(EngineOptions options, Backend& backend, StateStore& store, const Clock& clock,
               std::unique_ptr<SyntheticTraffic> synthetic)
    : opts_(std::move(options)),
      backend_(backend),
      store_(store),
      clock_(clock),
      synthetic_(std::move(synthetic)) {
  if (!synthetic_) {
    synthetic_ = std::make_unique<HttpSyntheticTraffic>(std::vector<double>(
        metrics::default_latency_buckets().begin(), metrics::default_latency_buckets().end()));
  }
}

Engine::~Engine() = default;

control::TimePoint Engine::now() {
  // Rollout machines need time that never goes backwards; the wall clock may step back.
  last_now_ = std::max(last_now_, clock_.now());
  return last_now_;
}

void Engine::event(const std::string& kind, const std::string& message) {
  (void)store_.add_event(kind, message);
  if (!opts_.echo_events) return;
  std::fprintf(stderr, "%s %s: %s\n", iso8601_utc(unix_ms_now()).c_str(), kind.c_str(),
               message.c_str());
}

void Engine::record(const std::vector<control::TargetChange>& changes) {
  for (const auto& c : changes) event("replicas", control::describe(c));
  if (!changes.empty()) save_settings();
}

Status Engine::start() {
  std::lock_guard lock(mu_);
  if (Status st = load_settings(); !st) return st;
  if (Status st = load_autoscaler(); !st) return st;
  resume_rollout();
  return Status::ok();
}

void Engine::run(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    tick();
    if (opts_.after_tick && !opts_.after_tick()) break;
    for (auto slept = 0ms; slept < opts_.tick && !stop.load(); slept += 50ms) {
      std::this_thread::sleep_for(50ms);
    }
  }
  std::lock_guard lock(mu_);
  synthetic_->reset();
  backend_.shutdown();
  event("stopped", backend_.name() == "local"
                       ? "control plane stopped the gateway and every replica"
                       : "control plane stopped; the workload keeps serving");
}

void Engine::tick() {
  std::lock_guard lock(mu_);
  const control::TimePoint t = now();
  push_desired();
  backend_.reconcile(clock_.steady());
  observe();
  if (rollout_) step_rollout(t);
  autoscale_step(t);
  push_desired();
  backend_.sync_routes();
}

void Engine::observe() {
  replicas_ = backend_.replicas();
  if (backend_.traffic_epoch() != traffic_epoch_) {
    traffic_epoch_ = backend_.traffic_epoch();
    traffic_.clear();
    if (rollout_) rollout_->reset_baseline("the gateway restarted");
  }
  auto t = backend_.traffic();
  if (!t) return;
  const auto steady = clock_.steady();
  traffic_.emplace_back(steady, std::move(*t));
  while (traffic_.size() > 2 && steady - traffic_.front().first > 10s) traffic_.pop_front();
}

control::TrafficSample Engine::synthetic_total() const {
  return control::merge_samples(synthetic_offset_, synthetic_->sample());
}

void Engine::save_synthetic(bool force) {
  const auto steady = clock_.steady();
  if (!force && steady - synthetic_saved_at_ < 5s) return;
  synthetic_saved_at_ = steady;
  TrackTraffic t;
  t.tracks["synthetic"] = synthetic_total();
  (void)store_.set_setting("rollout_synthetic", json_text(traffic_to_json(t)));
}

double Engine::organic_rps(const std::string& track) const {
  // Over the last ~2 s: a longer window would still hold the seconds before a switch.
  if (traffic_.size() < 2) return 0;
  auto first = traffic_.begin();
  while (std::next(first) != std::prev(traffic_.end()) &&
         traffic_.back().first - first->first > 2s) {
    ++first;
  }
  const auto& [t0, old] = *first;
  const auto& [t1, cur] = traffic_.back();
  const double secs = std::chrono::duration<double>(t1 - t0).count();
  if (secs <= 0) return 0;
  return static_cast<double>(cur.since(old, track).requests) / secs;
}

TrackLook Engine::track_look(const std::string& track, const std::string& release) const {
  TrackLook out;
  const control::TrackTarget target = targets_.effective(track);
  out.desired = target.release == release ? target.replicas : 0;
  for (const auto& r : replicas_) {
    if (r.track != track || r.release != release) continue;
    if (r.phase == ReplicaPhase::kReady) ++out.ready;
    out.health.restarts += r.restarts;
    out.health.readiness_flaps += r.readiness_flaps;
    if (r.restarts > 0 && !r.last_exit.empty()) {
      out.health.last_exit = control::ReplicaExit{r.track + "/" + r.release + " " + r.address,
                                                  r.last_exit, backend_.log_tail(r, 2048)};
    }
  }
  return out;
}

RolloutLook Engine::look() const {
  RolloutLook l;
  const std::string& release = rollout_->options().release;
  const std::string fresh = rollout_->fresh_track();
  l.fresh = track_look(fresh, release);
  if (auto promo = rollout_->promotion_track()) l.promotion = track_look(*promo, release);
  if (rollout_->wants_smoke_version()) l.smoke_version = backend_.track_version(fresh);
  if (!traffic_.empty()) {
    const TrackTraffic& current = traffic_.back().second;
    l.organic = current.since(rollout_->baseline(), fresh);
    if (rollout_->is_canary()) l.stable = current.since(rollout_->baseline(), routes_.active);
  }
  l.synthetic = synthetic_total();
  l.organic_rps = organic_rps(fresh);
  return l;
}

void Engine::step_rollout(control::TimePoint t) {
  if (!carry_out_pending()) return;
  if (!rollout_->finished()) {
    rollout_->step(look(), t);
    if (!carry_out_pending()) return;
  }
  if (rollout_->finished()) {
    end_rollout();
    return;
  }
  rollout_->persist();
  save_synthetic(false);
  const std::string fresh = rollout_->fresh_track();
  synthetic_->set_plan(backend_.track_endpoints(fresh), rollout_->options().synthetic_paths,
                      rollout_->synthetic_rps());
}

bool Engine::carry_out_pending() {
  auto& pending = rollout_->pending();
  while (!pending.empty()) {
    carry_out(pending.front());
    pending.pop_front();
  }
  return true;
}

void Engine::end_rollout() {
  // Safety net: whatever the machine's last actions were, no claim outlives the rollout (a
  // refused release never stays up on a colour without traffic).
  for (const char* track : {"blue", "green", "canary"}) {
    if (track != routes_.active) move_sessions_if_rejected(track);
  }
  record(targets_.release_all("deployment " + std::to_string(rollout_->record().id) + " ended"));
  rollout_->finish(rollout_->result(), rollout_->final_reason());
  synthetic_->reset();
  synthetic_offset_ = control::TrafficSample{};
  save_synthetic(true);
  rollout_.reset();
}

void Engine::resume_rollout() {
  auto open = store_.open_deployment();
  if (!open || !*open) return;
  const DeploymentRecord record = **open;
  auto runner = RolloutRunner::resume(store_, record, [this](const std::string& k,
                                                             const std::string& m) { event(k, m); });
  if (!runner) {
    fail_safe(runner.error().message, record);
    return;
  }
  rollout_ = std::move(*runner);
  if (auto saved = store_.setting("rollout_synthetic"); saved && *saved) {
    const TrackTraffic t = traffic_from_json(**saved);
    if (auto it = t.tracks.find("synthetic"); it != t.tracks.end()) synthetic_offset_ = it->second;
  }
  event("rollout", "resuming deployment " + std::to_string(record.id) + " (" + record.strategy +
                       " -> " + record.to_release + ")");
}

void Engine::fail_safe(const std::string& problem, const DeploymentRecord& stored) {
  // All traffic back on the colour that runs the release from before the rollout; the
  // canary and any colour of the new release go to zero.
  for (const char* colour : {"blue", "green"}) {
    if (targets_.effective(colour).release == stored.from_release &&
        targets_.effective(colour).replicas > 0) {
      switch_to(colour);
      break;
    }
  }
  routes_.weights = {{routes_.active, 100}};
  // Rolled back: the new release's viewers move at once (see move_sessions_if_rejected).
  for (const char* track : {"blue", "green", "canary"}) {
    if (track != routes_.active && targets_.effective(track).release == stored.to_release) {
      targets_.move_sessions_on_stop(track);
    }
  }
  record(targets_.release_all("deployment " + std::to_string(stored.id) + " could not resume"));
  save_settings();
  DeploymentRecord done = stored;
  done.result = control::result_name(control::RolloutResult::kRolledBack);
  done.reason = "control plane restarted and could not resume: " + problem;
  done.finished_ms = unix_ms_now();
  (void)store_.update_deployment(done);
  event("rollout", "deployment " + std::to_string(stored.id) + " rolled_back: " + done.reason);
}

}  // namespace sg::platform
