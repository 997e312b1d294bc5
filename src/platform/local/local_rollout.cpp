// LocalPlatform's rollouts: starting them, stepping the control state machines with the
// gateway's measurements, carrying out their actions on the local backend, journaling every
// decision with its evidence, and resuming after a restart. See local_platform.hpp.
#include <boost/json.hpp>

#include "common/http/blocking_client.hpp"
#include "common/json_text.hpp"
#include "control/judge.hpp"
#include "platform/local/local_platform.hpp"

namespace sg::platform {
namespace json = boost::json;
using namespace std::chrono_literals;

struct LocalPlatform::Rollout {
  DeployRequest request;
  DeploymentRecord record;
  std::optional<control::BlueGreenRollout> blue_green;
  std::optional<control::CanaryRollout> canary;
  std::deque<control::Action> pending;
  TrackTraffic baseline;
  std::optional<Clock::time_point> update_deadline;
  std::string promotion_failure;  // set when the new stable never became ready
  bool finished = false;
  control::RolloutResult result = control::RolloutResult::kInProgress;
  std::string final_reason;
  // The latest decision, for status and the journal.
  std::string phase;
  std::string reason;
  control::Verdict verdict;
  std::size_t step_index = 0;
  int canary_weight = 0;
  double elapsed_s = 0;
  double step_elapsed_s = 0;
  json::array journal;
  std::string persisted_state;
};

// Here, where Rollout is a complete type.
LocalPlatform::LocalPlatform(PlatformOptions options) : opts_(std::move(options)) {}
LocalPlatform::~LocalPlatform() = default;

namespace {

control::Colour colour_of(const std::string& name) {
  return name == "green" ? control::Colour::kGreen : control::Colour::kBlue;
}

control::JudgeConfig judge_config(const DeployRequest& r, double default_rate,
                                  double default_p95_ms) {
  control::JudgeConfig j;
  j.max_error_rate = r.max_error_rate >= 0 ? r.max_error_rate : default_rate;
  j.max_latency_seconds = (r.max_p95_ms >= 0 ? r.max_p95_ms : default_p95_ms) / 1000.0;
  j.min_requests = static_cast<std::uint64_t>(r.min_requests);
  return j;
}

control::BlueGreenConfig blue_green_config(const DeployRequest& r) {
  control::BlueGreenConfig c;
  c.readiness_timeout = std::chrono::seconds(r.timeout_s);
  c.ready_stability = std::chrono::seconds(r.ready_stability_s);
  c.verify_window = std::chrono::seconds(r.verify_s);
  c.max_inconclusive_extension = std::chrono::seconds(std::max(120, 2 * r.verify_s));
  c.scale_down_delay = std::chrono::seconds(r.scale_down_delay_s);
  c.judge = judge_config(r, 0.005, 200);
  return c;
}

control::CanaryConfig canary_config(const DeployRequest& r) {
  control::CanaryConfig c;
  c.steps = r.steps;
  c.step_duration = std::chrono::seconds(r.step_interval_s);
  c.readiness_timeout = std::chrono::seconds(r.timeout_s);
  c.ready_stability = std::chrono::seconds(r.ready_stability_s);
  c.max_inconclusive_extension = std::chrono::seconds(std::max(10, 2 * r.step_interval_s));
  c.judge = judge_config(r, 0.01, 500);
  return c;
}

json::object traffic_json(const TrackTraffic& t) {
  json::object o;
  for (const auto& [track, s] : t.tracks) {
    json::array bounds, counts;
    for (double b : s.bounds) bounds.emplace_back(b);
    for (auto c : s.counts) counts.emplace_back(c);
    o[track] = json::object{{"requests", s.requests},
                            {"errors", s.errors},
                            {"bounds", std::move(bounds)},
                            {"counts", std::move(counts)}};
  }
  return o;
}

TrackTraffic traffic_from_json(const json::value& v) {
  TrackTraffic t;
  if (!v.is_object()) return t;
  for (const auto& [track, s] : v.as_object()) {
    if (!s.is_object()) continue;
    control::TrafficSample sample;
    const auto& o = s.as_object();
    if (auto* r = o.if_contains("requests")) sample.requests = r->to_number<std::uint64_t>();
    if (auto* e = o.if_contains("errors")) sample.errors = e->to_number<std::uint64_t>();
    if (auto* b = o.if_contains("bounds"); b && b->is_array()) {
      for (const auto& x : b->as_array()) sample.bounds.push_back(x.to_number<double>());
    }
    if (auto* c = o.if_contains("counts"); c && c->is_array()) {
      for (const auto& x : c->as_array()) sample.counts.push_back(x.to_number<std::uint64_t>());
    }
    t.tracks[std::string(track)] = std::move(sample);
  }
  return t;
}

json::object evidence_json(const control::Verdict& v) {
  json::object o;
  o["outcome"] = control::outcome_name(v.outcome);
  o["reason"] = v.reason;
  json::object numbers;
  for (const auto& [k, x] : v.evidence) numbers[k] = x;
  o["numbers"] = std::move(numbers);
  return o;
}

json::object state_json(const control::StateMap& map) {
  json::object o;
  for (const auto& [k, v] : map) o[k] = v;
  return o;
}

control::StateMap state_map(const std::string& text) {
  control::StateMap out;
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return out;
  for (const auto& [k, x] : v.as_object()) {
    if (x.is_string()) out[std::string(k)] = std::string(x.as_string());
  }
  return out;
}

// The integer at `key` (absent: `fallback`); kInvalidArgument when it is not an integer that
// fits an int.
Result<int> int_field(const json::object& o, const char* key, int fallback) {
  auto* v = o.if_contains(key);
  if (v == nullptr) return fallback;
  if (!v->is_int64() || v->as_int64() < -1000000000 || v->as_int64() > 1000000000) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(key) + " must be an integer, got " + json_text(*v));
  }
  return static_cast<int>(v->as_int64());
}

}  // namespace

