#include "platform/hpa_json.hpp"

#include <boost/json.hpp>
#include <cmath>
#include <set>

#include "common/json_text.hpp"

namespace sg::platform {
namespace json = boost::json;
using control::HpaBehavior;
using control::HpaMetric;
using control::HpaSpec;
using control::ScalingPolicy;
using control::ScalingPolicyType;
using control::ScalingRules;
using control::SelectPolicy;

namespace {

Error bad(const std::string& message) { return make_error(ErrorCode::kInvalidArgument, message); }

Status only_keys(const json::object& o, std::initializer_list<const char*> allowed,
                 const std::string& where) {
  for (const auto& [k, v] : o) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || k == a;
    if (!ok) return bad(where + ": unknown key '" + std::string(k) + "'");
  }
  return Status::ok();
}

Status read_int(const json::object& o, const char* key, const std::string& where, int& out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return Status::ok();
  if (!v->is_int64() || v->as_int64() < -1000000 || v->as_int64() > 1000000) {
    return bad(where + key + " must be an integer, got " + json_text(*v));
  }
  out = static_cast<int>(v->as_int64());
  return Status::ok();
}

Status read_number(const json::object& o, const char* key, const std::string& where, double& out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return Status::ok();
  if (!v->is_number()) return bad(where + key + " must be a number, got " + json_text(*v));
  out = v->to_number<double>();
  return Status::ok();
}

const char* policy_type_name(ScalingPolicyType t) {
  return t == ScalingPolicyType::kPods ? "Pods" : "Percent";
}

json::value rules_json(const ScalingRules& r) {
  json::array policies;
  for (const auto& p : r.policies) {
    policies.push_back(json::object{{"type", policy_type_name(p.type)},
                                    {"value", p.value},
                                    {"periodSeconds", p.period_seconds}});
  }
  return json::object{{"stabilizationWindowSeconds", r.stabilization_window_seconds},
                      {"selectPolicy", control::select_policy_name(r.select_policy)},
                      {"policies", std::move(policies)}};
}

Status read_policy(const json::value& v, const std::string& where, ScalingPolicy& p) {
  if (!v.is_object()) return bad(where + " must be an object");
  const auto& o = v.as_object();
  if (Status st = only_keys(o, {"type", "value", "periodSeconds"}, where); !st) return st;
  const json::value* type = o.if_contains("type");
  if (type == nullptr || !type->is_string() ||
      (type->as_string() != "Pods" && type->as_string() != "Percent")) {
    return bad(where + ".type must be Pods or Percent");
  }
  p.type = type->as_string() == "Pods" ? ScalingPolicyType::kPods : ScalingPolicyType::kPercent;
  if (!o.contains("value") || !o.contains("periodSeconds")) {
    return bad(where + ": value and periodSeconds are required");
  }
  if (Status st = read_int(o, "value", where + ".", p.value); !st) return st;
  return read_int(o, "periodSeconds", where + ".", p.period_seconds);
}

Status read_rules(const json::value& v, const std::string& where, ScalingRules& r) {
  if (!v.is_object()) return bad(where + " must be an object");
  const auto& o = v.as_object();
  if (Status st = only_keys(o, {"stabilizationWindowSeconds", "selectPolicy", "policies"}, where);
      !st) {
    return st;
  }
  if (Status st = read_int(o, "stabilizationWindowSeconds", where + ".",
                           r.stabilization_window_seconds);
      !st) {
    return st;
  }
  if (const json::value* s = o.if_contains("selectPolicy")) {
    const std::string name = s->is_string() ? std::string(s->as_string()) : "";
    if (name == "Max") {
      r.select_policy = SelectPolicy::kMax;
    } else if (name == "Min") {
      r.select_policy = SelectPolicy::kMin;
    } else if (name == "Disabled") {
      r.select_policy = SelectPolicy::kDisabled;
    } else {
      return bad(where + ".selectPolicy must be Max, Min or Disabled, got " + json_text(*s));
    }
  }
  if (const json::value* ps = o.if_contains("policies")) {
    if (!ps->is_array()) return bad(where + ".policies must be an array");
    r.policies.clear();
    for (std::size_t i = 0; i < ps->as_array().size(); ++i) {
      ScalingPolicy p;
      if (Status st = read_policy(ps->as_array()[i], where + ".policies[" + std::to_string(i) + "]", p);
          !st) {
        return st;
      }
      r.policies.push_back(p);
    }
  }
  return Status::ok();
}

Status read_behavior(const json::value& v, HpaBehavior& b) {
  if (!v.is_object()) return bad("behavior must be an object");
  const auto& o = v.as_object();
  if (Status st = only_keys(o, {"scaleUp", "scaleDown"}, "behavior"); !st) return st;
  if (const json::value* up = o.if_contains("scaleUp")) {
    if (Status st = read_rules(*up, "behavior.scaleUp", b.scale_up); !st) return st;
  }
  if (const json::value* down = o.if_contains("scaleDown")) {
    if (Status st = read_rules(*down, "behavior.scaleDown", b.scale_down); !st) return st;
  }
  return Status::ok();
}

Status read_metrics(const json::value& v, HpaSpec& s) {
  if (!v.is_array()) return bad("metrics must be an array");
  s.metrics.clear();
  for (std::size_t i = 0; i < v.as_array().size(); ++i) {
    const std::string where = "metrics[" + std::to_string(i) + "]";
    const json::value& m = v.as_array()[i];
    if (!m.is_object()) return bad(where + " must be an object");
    if (Status st = only_keys(m.as_object(), {"metric", "target"}, where); !st) return st;
    const json::value* name = m.as_object().if_contains("metric");
    const json::value* target = m.as_object().if_contains("target");
    if (name == nullptr || !name->is_string()) return bad(where + ".metric is required");
    if (target == nullptr || !target->is_number()) return bad(where + ".target must be a number");
    const double t = target->to_number<double>();
    if (!std::isfinite(t) || t <= 0 || t > 1e6) return bad(where + ".target must be > 0 and <= 1000000");
    control::HpaMetricTarget mt;
    if (name->as_string() == "cpu") {
      mt = {HpaMetric::kCpu, static_cast<std::int64_t>(std::llround(t))};
    } else if (name->as_string() == "rps") {
      mt = {HpaMetric::kRps, static_cast<std::int64_t>(std::llround(t * 1000))};
    } else if (name->as_string() == "in_flight") {
      mt = {HpaMetric::kInFlight, static_cast<std::int64_t>(std::llround(t * 1000))};
    } else {
      return bad(where + ".metric must be cpu, rps or in_flight, got " + json_text(*name));
    }
    s.metrics.push_back(mt);
  }
  return Status::ok();
}

}  // namespace

