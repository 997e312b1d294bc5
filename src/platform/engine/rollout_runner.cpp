#include "platform/engine/rollout_runner.hpp"

#include <boost/json.hpp>

#include "common/json_text.hpp"
#include "platform/engine/rollout_records.hpp"

namespace sg::platform {
namespace json = boost::json;
using control::RolloutResult;

control::BlueGreenConfig blue_green_config(const control::RolloutOptions& r) {
  control::BlueGreenConfig c;
  c.readiness_timeout = std::chrono::seconds(r.timeout_s);
  c.ready_stability = std::chrono::seconds(r.ready_stability_s);
  c.verify_window = std::chrono::seconds(r.verify_s);
  c.max_inconclusive_extension = std::chrono::seconds(std::max(120, 2 * r.verify_s));
  c.scale_down_delay = std::chrono::seconds(r.scale_down_delay_s);
  c.judge = control::judge_config(r);
  c.health = control::health_budget(r);
  c.synthetic = control::synthetic_config(r);
  return c;
}

control::CanaryConfig canary_config(const control::RolloutOptions& r) {
  control::CanaryConfig c;
  c.steps = r.steps;
  c.step_duration = std::chrono::seconds(r.step_interval_s);
  c.readiness_timeout = std::chrono::seconds(r.timeout_s);
  c.promotion_timeout = std::chrono::seconds(r.timeout_s);
  c.ready_stability = std::chrono::seconds(r.ready_stability_s);
  c.max_inconclusive_extension = std::chrono::seconds(std::max(10, 2 * r.step_interval_s));
  c.judge = control::judge_config(r);
  c.health = control::health_budget(r);
  c.synthetic = control::synthetic_config(r);
  return c;
}

Result<std::unique_ptr<RolloutRunner>> RolloutRunner::start(
    StateStore& store, const control::RolloutOptions& options, const std::string& from_release,
    control::Colour active, int stable_replicas, TrackTraffic baseline, EventFn events) {
  std::unique_ptr<RolloutRunner> r(new RolloutRunner(store, options, std::move(events)));
  r->baseline_ = std::move(baseline);
  DeploymentRecord& rec = r->record_;
  rec.strategy = control::strategy_name(options.strategy);
  rec.from_release = from_release;
  rec.to_release = options.release;
  rec.result = "in_progress";
  rec.started_ms = unix_ms_now();
  rec.options = json_text(to_json(options));
  rec.journal = "[]";
  if (options.strategy == control::Strategy::kBlueGreen) {
    r->blue_green_.emplace(blue_green_config(options), active, options.release, stable_replicas);
  } else {
    r->canary_.emplace(canary_config(options), options.release, options.canary_replicas, active,
                       stable_replicas);
  }
  auto id = store.insert_deployment(rec);
  if (!id) return id.error();
  rec.id = *id;
  (void)store.set_setting("rollout_baseline", json_text(traffic_to_json(r->baseline_)));
  r->heartbeat(std::chrono::system_clock::now());
  r->persist();
  return r;
}

Result<std::unique_ptr<RolloutRunner>> RolloutRunner::resume(StateStore& store,
                                                            const DeploymentRecord& record,
                                                            EventFn events) {
  boost::system::error_code ec;
  const json::value options_json = json::parse(record.options, ec);
  if (ec) return make_error(ErrorCode::kInvalidArgument, "its options are not JSON");
  auto options = rollout_options_from_json(options_json);
  if (!options) return options.error();
  std::unique_ptr<RolloutRunner> r(new RolloutRunner(store, *options, std::move(events)));
  r->record_ = record;
  auto map = state_map_from_json(record.state);
  if (!map) return map.error();
  if (options->strategy == control::Strategy::kBlueGreen) {
    auto state = control::blue_green_state_from_map(*map);
    if (!state) return state.error();
    auto machine = control::BlueGreenRollout::resume(blue_green_config(*options), *state);
    if (!machine) return machine.error();
    r->blue_green_.emplace(std::move(*machine));
  } else {
    auto state = control::canary_state_from_map(*map);
    if (!state) return state.error();
    auto machine = control::CanaryRollout::resume(canary_config(*options), *state);
    if (!machine) return machine.error();
    r->canary_.emplace(std::move(*machine));
  }
  if (auto baseline = store.setting("rollout_baseline"); baseline && *baseline) {
    r->baseline_ = traffic_from_json(**baseline);
  }
  r->journal_ = journal_from_json(record.journal);
  r->credit_undriven_time(std::chrono::system_clock::now());
  return r;
}

void RolloutRunner::reset_baseline(const std::string& why) {
  baseline_ = TrackTraffic{};
  (void)store_.set_setting("rollout_baseline", "{}");
  events_("rollout", why + ": the rollout's measurements start again from zero");
}

std::string RolloutRunner::fresh_track() const {
  if (canary_) return "canary";
  return control::colour_name(control::other(blue_green_->state().active));
}

std::optional<std::string> RolloutRunner::promotion_track() const {
  if (!canary_ || canary_->state().phase != control::CanaryPhase::kPromoting) return std::nullopt;
  return control::colour_name(control::other(canary_->state().active));
}

bool RolloutRunner::wants_smoke_version() const {
  return blue_green_ && blue_green_->state().phase == control::BlueGreenPhase::kSmokeTest;
}

bool RolloutRunner::serving_new() const {
  if (!blue_green_) return false;
  const auto phase = blue_green_->state().phase;
  return phase == control::BlueGreenPhase::kScaleDownDelay ||
         phase == control::BlueGreenPhase::kDone;
}

void RolloutRunner::journal(const std::string& phase, const std::string& reason,
                            const std::vector<control::Action>& actions,
                            const control::Verdict& verdict) {
  JournalEntry e{iso8601_utc(unix_ms_now()), phase, reason, {}, view_of(verdict)};
  std::string line = "deployment " + std::to_string(record_.id) + " [" + phase + "] " + reason;
  for (const auto& a : actions) {
    e.actions.push_back(control::describe(a));
    line += "; " + control::describe(a);
  }
  journal_.push_back(std::move(e));
  if (journal_.size() > 500) journal_.erase(journal_.begin());
  events_("rollout", line);
}

template <class Decision>
void RolloutRunner::take(const Decision& d, const std::string& phase, std::size_t step,
                         bool journal_always) {
  // Journal what changes a decision, not every look: the reason's counts change each tick.
  const bool changed = journal_always || phase != phase_ || step != step_index_ ||
                       d.evidence.outcome != verdict_.outcome || !d.actions.empty() ||
                       d.finished;
  phase_ = phase;
  reason_ = d.reason;
  // A decision without a verdict (an operator's command) keeps the last one as evidence.
  if (!d.evidence.reason.empty() || !d.evidence.evidence.empty()) verdict_ = d.evidence;
  step_index_ = step;
  synthetic_rps_ = d.synthetic_rps;
  elapsed_s_ = std::chrono::duration<double>(d.elapsed).count();
  if (changed) journal(phase, d.reason, d.actions, d.evidence);
  for (const auto& a : d.actions) pending_.push_back(a);
  if (d.finished) {
    finished_ = true;
    result_ = d.result;
    final_reason_ = d.reason;
    synthetic_rps_ = 0;
  }
}

namespace {
constexpr auto kHeartbeatEvery = std::chrono::seconds(5);
}  // namespace

void RolloutRunner::credit_undriven_time(control::TimePoint now) {
  // Setting rollout_driven_at is "ID:UNIX_MS", written by whoever drove deployment ID last.
  auto driven = store_.setting("rollout_driven_at");
  if (!driven || !*driven) return;
  const std::string& text = **driven;
  const auto colon = text.find(':');
  if (colon == std::string::npos || text.substr(0, colon) != std::to_string(record_.id)) return;
  std::int64_t ms = 0;
  try {
    ms = std::stoll(text.substr(colon + 1));
  } catch (const std::exception&) {
    return;  // unreadable: no pause is credited
  }
  // The previous driver stopped at most one heartbeat period after its last one: credit only
  // the rest, so a pause is not overstated (the ConfigMap's write spacing aside).
  const auto undriven = std::chrono::duration_cast<std::chrono::milliseconds>(
      now - control::TimePoint(std::chrono::milliseconds(ms)) - kHeartbeatEvery);
  if (undriven < std::chrono::seconds(1)) return;
  if (blue_green_) blue_green_->pause_clock(undriven);
  if (canary_) canary_->pause_clock(undriven);
  events_("rollout", "deployment " + std::to_string(record_.id) + ": nobody drove it for about " +
                         std::to_string(undriven.count() / 1000) +
                         " s; a step in progress gets that time back");
  persist();
}

void RolloutRunner::heartbeat(control::TimePoint now) {
  if (now - heartbeat_at_ < kHeartbeatEvery) return;
  heartbeat_at_ = now;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  (void)store_.set_setting("rollout_driven_at", std::to_string(record_.id) + ":" + std::to_string(ms));
}

void RolloutRunner::step(const RolloutLook& look, control::TimePoint now) {
  if (finished_) return;
  heartbeat(now);
  if (blue_green_) {
    control::BlueGreenObservation obs;
    obs.desired_replicas = look.fresh.desired;
    obs.ready_replicas = look.fresh.ready;
    obs.health = look.fresh.health;
    obs.smoke_version = look.smoke_version;
    obs.new_colour = look.organic;
    obs.synthetic = look.synthetic;
    obs.organic_rps = look.organic_rps;
    const auto d = blue_green_->step(obs, now);
    take(d, control::phase_name(d.phase), 0, false);
    return;
  }
  control::CanaryObservation obs;
  obs.desired_replicas = look.fresh.desired;
  obs.ready_replicas = look.fresh.ready;
  obs.health = look.fresh.health;
  obs.canary = look.organic;
  obs.stable = look.stable;
  obs.synthetic = look.synthetic;
  obs.organic_rps = look.organic_rps;
  obs.promotion_desired = look.promotion.desired;
  obs.promotion_ready = look.promotion.ready;
  obs.promotion_health = look.promotion.health;
  const auto d = canary_->step(obs, now);
  take(d, control::phase_name(d.phase), d.step_index, false);
  canary_weight_ = d.canary_weight;
  step_elapsed_s_ = std::chrono::duration<double>(d.step_elapsed).count();
}

template <class Decision>
Status RolloutRunner::manual(const Decision& d) {
  if (!d.finished && d.actions.empty()) {
    // The machine ignored the command in this phase (e.g. promote before verification).
    return make_error(ErrorCode::kConflict, d.reason);
  }
  take(d, control::phase_name(d.phase), step_index_, true);
  if constexpr (requires { d.canary_weight; }) canary_weight_ = d.canary_weight;
  return Status::ok();
}

Status RolloutRunner::rollback(control::TimePoint now) {
  if (finished_) return make_error(ErrorCode::kConflict, "the rollout has already ended");
  return blue_green_ ? manual(blue_green_->rollback(now))
                     : manual(canary_->abort(now, "rolled back by operator"));
}

Status RolloutRunner::promote(control::TimePoint now) {
  if (finished_) return make_error(ErrorCode::kConflict, "the rollout has already ended");
  return blue_green_ ? manual(blue_green_->promote(now)) : manual(canary_->promote(now));
}

Status RolloutRunner::abort(control::TimePoint now) {
  if (finished_) return make_error(ErrorCode::kConflict, "the rollout has already ended");
  return blue_green_ ? manual(blue_green_->abort(now)) : manual(canary_->abort(now));
}

void RolloutRunner::persist() {
  const control::StateMap map =
      blue_green_ ? control::to_map(blue_green_->state()) : control::to_map(canary_->state());
  record_.state = state_map_to_json(map);
  record_.evidence = json_text(to_json(view_of(verdict_)));
  record_.journal = journal_to_json(journal_);
  const std::string key = record_.state + std::to_string(journal_.size());
  if (key == persisted_key_) return;
  persisted_key_ = key;
  (void)store_.update_deployment(record_);
}

void RolloutRunner::finish(RolloutResult result, const std::string& reason) {
  if (recorded_) return;
  recorded_ = true;
  finished_ = true;
  result_ = result;
  final_reason_ = reason;
  synthetic_rps_ = 0;
  persist();
  record_.result = control::result_name(result);
  record_.reason = reason;
  record_.finished_ms = unix_ms_now();
  (void)store_.update_deployment(record_);
  events_("rollout", "deployment " + std::to_string(record_.id) + " " + record_.result + ": " +
                         reason);
}

RolloutView RolloutRunner::view(std::uint64_t synthetic_requests) const {
  RolloutView v;
  v.id = record_.id;
  v.strategy = record_.strategy;
  v.from = record_.from_release;
  v.to = record_.to_release;
  v.phase = phase_;
  v.reason = reason_;
  v.elapsed_s = elapsed_s_;
  v.verdict = view_of(verdict_);
  if (canary_) {
    v.step = static_cast<int>(step_index_ + 1);
    v.steps = static_cast<int>(options_.steps.size());
    v.canary_weight = canary_weight_;
    v.step_elapsed_s = step_elapsed_s_;
  }
  v.serving_new = serving_new();
  v.synthetic_rps = synthetic_rps_;
  v.synthetic_requests = synthetic_requests;
  return v;
}

}  // namespace sg::platform