Result<DeployRequest> deploy_request_from_json(const json::object& o) {
  DeployRequest r;
  auto str = [&](const char* key) -> std::string {
    auto* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  auto num = [&](const char* key, double fallback) -> double {
    auto* v = o.if_contains(key);
    return v != nullptr && v->is_number() ? v->to_number<double>() : fallback;
  };
  auto bad = [](const std::string& m) { return make_error(ErrorCode::kInvalidArgument, m); };
  r.strategy = str("strategy");
  if (r.strategy != "blue-green" && r.strategy != "canary") {
    return bad("strategy must be blue-green or canary, got '" + r.strategy + "'");
  }
  auto release = release_from_image(str("release"));
  if (!release) return release.error();
  r.release = *release;
  for (auto [key, field] : {std::pair<const char*, int*>{"timeout_s", &r.timeout_s},
                            {"verify_s", &r.verify_s},
                            {"scale_down_delay_s", &r.scale_down_delay_s},
                            {"step_interval_s", &r.step_interval_s},
                            {"ready_stability_s", &r.ready_stability_s},
                            {"min_requests", &r.min_requests},
                            {"canary_replicas", &r.canary_replicas}}) {
    auto value = int_field(o, key, *field);
    if (!value) return value.error();
    *field = *value;
  }
  for (const char* key : {"max_error_rate", "max_p95_ms"}) {
    if (auto* v = o.if_contains(key); v != nullptr && !v->is_number()) {
      return bad(std::string(key) + " must be a number, got " + json_text(*v));
    }
  }
  r.max_error_rate = num("max_error_rate", r.max_error_rate);
  r.max_p95_ms = num("max_p95_ms", r.max_p95_ms);
  if (auto* s = o.if_contains("steps"); s != nullptr) {
    if (!s->is_array()) return bad("steps must be an array of integers");
    r.steps.clear();
    for (const auto& x : s->as_array()) {
      if (!x.is_int64() || x.as_int64() < 1 || x.as_int64() > 100) {
        return bad("--steps: each step must be an integer weight 1..100, got " + json_text(x));
      }
      r.steps.push_back(static_cast<int>(x.as_int64()));
    }
  }
  if (r.timeout_s < 1 || r.timeout_s > 86400) return bad("--timeout must be 1..86400 seconds");
  if (r.verify_s < 1 || r.verify_s > 86400) return bad("--verify must be 1..86400 seconds");
  if (r.scale_down_delay_s < 0 || r.scale_down_delay_s > 86400) {
    return bad("--scale-down-delay must be 0..86400 seconds");
  }
  if (r.step_interval_s < 1 || r.step_interval_s > 86400) {
    return bad("--step-interval must be 1..86400 seconds");
  }
  if (r.ready_stability_s < 0 || r.ready_stability_s > 3600) {
    return bad("--ready-stability must be 0..3600 seconds");
  }
  if (r.min_requests < 1 || r.min_requests > 1000000)
    return bad("--min-requests must be 1..1000000");
  if (r.canary_replicas < 1 || r.canary_replicas > 50)
    return bad("--canary-replicas must be 1..50");
  if (r.max_error_rate >= 0 && (r.max_error_rate <= 0 || r.max_error_rate >= 0.5)) {
    return bad("--max-error-rate must be in (0, 0.5), e.g. 0.01 for 1 %");
  }
  if (r.max_p95_ms >= 0 && (r.max_p95_ms < 1 || r.max_p95_ms > 600000)) {
    return bad("--max-p95-ms must be 1..600000");
  }
  if (r.strategy == "canary") {
    if (auto st = control::validate(canary_config(r)); !st) return st.error();
  }
  return r;
}

json::object to_json(const DeployRequest& r) {
  json::array steps;
  for (int s : r.steps) steps.emplace_back(s);
  return {{"strategy", r.strategy},
          {"release", r.release},
          {"timeout_s", r.timeout_s},
          {"verify_s", r.verify_s},
          {"scale_down_delay_s", r.scale_down_delay_s},
          {"step_interval_s", r.step_interval_s},
          {"steps", std::move(steps)},
          {"max_error_rate", r.max_error_rate},
          {"max_p95_ms", r.max_p95_ms},
          {"ready_stability_s", r.ready_stability_s},
          {"min_requests", r.min_requests},
          {"canary_replicas", r.canary_replicas}};
}

Result<std::int64_t> LocalPlatform::deploy(const DeployRequest& request) {
  std::lock_guard lock(mu_);
  if (auto r = resolve(request.release); !r) return r.error();
  const auto active = replicas_->target(active_);
  const std::string from = active ? active->release : "";
  const bool warm = rollout_ && rollout_->blue_green &&
                    rollout_->blue_green->state().phase == control::BlueGreenPhase::kScaleDownDelay;
  if (rollout_ && !warm) {
    return make_error(ErrorCode::kConflict, "deployment " + std::to_string(rollout_->record.id) +
                                                " (" + rollout_->record.strategy + " of " +
                                                rollout_->record.to_release +
                                                ") is in progress; wait for it or run sgctl abort");
  }
  if (from == request.release) {
    return make_error(ErrorCode::kConflict, "release " + request.release + " is already active");
  }
  if (!gateway_) {
    return make_error(ErrorCode::kUnavailable, "the gateway is not running yet; try again");
  }
  if (warm) {
    // The previous blue-green rollout was verified; its warm colour goes now.
    const auto old = control::colour_name(rollout_->blue_green->state().active);
    if (auto t = replicas_->target(old)) replicas_->set_target(old, {t->release, 0});
    finish_rollout(control::RolloutResult::kPromoted,
                   "verified; old colour scaled down early for a new deployment");
  }
  auto baseline = gateway_->traffic();
  if (!baseline) return baseline.error();

  auto r = std::make_unique<Rollout>();
  r->request = request;
  r->baseline = std::move(*baseline);
  r->record.strategy = request.strategy;
  r->record.from_release = from;
  r->record.to_release = request.release;
  r->record.result = "in_progress";
  r->record.started_ms = unix_ms_now();
  r->record.options = json_text(to_json(request));
  r->record.journal = "[]";
  r->phase = "starting";
  if (request.strategy == "blue-green") {
    r->blue_green.emplace(blue_green_config(request), colour_of(active_), request.release,
                          stable_replicas_);
  } else {
    r->canary.emplace(canary_config(request), request.release, request.canary_replicas);
  }
  auto id = store_->insert_deployment(r->record);
  if (!id) return id.error();
  r->record.id = *id;
  (void)store_->set_setting("rollout_baseline", json_text(traffic_json(r->baseline)));
  rollout_ = std::move(r);
  persist_rollout();
  event("rollout", "deployment " + std::to_string(*id) + ": " + request.strategy + " " + from +
                       " -> " + request.release + " started");
  return *id;
}

Status LocalPlatform::resume_rollout() {
  auto open = store_->open_deployment();
  if (!open) return open.status();
  if (!*open) return Status::ok();
  auto r = std::make_unique<Rollout>();
  r->record = **open;
  boost::system::error_code ec;
  auto options = json::parse(r->record.options, ec);
  auto baseline = store_->setting("rollout_baseline");
  std::string problem;
  if (ec || !options.is_object()) problem = "its options are unreadable";
  if (problem.empty()) {
    if (auto req = deploy_request_from_json(options.as_object())) {
      r->request = *req;
    } else {
      problem = req.error().message;
    }
  }
  if (problem.empty() && baseline && *baseline) {
    r->baseline = traffic_from_json(json::parse(**baseline, ec));
  }
  const control::StateMap map = state_map(r->record.state);
  try {
    if (problem.empty() && r->request.strategy == "blue-green") {
      if (auto st = control::blue_green_state_from_map(map)) {
        r->blue_green.emplace(blue_green_config(r->request), *st);
      } else {
        problem = st.error().message;
      }
    } else if (problem.empty()) {
      if (auto st = control::canary_state_from_map(map)) {
        r->canary.emplace(canary_config(r->request), *st);
      } else {
        problem = st.error().message;
      }
    }
  } catch (const std::exception& e) {  // a state that contradicts its options
    problem = e.what();
  }
  boost::system::error_code jec;
  auto journal = json::parse(r->record.journal, jec);
  if (!jec && journal.is_array()) r->journal = journal.as_array();
  rollout_ = std::move(r);
  if (!problem.empty()) {
    // Fail safe: all traffic back on the colour that runs the release from before the
    // rollout, the canary and any colour of the new release scaled to zero.
    for (const char* colour : {"blue", "green"}) {
      auto t = replicas_->target(colour);
      if (t && t->replicas > 0 && t->release == rollout_->record.from_release) active_ = colour;
    }
    weights_ = {{active_, 100}};
    if (auto c = replicas_->target("canary")) replicas_->set_target("canary", {c->release, 0});
    save_settings();
    finish_rollout(control::RolloutResult::kRolledBack,
                   "control plane restarted and could not resume: " + problem);
    return Status::ok();
  }
  event("rollout", "resuming deployment " + std::to_string(rollout_->record.id) + " (" +
                       rollout_->record.strategy + " -> " + rollout_->record.to_release + ")");
  return Status::ok();
}

std::optional<std::string> LocalPlatform::smoke_version(const std::string& track) {
  for (const auto& r : replicas_->replicas()) {
    if (r.track != track || r.phase != ReplicaPhase::kReady) continue;
    auto reply =
        http::blocking_call("127.0.0.1", r.port, {.target = "/api/v1/health", .timeout = 1000ms});
    if (reply.status != 200) continue;
    boost::system::error_code ec;
    auto v = json::parse(reply.body, ec);
    if (ec || !v.is_object()) continue;
    if (auto* version = v.as_object().if_contains("version"); version && version->is_string()) {
      return std::string(version->as_string());
    }
  }
  return std::nullopt;
}

bool LocalPlatform::execute(const control::Action& action, Clock::time_point now) {
  Rollout& ro = *rollout_;
  bool done = true;
  std::visit(
      [&](const auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, control::StartNewColour>) {
          replicas_->set_target(control::colour_name(a.colour), {a.release, a.replicas});
        } else if constexpr (std::is_same_v<T, control::SwitchRoute> ||
                             std::is_same_v<T, control::SwitchBack>) {
          active_ = control::colour_name(a.to);
          weights_ = {{active_, 100}};
        } else if constexpr (std::is_same_v<T, control::ScaleDown>) {
          const std::string c = control::colour_name(a.colour);
          if (auto t = replicas_->target(c)) replicas_->set_target(c, {t->release, 0});
        } else if constexpr (std::is_same_v<T, control::StartCanary>) {
          replicas_->set_target("canary", {a.release, a.replicas});
        } else if constexpr (std::is_same_v<T, control::SetWeights>) {
          weights_.clear();
          if (a.stable > 0) weights_[active_] = a.stable;
          if (a.canary > 0) weights_["canary"] = a.canary;
        } else if constexpr (std::is_same_v<T, control::ScaleCanary>) {
          if (auto t = replicas_->target("canary"))
            replicas_->set_target("canary", {t->release, a.replicas});
        } else if constexpr (std::is_same_v<T, control::UpdateStable>) {
          auto current = replicas_->target(active_);
          if (current && current->release == a.release) return;  // already done
          const std::string idle = active_ == "blue" ? "green" : "blue";
          if (!ro.update_deadline) {
            replicas_->set_target(idle, {a.release, stable_replicas_});
            ro.update_deadline = now + std::chrono::seconds(ro.request.timeout_s);
            event("rollout", "promoting: starting " + std::to_string(stable_replicas_) + " " +
                                 a.release + " replicas on " + idle);
            done = false;
            return;
          }
          const auto wanted = replicas_->target(idle);
          const int need = wanted ? std::max(1, wanted->replicas) : stable_replicas_;
          if (replicas_->ready_count(idle, a.release) < need) {
            if (now > *ro.update_deadline) {
              ro.promotion_failure = std::to_string(need) + " " + idle + " replicas of " +
                                     a.release + " not ready within " +
                                     std::to_string(ro.request.timeout_s) + " s";
            }
            done = false;
            return;
          }
          // One route change moves the stable share to the new colour.
          const auto w = weights_.find(active_);
          const int share = w == weights_.end() ? 0 : w->second;
          weights_.erase(active_);
          if (share > 0) weights_[idle] = share;
          const std::string old = active_;
          active_ = idle;
          if (current) replicas_->set_target(old, {current->release, 0});
          ro.update_deadline.reset();
        }
      },
      action);
  save_settings();
  return done;
}

