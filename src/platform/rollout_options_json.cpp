// The deploy request's JSON codec and the release-name rules (model.hpp).
#include <boost/json.hpp>
#include <set>

#include "common/json_text.hpp"
#include "platform/model.hpp"

namespace sg::platform {
namespace json = boost::json;

Status validate_release_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-');
  }
  if (ok) return Status::ok();
  return make_error(ErrorCode::kInvalidArgument,
                    "release name '" + name + "' must be 1..64 characters of [A-Za-z0-9._-]");
}

Result<std::string> release_from_image(const std::string& image) {
  std::string name = image;
  if (const auto colon = image.find(':'); colon != std::string::npos) {
    if (image.substr(0, colon) != "streamgate") {
      return make_error(ErrorCode::kInvalidArgument,
                        "image '" + image + "': only streamgate:NAME images resolve locally");
    }
    name = image.substr(colon + 1);
  }
  if (auto st = validate_release_name(name); !st) return st.error();
  return name;
}

namespace {

Error bad(const std::string& message) { return make_error(ErrorCode::kInvalidArgument, message); }

// The integer at `key` into `out` (absent: unchanged); refuses non-integers and values that
// do not fit an int instead of wrapping them.
Status read_int(const json::object& o, const char* key, int& out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return Status::ok();
  if (!v->is_int64() || v->as_int64() < -1000000000 || v->as_int64() > 1000000000) {
    return bad(std::string(key) + " must be an integer, got " + json_text(*v));
  }
  out = static_cast<int>(v->as_int64());
  return Status::ok();
}

Status read_number(const json::object& o, const char* key, double& out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return Status::ok();
  if (!v->is_number()) return bad(std::string(key) + " must be a number, got " + json_text(*v));
  out = v->to_number<double>();
  return Status::ok();
}

Status read_steps(const json::object& o, std::vector<int>& out) {
  const json::value* s = o.if_contains("steps");
  if (s == nullptr) return Status::ok();
  if (!s->is_array()) return bad("steps must be an array of integers");
  out.clear();
  for (const auto& x : s->as_array()) {
    if (!x.is_int64() || x.as_int64() < 1 || x.as_int64() > 100) {
      return bad("--steps: each step must be an integer weight 1..100, got " + json_text(x));
    }
    out.push_back(static_cast<int>(x.as_int64()));
  }
  return Status::ok();
}

Status read_paths(const json::object& o, std::vector<std::string>& out) {
  const json::value* s = o.if_contains("synthetic_paths");
  if (s == nullptr) return Status::ok();
  if (!s->is_array()) return bad("synthetic_paths must be an array of strings");
  out.clear();
  for (const auto& x : s->as_array()) {
    if (!x.is_string()) return bad("synthetic_paths: each path must be a string");
    out.emplace_back(x.as_string());
  }
  return Status::ok();
}

const std::set<std::string>& known_keys() {
  static const std::set<std::string> keys{
      "strategy",        "release",          "timeout_s",         "verify_s",
      "scale_down_delay_s", "step_interval_s", "steps",           "max_error_rate",
      "max_p95_ms",      "ready_stability_s", "min_requests",     "canary_replicas",
      "max_restarts",    "max_readiness_flaps", "synthetic_rps",  "synthetic_max_requests",
      "synthetic_paths", "max_segment_error_rate", "max_segment_ttfb_ms", "min_segments"};
  return keys;
}

}  // namespace

Result<control::RolloutOptions> rollout_options_from_json(const json::value& value) {
  const json::object* o = value.if_object();
  if (o == nullptr) return bad("the deploy request must be a JSON object");
  for (const auto& [k, v] : *o) {
    if (known_keys().count(std::string(k)) == 0) {
      return bad("unknown field '" + std::string(k) + "' in the deploy request");
    }
  }
  control::RolloutOptions r;
  const json::value* strategy = o->if_contains("strategy");
  const std::string s = strategy != nullptr && strategy->is_string()
                            ? std::string(strategy->as_string())
                            : (strategy != nullptr ? json_text(*strategy) : std::string());
  if (s == "canary") {
    r.strategy = control::Strategy::kCanary;
  } else if (s != "blue-green") {
    return bad("strategy must be blue-green or canary, got '" + s + "'");
  }
  const json::value* release = o->if_contains("release");
  auto name = release_from_image(release != nullptr && release->is_string()
                                     ? std::string(release->as_string())
                                     : std::string());
  if (!name) return name.error();
  r.release = *name;
  for (auto [key, field] : {std::pair<const char*, int*>{"timeout_s", &r.timeout_s},
                            {"verify_s", &r.verify_s},
                            {"scale_down_delay_s", &r.scale_down_delay_s},
                            {"step_interval_s", &r.step_interval_s},
                            {"ready_stability_s", &r.ready_stability_s},
                            {"min_requests", &r.min_requests},
                            {"canary_replicas", &r.canary_replicas},
                            {"max_restarts", &r.max_restarts},
                            {"max_readiness_flaps", &r.max_readiness_flaps},
                            {"synthetic_max_requests", &r.synthetic_max_requests},
                            {"min_segments", &r.min_segments}}) {
    if (Status st = read_int(*o, key, *field); !st) return st.error();
  }
  for (auto [key, field] : {std::pair<const char*, double*>{"max_error_rate", &r.max_error_rate},
                            {"max_p95_ms", &r.max_p95_ms},
                            {"synthetic_rps", &r.synthetic_rps},
                            {"max_segment_error_rate", &r.max_segment_error_rate},
                            {"max_segment_ttfb_ms", &r.max_segment_ttfb_ms}}) {
    if (Status st = read_number(*o, key, *field); !st) return st.error();
  }
  if (Status st = read_steps(*o, r.steps); !st) return st.error();
  if (Status st = read_paths(*o, r.synthetic_paths); !st) return st.error();
  if (Status st = control::validate(r); !st) return st.error();
  return r;
}

json::value to_json(const control::RolloutOptions& r) {
  json::array steps, paths;
  for (int s : r.steps) steps.emplace_back(s);
  for (const auto& p : r.synthetic_paths) paths.emplace_back(p);
  return json::object{{"strategy", control::strategy_name(r.strategy)},
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
                      {"canary_replicas", r.canary_replicas},
                      {"max_restarts", r.max_restarts},
                      {"max_readiness_flaps", r.max_readiness_flaps},
                      {"synthetic_rps", r.synthetic_rps},
                      {"synthetic_max_requests", r.synthetic_max_requests},
                      {"synthetic_paths", std::move(paths)},
                      {"max_segment_error_rate", r.max_segment_error_rate},
                      {"max_segment_ttfb_ms", r.max_segment_ttfb_ms},
                      {"min_segments", r.min_segments}};
}

}  // namespace sg::platform
