// The engine's persisted desired state: routes and replica targets, in the settings table
// under "platform" (JSON). Also reads the format of earlier versions (active colour,
// stable_replicas, per-track targets) so an existing state dir keeps serving.
#include <boost/json.hpp>

#include "common/json_text.hpp"
#include "platform/engine/engine.hpp"

namespace sg::platform {
namespace json = boost::json;

namespace {

constexpr const char* kTracks[] = {"blue", "green", "canary"};

int int_of(const json::value* v, int fallback) {
  return v != nullptr && v->is_int64() ? static_cast<int>(v->as_int64()) : fallback;
}
std::string text_of(const json::value* v) {
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

control::ReplicaTargetsState targets_from(const json::object& t) {
  control::ReplicaTargetsState s;
  s.stable_track = text_of(t.if_contains("stable_track"));
  s.stable_release = text_of(t.if_contains("stable_release"));
  s.operator_replicas = int_of(t.if_contains("operator_replicas"), 2);
  if (const auto* claims = t.if_contains("claims"); claims && claims->is_object()) {
    for (const auto& [k, c] : claims->as_object()) {
      if (!c.is_object()) continue;
      const auto& o = c.as_object();
      const auto* scalable = o.if_contains("autoscalable");
      s.claims[std::string(k)] = {{text_of(o.if_contains("release")),
                                   int_of(o.if_contains("replicas"), 0)},
                                  scalable != nullptr && scalable->is_bool() && scalable->as_bool()};
    }
  }
  if (const auto* recs = t.if_contains("recommendations"); recs && recs->is_object()) {
    for (const auto& [k, n] : recs->as_object()) s.recommendations[std::string(k)] = int_of(&n, 0);
  }
  if (const auto* last = t.if_contains("last_release"); last && last->is_object()) {
    for (const auto& [k, n] : last->as_object()) s.last_release[std::string(k)] = text_of(&n);
  }
  if (const auto* moved = t.if_contains("move_sessions"); moved && moved->is_array()) {
    for (const auto& n : moved->as_array()) {
      if (n.is_string()) s.move_sessions.insert(std::string(n.as_string()));
    }
  }
  return s;
}

// Before version 2: {"active", "stable_replicas", "weights", "targets": {track: {release,
// replicas}}}; a non-active track with replicas was a rollout's, so it becomes a claim.
control::ReplicaTargetsState targets_from_v1(const json::object& o, const std::string& active) {
  control::ReplicaTargetsState s;
  s.stable_track = active;
  s.operator_replicas = int_of(o.if_contains("stable_replicas"), 2);
  if (const auto* t = o.if_contains("targets"); t && t->is_object()) {
    for (const auto& [k, n] : t->as_object()) {
      if (!n.is_object()) continue;
      const std::string track(k);
      const std::string release = text_of(n.as_object().if_contains("release"));
      const int replicas = int_of(n.as_object().if_contains("replicas"), 0);
      if (track == active) {
        s.stable_release = release;
      } else if (replicas > 0) {
        s.claims[track] = {{release, replicas}, false};
      } else if (!release.empty()) {
        s.last_release[track] = release;
      }
    }
  }
  return s;
}

}  // namespace

Status Engine::load_settings() {
  auto text = store_.setting("platform");
  if (!text) return text.status();
  if (!*text) {
    const std::string release = opts_.initial_release;
    if (opts_.check_release) {
      if (Status st = opts_.check_release(release); !st) return st;
    }
    if (opts_.initial_replicas < 1 || opts_.initial_replicas > 50) {
      return make_error(ErrorCode::kInvalidArgument, "--replicas must be 1..50");
    }
    routes_ = {"blue", {{"blue", 100}}};
    targets_ = control::ReplicaTargets(
        {.stable_track = "blue", .stable_release = release,
         .operator_replicas = opts_.initial_replicas});
    save_settings();
    return Status::ok();
  }
  boost::system::error_code ec;
  const json::value v = json::parse(**text, ec);
  if (ec || !v.is_object()) {
    return make_error(ErrorCode::kInternal,
                      "state: the platform settings in " + store_.file().string() +
                          " are not JSON; move the state dir away to start afresh");
  }
  const auto& o = v.as_object();
  routes_.active = text_of(o.if_contains("active"));
  if (routes_.active != "blue" && routes_.active != "green") routes_.active = "blue";
  routes_.weights.clear();
  if (const auto* w = o.if_contains("weights"); w && w->is_object()) {
    for (const auto& [k, n] : w->as_object()) {
      if (n.is_int64() && n.as_int64() > 0) routes_.weights[std::string(k)] = int_of(&n, 0);
    }
  }
  const auto* t = o.if_contains("targets");
  const bool v2 = int_of(o.if_contains("version"), 1) >= 2 && t != nullptr && t->is_object();
  targets_ = control::ReplicaTargets(v2 ? targets_from(t->as_object())
                                        : targets_from_v1(o, routes_.active));
  if (opts_.release_given && targets_.stable_release() != opts_.initial_release) {
    event("note", "--release " + opts_.initial_release + " ignored: this state dir already serves " +
                      targets_.stable_release() + " (use sgctl deploy to change it)");
  }
  return Status::ok();
}

void Engine::save_settings() {
  const auto& s = targets_.state();
  json::object claims, recs, last, weights;
  json::array moved;
  for (const auto& track : s.move_sessions) moved.emplace_back(track);
  for (const auto& [k, c] : s.claims) {
    claims[k] = json::object{{"release", c.target.release},
                             {"replicas", c.target.replicas},
                             {"autoscalable", c.autoscalable}};
  }
  for (const auto& [k, n] : s.recommendations) recs[k] = n;
  for (const auto& [k, r] : s.last_release) last[k] = r;
  for (const auto& [k, w] : routes_.weights) weights[k] = w;
  json::object o{{"version", 2},
                 {"active", routes_.active},
                 {"weights", std::move(weights)},
                 {"targets", json::object{{"stable_track", s.stable_track},
                                          {"stable_release", s.stable_release},
                                          {"operator_replicas", s.operator_replicas},
                                          {"claims", std::move(claims)},
                                          {"recommendations", std::move(recs)},
                                          {"last_release", std::move(last)},
                                          {"move_sessions", std::move(moved)}}}};
  (void)store_.set_setting("platform", json_text(o));
}

void Engine::push_desired() {
  const auto all = targets_.effective_all();
  for (const char* track : kTracks) {
    const auto it = all.find(track);
    backend_.set_track(track, it == all.end() ? control::TrackTarget{} : it->second);
  }
  backend_.set_weights(routes_.weights);
}

}  // namespace sg::platform
