// The engine's autoscaling: the operator's command, the persisted spec, and the step that
// runs every tick (observe) and every sync period (evaluate each autoscaled track and
// recommend its count to ReplicaTargets).
#include <boost/json.hpp>
#include <cmath>
#include <set>

#include "common/json_text.hpp"
#include "platform/engine/engine.hpp"
#include "platform/hpa_json.hpp"

namespace sg::platform {
namespace json = boost::json;

namespace {

constexpr const char* kSetting = "autoscaler";

std::string spec_summary(const control::HpaSpec& s) {
  std::string out = "min " + std::to_string(s.min_replicas) + ", max " +
                    std::to_string(s.max_replicas) + ", targets";
  for (const auto& m : s.metrics) {
    out += std::string(" ") + control::hpa_metric_name(m.metric) + " ";
    out += m.metric == control::HpaMetric::kCpu
               ? std::to_string(m.target) + "% of " + std::to_string(s.cpu_request_millicores) + "m"
               : json_text(json::value(static_cast<double>(m.target) / 1000.0));
  }
  return out + ", sync period " + std::to_string(s.sync_period.count()) +
         " s, scale-down window " +
         std::to_string(s.behavior.scale_down.stabilization_window_seconds) + " s";
}

}  // namespace

Status Engine::load_autoscaler() {
  auto text = store_.setting(kSetting);
  if (!text) return text.status();
  if (!*text || **text == "null") return Status::ok();
  boost::system::error_code ec;
  const json::value v = json::parse(**text, ec);
  auto spec = ec ? Result<control::HpaSpec>(make_error(ErrorCode::kInvalidArgument, "not JSON"))
                 : hpa_spec_from_json(v);
  if (!spec) {
    event("autoscaler", "the stored autoscaler spec is unusable (" + spec.error().message +
                            "); autoscaling is off until sgctl autoscale sets it again");
    return Status::ok();
  }
  autoscaler_ = std::make_unique<AutoscalerLoop>(*spec, clock_.steady());
  event("autoscaler", "autoscaling on (restored): " + spec_summary(*spec));
  return Status::ok();
}

Status Engine::autoscale(std::optional<control::HpaSpec> spec) {
  if (spec) {
    if (Status st = control::validate(*spec); !st) return st;
  }
  std::lock_guard lock(mu_);
  if (targets_.stable_release().empty()) {
    return make_error(ErrorCode::kConflict, "no active track to autoscale");
  }
  if (!spec) {
    if (!autoscaler_) return Status::ok();
    const int keep = targets_.effective(routes_.active).replicas;
    record(targets_.set_operator_replicas(keep, "sgctl autoscale off: the current count stays"));
    const auto recommendations = targets_.state().recommendations;
    for (const auto& [track, n] : recommendations) {
      record(targets_.recommend(track, std::nullopt, "sgctl autoscale off"));
    }
    autoscaler_.reset();
    autoscaler_problems_.clear();
    (void)store_.set_setting(kSetting, "null");
    save_settings();
    event("autoscaler", "autoscaling off; " + routes_.active + " stays at " +
                            std::to_string(keep) + " replicas (sgctl scale sets it)");
    return Status::ok();
  }
  if (autoscaler_) {
    autoscaler_->set_spec(*spec);
  } else {
    autoscaler_ = std::make_unique<AutoscalerLoop>(*spec, clock_.steady());
  }
  (void)store_.set_setting(kSetting, json_text(to_json(*spec)));
  event("autoscaler", "autoscaling on: " + spec_summary(*spec));
  return Status::ok();
}

int Engine::weight_floor(const std::string& track) const {
  const auto claim = targets_.claim_of(track);
  int floor = claim ? claim->target.replicas : 0;
  if (track != "canary") return floor;
  // The canary keeps at least the stable track's replicas per weight point: a canary at 50 %
  // next to 4 stable replicas at 50 % needs 4.
  const auto c = routes_.weights.find("canary");
  const auto s = routes_.weights.find(routes_.active);
  if (c == routes_.weights.end() || c->second <= 0) return floor;
  const int stable = targets_.effective(routes_.active).replicas;
  if (s == routes_.weights.end() || s->second <= 0) return std::max(floor, stable);
  const int needed = static_cast<int>(
      std::ceil(static_cast<double>(stable) * c->second / static_cast<double>(s->second)));
  return std::max(floor, needed);
}

void Engine::autoscale_step(control::TimePoint now) {
  if (!autoscaler_) return;
  const auto steady = clock_.steady();
  autoscaler_->observe(replicas_, backend_.endpoint_load(), steady, now);
  if (!autoscaler_->due(steady)) return;
  autoscaler_->evaluated(steady);
  std::set<std::string> evaluated;
  auto run = [&](const std::string& track, std::optional<int> floor) {
    const control::TrackTarget target = targets_.effective(track);
    if (target.release.empty() || target.replicas <= 0) return;
    evaluated.insert(track);
    const control::HpaRecord r =
        autoscaler_->evaluate(track, target.release, target.replicas, floor, now);
    const std::string why = "HPA: " + r.reason + " (" + describe_metrics(r) + ")";
    if (r.rescale) {
      event("autoscaler", track + " (" + target.release + "): New size: " +
                              std::to_string(r.desired_replicas) + "; reason: " + r.reason +
                              " (" + describe_metrics(r) + ")");
    }
    for (const auto& c : r.conditions) {
      if (c.type != "ScalingActive") continue;
      std::string& reported = autoscaler_problems_[track];
      const std::string now_problem = c.status ? "" : c.reason + ": " + c.message;
      if (now_problem != reported && !now_problem.empty()) {
        event("autoscaler", track + " (" + target.release + "): " + now_problem);
      }
      reported = now_problem;
    }
    record(targets_.recommend(track, r.desired_replicas, why));
  };
  if (!targets_.claim_of(routes_.active)) run(routes_.active, std::nullopt);
  for (const auto& [track, claim] : targets_.state().claims) {
    if (claim.autoscalable && claim.target.replicas > 0 && track != routes_.active) {
      run(track, weight_floor(track));
    }
  }
  for (const auto& track : autoscaler_->tracks()) {
    if (evaluated.count(track) == 0) autoscaler_->forget(track);
  }
  const auto recommendations = targets_.state().recommendations;
  for (const auto& [track, n] : recommendations) {
    if (evaluated.count(track) == 0) {
      record(targets_.recommend(track, std::nullopt, "the track is not autoscaled now"));
    }
  }
}

}  // namespace sg::platform
