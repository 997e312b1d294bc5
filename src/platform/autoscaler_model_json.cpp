// JSON codec of the autoscaler's view (autoscaler_model.hpp).
#include <boost/json.hpp>

#include "platform/autoscaler_model.hpp"
#include "platform/json_reader.hpp"

namespace sg::platform {
namespace json = boost::json;

namespace {

json::value opt(const std::optional<double>& v) { return v ? json::value(*v) : json::value(nullptr); }
json::value opt(const std::optional<int>& v) { return v ? json::value(*v) : json::value(nullptr); }
json::value opt(const std::optional<std::string>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}
std::optional<int> opt_int(JsonReader& r, const char* key) {
  auto v = r.optional_integer(key);
  return v ? std::optional<int>(static_cast<int>(*v)) : std::nullopt;
}

json::value to_json(const HpaMetricView& m) {
  return json::object{{"metric", m.metric},
                      {"target", m.target},
                      {"current", opt(m.current)},
                      {"current_average", opt(m.current_average)},
                      {"proposal", opt(m.proposal)},
                      {"ready", m.ready},
                      {"unready", m.unready},
                      {"missing", m.missing},
                      {"ignored", m.ignored},
                      {"recomputed", m.recomputed},
                      {"error", m.error}};
}

json::array to_json(const std::vector<HpaMetricView>& ms) {
  json::array out;
  for (const auto& m : ms) out.push_back(to_json(m));
  return out;
}

json::value to_json(const HpaEvaluationView& e) {
  return json::object{{"seq", e.seq},
                      {"at", e.at},
                      {"current_replicas", e.current_replicas},
                      {"min_replicas", e.min_replicas},
                      {"max_replicas", e.max_replicas},
                      {"metrics", to_json(e.metrics)},
                      {"metric_replicas", opt(e.metric_replicas)},
                      {"stabilized", opt(e.stabilized)},
                      {"desired_replicas", e.desired_replicas},
                      {"rescale", e.rescale},
                      {"reason", e.reason}};
}

json::value to_json(const HpaTrackView& t) {
  json::array conditions, recent;
  for (const auto& c : t.conditions) {
    conditions.push_back(json::object{
        {"type", c.type}, {"status", c.status}, {"reason", c.reason}, {"message", c.message}});
  }
  for (const auto& e : t.recent_evaluations) recent.push_back(to_json(e));
  json::value decision = nullptr;
  if (t.last_decision) {
    const HpaDecisionView& d = *t.last_decision;
    decision = json::object{{"at", d.at},
                            {"current_replicas", d.current_replicas},
                            {"desired_replicas", d.desired_replicas},
                            {"metric_replicas", opt(d.metric_replicas)},
                            {"stabilized", opt(d.stabilized)},
                            {"rescale", d.rescale},
                            {"reason", d.reason}};
  }
  return json::object{{"release", t.release},
                      {"min_replicas", t.min_replicas},
                      {"max_replicas", t.max_replicas},
                      {"current_replicas", t.current_replicas},
                      {"desired_replicas", t.desired_replicas},
                      {"ready_replicas", t.ready_replicas},
                      {"metrics", to_json(t.metrics)},
                      {"conditions", std::move(conditions)},
                      {"last_scale_time", opt(t.last_scale_time)},
                      {"last_evaluation", opt(t.last_evaluation)},
                      {"last_decision", std::move(decision)},
                      {"recent_evaluations", std::move(recent)}};
}

Result<HpaMetricView> metric_from_json(const json::value& v) {
  JsonReader r(v, "autoscaler metric");
  HpaMetricView m;
  m.metric = r.text("metric");
  m.target = r.number("target");
  m.current = r.optional_number("current");
  m.current_average = r.optional_number("current_average");
  m.proposal = opt_int(r, "proposal");
  m.ready = opt_int(r, "ready").value_or(0);
  m.unready = opt_int(r, "unready").value_or(0);
  m.missing = opt_int(r, "missing").value_or(0);
  m.ignored = opt_int(r, "ignored").value_or(0);
  if (r.field("recomputed", false) != nullptr) m.recomputed = r.boolean("recomputed");
  m.error = r.optional_text("error").value_or("");
  if (r.error()) return *r.error();
  return m;
}

Result<std::vector<HpaMetricView>> metrics_from_json(const json::value* ms) {
  std::vector<HpaMetricView> out;
  if (ms == nullptr || !ms->is_array()) return out;
  for (const auto& x : ms->as_array()) {
    auto m = metric_from_json(x);
    if (!m) return m.error();
    out.push_back(std::move(*m));
  }
  return out;
}

Result<HpaEvaluationView> evaluation_from_json(const json::value& v) {
  JsonReader r(v, "autoscaler evaluation");
  HpaEvaluationView e;
  e.seq = r.integer("seq");
  e.at = r.text("at");
  e.current_replicas = static_cast<int>(r.integer("current_replicas"));
  e.min_replicas = static_cast<int>(r.integer("min_replicas"));
  e.max_replicas = static_cast<int>(r.integer("max_replicas"));
  auto metrics = metrics_from_json(r.field("metrics", false));
  if (!metrics) return metrics.error();
  e.metrics = std::move(*metrics);
  e.metric_replicas = opt_int(r, "metric_replicas");
  e.stabilized = opt_int(r, "stabilized");
  e.desired_replicas = static_cast<int>(r.integer("desired_replicas"));
  e.rescale = r.boolean("rescale");
  e.reason = r.optional_text("reason").value_or("");
  if (r.error()) return *r.error();
  return e;
}

Result<HpaTrackView> track_from_json(const json::value& v) {
  JsonReader r(v, "autoscaler track");
  HpaTrackView t;
  t.release = r.optional_text("release").value_or("");
  t.min_replicas = static_cast<int>(r.integer("min_replicas"));
  t.max_replicas = static_cast<int>(r.integer("max_replicas"));
  t.current_replicas = static_cast<int>(r.integer("current_replicas"));
  t.desired_replicas = static_cast<int>(r.integer("desired_replicas"));
  t.ready_replicas = static_cast<int>(r.integer("ready_replicas"));
  auto metrics = metrics_from_json(r.field("metrics", false));
  if (!metrics) return metrics.error();
  t.metrics = std::move(*metrics);
  if (const json::value* cs = r.field("conditions", false); cs != nullptr && cs->is_array()) {
    for (const auto& x : cs->as_array()) {
      JsonReader cr(x, "autoscaler condition");
      HpaConditionView c{cr.text("type"), cr.boolean("status"), cr.text("reason"),
                         cr.optional_text("message").value_or("")};
      if (cr.error()) return *cr.error();
      t.conditions.push_back(std::move(c));
    }
  }
  t.last_scale_time = r.optional_text("last_scale_time");
  t.last_evaluation = r.optional_text("last_evaluation");
  if (const json::value* d = r.field("last_decision", false); d != nullptr && !d->is_null()) {
    JsonReader dr(*d, "last_decision");
    HpaDecisionView dv;
    dv.at = dr.text("at");
    dv.current_replicas = static_cast<int>(dr.integer("current_replicas"));
    dv.desired_replicas = static_cast<int>(dr.integer("desired_replicas"));
    dv.metric_replicas = opt_int(dr, "metric_replicas");
    dv.stabilized = opt_int(dr, "stabilized");
    dv.rescale = dr.boolean("rescale");
    dv.reason = dr.optional_text("reason").value_or("");
    if (dr.error()) return *dr.error();
    t.last_decision = std::move(dv);
  }
  if (const json::value* es = r.field("recent_evaluations", false); es != nullptr && es->is_array()) {
    for (const auto& x : es->as_array()) {
      auto e = evaluation_from_json(x);
      if (!e) return e.error();
      t.recent_evaluations.push_back(std::move(*e));
    }
  }
  if (r.error()) return *r.error();
  return t;
}

}  // namespace

json::value to_json(const AutoscalerView& v) {
  json::array targets;
  for (const auto& t : v.targets) targets.push_back(json::object{{"metric", t.metric}, {"target", t.target}});
  json::object tracks;
  for (const auto& [name, t] : v.tracks) tracks[name] = to_json(t);
  return json::object{{"min_replicas", v.min_replicas},
                      {"max_replicas", v.max_replicas},
                      {"cpu_request_millicores", v.cpu_request_millicores},
                      {"sync_period_s", v.sync_period_s},
                      {"tolerance", v.tolerance},
                      {"scale_up_window_s", v.scale_up_window_s},
                      {"scale_down_window_s", v.scale_down_window_s},
                      {"scale_up_select_policy", v.scale_up_select_policy},
                      {"scale_down_select_policy", v.scale_down_select_policy},
                      {"targets", std::move(targets)},
                      {"tracks", std::move(tracks)}};
}

Result<AutoscalerView> autoscaler_from_json(const json::value& v) {
  JsonReader r(v, "autoscaler");
  AutoscalerView out;
  out.min_replicas = static_cast<int>(r.integer("min_replicas"));
  out.max_replicas = static_cast<int>(r.integer("max_replicas"));
  out.cpu_request_millicores = r.number("cpu_request_millicores");
  out.sync_period_s = r.number("sync_period_s");
  out.tolerance = r.optional_number("tolerance").value_or(0.1);
  out.scale_up_window_s = opt_int(r, "scale_up_window_s").value_or(0);
  out.scale_down_window_s = opt_int(r, "scale_down_window_s").value_or(0);
  out.scale_up_select_policy = r.optional_text("scale_up_select_policy").value_or("");
  out.scale_down_select_policy = r.optional_text("scale_down_select_policy").value_or("");
  if (const json::value* ts = r.field("targets", false); ts != nullptr && ts->is_array()) {
    for (const auto& x : ts->as_array()) {
      JsonReader tr(x, "autoscaler target");
      HpaTargetView t{tr.text("metric"), tr.number("target")};
      if (tr.error()) return *tr.error();
      out.targets.push_back(std::move(t));
    }
  }
  if (const json::value* ts = r.field("tracks", false); ts != nullptr && ts->is_object()) {
    for (const auto& [k, x] : ts->as_object()) {
      auto t = track_from_json(x);
      if (!t) return t.error();
      out.tracks[std::string(k)] = std::move(*t);
    }
  }
  if (r.error()) return *r.error();
  return out;
}

}  // namespace sg::platform