void LocalPlatform::journal(const std::string& phase, const std::string& reason,
                            const std::vector<control::Action>& actions,
                            const control::Verdict& evidence) {
  json::array acts;
  for (const auto& a : actions) acts.emplace_back(control::describe(a));
  auto& j = rollout_->journal;
  j.push_back(json::object{{"ts", iso8601_utc(unix_ms_now())},
                           {"phase", phase},
                           {"reason", reason},
                           {"actions", std::move(acts)},
                           {"verdict", evidence_json(evidence)}});
  if (j.size() > 500) j.erase(j.begin());
  std::string line =
      "deployment " + std::to_string(rollout_->record.id) + " [" + phase + "] " + reason;
  for (const auto& a : actions) line += "; " + control::describe(a);
  event("rollout", line);
}

namespace {

// The machine's state as JSON, or `fallback` when there is no machine (unreadable state).
std::string machine_state(const std::optional<control::BlueGreenRollout>& bg,
                          const std::optional<control::CanaryRollout>& canary,
                          const std::string& fallback) {
  if (bg) return json_text(state_json(control::to_map(bg->state())));
  if (canary) return json_text(state_json(control::to_map(canary->state())));
  return fallback;
}

}  // namespace

void LocalPlatform::persist_rollout() {
  Rollout& ro = *rollout_;
  ro.record.state = machine_state(ro.blue_green, ro.canary, ro.record.state);
  ro.record.evidence = json_text(evidence_json(ro.verdict));
  ro.record.journal = json_text(ro.journal);
  const std::string key = ro.record.state + std::to_string(ro.journal.size());
  if (key == ro.persisted_state && !ro.finished) return;
  ro.persisted_state = key;
  (void)store_->update_deployment(ro.record);
}