json::value to_json(const HpaBehavior& b) {
  return json::object{{"scaleUp", rules_json(b.scale_up)}, {"scaleDown", rules_json(b.scale_down)}};
}

json::value to_json(const HpaSpec& s) {
  json::array metrics;
  for (const auto& m : s.metrics) {
    const double target = m.metric == HpaMetric::kCpu ? static_cast<double>(m.target)
                                                      : static_cast<double>(m.target) / 1000.0;
    metrics.push_back(json::object{{"metric", control::hpa_metric_name(m.metric)}, {"target", target}});
  }
  return json::object{{"min_replicas", s.min_replicas},
                      {"max_replicas", s.max_replicas},
                      {"metrics", std::move(metrics)},
                      {"cpu_request_millicores", s.cpu_request_millicores},
                      {"tolerance", s.tolerance},
                      {"sync_period_s", s.sync_period.count()},
                      {"cpu_initialization_period_s", s.cpu_initialization_period.count()},
                      {"initial_readiness_delay_s", s.initial_readiness_delay.count()},
                      {"behavior", to_json(s.behavior)}};
}

Result<HpaBehavior> hpa_behavior_from_json(const json::value& v) {
  HpaBehavior b;
  if (Status st = read_behavior(v, b); !st) return st.error();
  HpaSpec probe;
  probe.behavior = b;
  if (Status st = control::validate(probe); !st) return st.error();
  return b;
}

Result<HpaSpec> hpa_spec_from_json(const json::value& v) {
  if (!v.is_object()) return bad("the autoscaler spec must be a JSON object");
  const auto& o = v.as_object();
  if (Status st = only_keys(o, {"min_replicas", "max_replicas", "metrics", "cpu_request_millicores",
                                "tolerance", "sync_period_s", "cpu_initialization_period_s",
                                "initial_readiness_delay_s", "behavior"},
                            "autoscaler spec");
      !st) {
    return st.error();
  }
  HpaSpec s;
  int cpu_request = static_cast<int>(s.cpu_request_millicores);
  int sync = static_cast<int>(s.sync_period.count());
  int init = static_cast<int>(s.cpu_initialization_period.count());
  int delay = static_cast<int>(s.initial_readiness_delay.count());
  for (Status st : {read_int(o, "min_replicas", "", s.min_replicas),
                    read_int(o, "max_replicas", "", s.max_replicas),
                    read_int(o, "cpu_request_millicores", "", cpu_request),
                    read_number(o, "tolerance", "", s.tolerance),
                    read_int(o, "sync_period_s", "", sync),
                    read_int(o, "cpu_initialization_period_s", "", init),
                    read_int(o, "initial_readiness_delay_s", "", delay)}) {
    if (!st) return st.error();
  }
  s.cpu_request_millicores = cpu_request;
  s.sync_period = std::chrono::seconds(sync);
  s.cpu_initialization_period = std::chrono::seconds(init);
  s.initial_readiness_delay = std::chrono::seconds(delay);
  if (const json::value* m = o.if_contains("metrics")) {
    if (Status st = read_metrics(*m, s); !st) return st.error();
  }
  if (const json::value* b = o.if_contains("behavior")) {
    if (Status st = read_behavior(*b, s.behavior); !st) return st.error();
  }
  if (Status st = control::validate(s); !st) return st.error();
  return s;
}

}  // namespace sg::platform