void LocalPlatform::on_gateway_restarted() {
  if (!rollout_) return;
  rollout_->baseline = TrackTraffic{};
  (void)store_->set_setting("rollout_baseline", "{}");
  event("rollout", "gateway restarted: the rollout's measurements start again from zero");
}

void LocalPlatform::finish_rollout(control::RolloutResult result, const std::string& reason) {
  Rollout& ro = *rollout_;
  ro.finished = true;
  ro.record.result = control::result_name(result);
  ro.record.reason = reason;
  ro.record.finished_ms = unix_ms_now();
  ro.record.state = machine_state(ro.blue_green, ro.canary, ro.record.state);
  if (result != control::RolloutResult::kPromoted) {
    // Safety net: no replica of the refused release stays up on a colour without traffic
    // (e.g. a promotion's new stable when the rollout resumed and then rolled back).
    for (const char* colour : {"blue", "green"}) {
      auto t = replicas_->target(colour);
      if (colour != active_ && t && t->release == ro.record.to_release && t->replicas > 0) {
        replicas_->set_target(colour, {t->release, 0});
      }
    }
    save_settings();
  }
  ro.record.evidence = json_text(evidence_json(ro.verdict));
  ro.record.journal = json_text(ro.journal);
  (void)store_->update_deployment(ro.record);
  event("rollout",
        "deployment " + std::to_string(ro.record.id) + " " + ro.record.result + ": " + reason);
  rollout_.reset();
}

void LocalPlatform::step_rollout(Clock::time_point now) {
  if (!rollout_) return;
  Rollout& ro = *rollout_;
  auto drain = [&] {
    while (!ro.pending.empty()) {
      if (!execute(ro.pending.front(), now)) return false;
      ro.pending.pop_front();
    }
    return true;
  };
  if (!drain()) {
    if (!ro.promotion_failure.empty()) {
      // The new stable never became ready: everything back to the old stable.
      ro.pending.clear();
      weights_ = {{active_, 100}};
      if (auto c = replicas_->target("canary")) replicas_->set_target("canary", {c->release, 0});
      save_settings();
      finish_rollout(control::RolloutResult::kRolledBack,
                     "promotion failed: " + ro.promotion_failure + "; stable keeps serving");
    }
    return;
  }
  if (ro.finished) {
    finish_rollout(ro.result, ro.final_reason);
    return;
  }
  persist_rollout();

  const TrackTraffic empty;
  const TrackTraffic& current = traffic_.empty() ? empty : traffic_.back().second;
  auto take = [&](const auto& d, const std::string& phase, std::size_t step) {
    // Journal what changes a decision, not every look: the reason's counts change each tick.
    const bool changed = phase != ro.phase || step != ro.step_index ||
                         d.evidence.outcome != ro.verdict.outcome || !d.actions.empty() ||
                         d.finished;
    ro.phase = phase;
    ro.reason = d.reason;
    ro.verdict = d.evidence;
    ro.elapsed_s = std::chrono::duration<double>(d.elapsed).count();
    if (changed) journal(phase, d.reason, d.actions, d.evidence);
    for (const auto& a : d.actions) ro.pending.push_back(a);
    if (d.finished) {
      ro.finished = true;
      ro.result = d.result;
      ro.final_reason = d.reason;
    }
  };
  if (ro.blue_green) {
    const auto& st = ro.blue_green->state();
    const std::string fresh = control::colour_name(control::other(st.active));
    control::BlueGreenObservation obs;
    const auto target = replicas_->target(fresh);
    obs.desired_replicas = target && target->release == st.release ? target->replicas : 0;
    obs.ready_replicas = replicas_->ready_count(fresh, st.release);
    if (st.phase == control::BlueGreenPhase::kSmokeTest) obs.smoke_version = smoke_version(fresh);
    obs.new_colour = current.since(ro.baseline, fresh);
    const auto d = ro.blue_green->step(obs, now);
    take(d, control::phase_name(d.phase), 0);
  } else {
    const auto& st = ro.canary->state();
    control::CanaryObservation obs;
    const auto target = replicas_->target("canary");
    obs.desired_replicas = target && target->release == st.release ? target->replicas : 0;
    obs.ready_replicas = replicas_->ready_count("canary", st.release);
    obs.canary = current.since(ro.baseline, "canary");
    obs.stable = current.since(ro.baseline, active_);
    const auto d = ro.canary->step(obs, now);
    take(d, control::phase_name(d.phase), d.step_index);
    ro.step_index = d.step_index;
    ro.canary_weight = d.canary_weight;
    ro.step_elapsed_s = std::chrono::duration<double>(d.step_elapsed).count();
  }
  if (!drain()) return;
  if (ro.finished) finish_rollout(ro.result, ro.final_reason);
}

template <class Decision>
Status LocalPlatform::apply_manual(const Decision& d, Clock::time_point now) {
  Rollout& ro = *rollout_;
  if (!d.finished && d.actions.empty()) {
    // The machine ignored the command in this phase (e.g. abort while promoting).
    return make_error(ErrorCode::kConflict, d.reason);
  }
  journal(control::phase_name(d.phase), d.reason, d.actions, d.evidence);
  for (const auto& a : d.actions) ro.pending.push_back(a);
  if (d.finished) {
    ro.finished = true;
    ro.result = d.result;
    ro.final_reason = d.reason;
  }
  step_rollout(now);  // carries the actions out now
  sync_gateway();     // and the route changes, before any replica is drained
  return Status::ok();
}

Result<RollbackStarted> LocalPlatform::rollback() {
  std::unique_lock lock(mu_);
  if (rollout_) {
    const auto now = Clock::now();
    const std::int64_t id = rollout_->record.id;
    Status st = rollout_->blue_green
                    ? apply_manual(rollout_->blue_green->rollback(now), now)
                    : apply_manual(rollout_->canary->abort(now, "rolled back by operator"), now);
    if (!st) return st.error();
    return RollbackStarted{id, true};
  }
  auto history = store_->deployments(20);
  if (!history) return history.error();
  for (const auto& d : *history) {
    if (d.result != "promoted") continue;
    boost::system::error_code ec;
    auto options = json::parse(d.options, ec);
    DeployRequest req;
    if (!ec && options.is_object()) {
      if (auto r = deploy_request_from_json(options.as_object())) req = *r;
    }
    req.strategy = "blue-green";
    req.release = d.from_release;
    lock.unlock();
    auto id = deploy(req);
    if (!id) return id.error();
    return RollbackStarted{*id, false};
  }
  return make_error(ErrorCode::kConflict,
                    "nothing to roll back: no rollout in progress and no promoted deployment "
                    "in the history");
}

Status LocalPlatform::promote() {
  std::lock_guard lock(mu_);
  if (!rollout_) return make_error(ErrorCode::kConflict, "no rollout in progress");
  Rollout& ro = *rollout_;
  const auto now = Clock::now();
  if (ro.canary) {
    const auto d = ro.canary->promote(now);
    if (d.phase != control::CanaryPhase::kPromoting) {
      return make_error(ErrorCode::kConflict, d.reason);
    }
    return apply_manual(d, now);
  }
  const auto& st = ro.blue_green->state();
  if (st.phase != control::BlueGreenPhase::kScaleDownDelay) {
    return make_error(ErrorCode::kConflict,
                      std::string("blue-green can be promoted only after verification (phase "
                                  "scale_down_delay); now: ") +
                          control::phase_name(st.phase));
  }
  ro.pending.push_back(control::ScaleDown{st.active});
  ro.finished = true;
  ro.result = control::RolloutResult::kPromoted;
  ro.final_reason = "promoted by operator: old colour scaled down before its delay ended";
  step_rollout(now);
  sync_gateway();
  return Status::ok();
}

Status LocalPlatform::abort() {
  std::lock_guard lock(mu_);
  if (!rollout_) return make_error(ErrorCode::kConflict, "no rollout in progress");
  const auto now = Clock::now();
  return rollout_->canary ? apply_manual(rollout_->canary->abort(now), now)
                          : apply_manual(rollout_->blue_green->abort(now), now);
}

json::value LocalPlatform::rollout_json() const {
  if (!rollout_) return nullptr;
  const Rollout& ro = *rollout_;
  json::object o;
  o["id"] = ro.record.id;
  o["strategy"] = ro.record.strategy;
  o["from"] = ro.record.from_release;
  o["to"] = ro.record.to_release;
  o["phase"] = ro.phase;
  o["reason"] = ro.reason;
  o["elapsed_s"] = ro.elapsed_s;
  o["verdict"] = evidence_json(ro.verdict);
  if (ro.canary) {
    o["step"] = static_cast<std::int64_t>(ro.step_index + 1);
    o["steps"] = static_cast<std::int64_t>(ro.request.steps.size());
    o["canary_weight"] = ro.canary_weight;
    o["step_elapsed_s"] = ro.step_elapsed_s;
  }
  // A blue-green rollout serves the new colour once verified; the old one stays warm.
  o["serving_new"] =
      ro.blue_green && (ro.blue_green->state().phase == control::BlueGreenPhase::kScaleDownDelay ||
                        ro.blue_green->state().phase == control::BlueGreenPhase::kDone);
  return o;
}

Result<json::object> LocalPlatform::deployment(std::int64_t id) {
  std::lock_guard lock(mu_);
  auto d = store_->deployment(id);
  if (!d) return d.error();
  if (!*d) return make_error(ErrorCode::kNotFound, "no deployment " + std::to_string(id));
  json::object o;
  o["id"] = (*d)->id;
  o["strategy"] = (*d)->strategy;
  o["from"] = (*d)->from_release;
  o["to"] = (*d)->to_release;
  o["result"] = (*d)->result;
  o["reason"] = (*d)->reason;
  o["started"] = iso8601_utc((*d)->started_ms);
  o["finished"] = (*d)->finished_ms > 0 ? json::value(iso8601_utc((*d)->finished_ms)) : nullptr;
  if (rollout_ && rollout_->record.id == id) o["live"] = rollout_json();
  return o;
}

}  // namespace sg::platform
