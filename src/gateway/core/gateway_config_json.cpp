// The JSON form of GatewayConfig: a strict reader (every key known, every type checked,
// every error prefixed with its key path) and the writer. The YAML form is converted to a
// JSON value first (gateway_config_yaml.cpp), so both forms share this reader.
#include <boost/json.hpp>
#include <charconv>
#include <limits>
#include <set>

#include "common/json_text.hpp"
#include "gateway/core/gateway_config.hpp"

namespace sg::gateway {
namespace json = boost::json;
namespace {

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string describe(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      return "string '" + std::string(v.get_string()) + "'";
    case json::kind::null:
      return "null";
    case json::kind::object:
      return "a mapping";
    case json::kind::array:
      return "a list";
    case json::kind::double_: {
      // Shortest round-trip form, marked as a fraction so 100.0 does not read as "100".
      char buf[32];
      const auto end = std::to_chars(buf, buf + sizeof buf, v.get_double()).ptr;
      std::string text(buf, end);
      if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
      return "number " + text;
    }
    default:
      return json::serialize(v);
  }
}

// Reads the keys of one JSON object. The first problem is kept in `problem`; later reads
// after a problem are no-ops. finish() reports keys that no read asked for.
class ObjectReader {
 public:
  ObjectReader(const json::object& object, std::string path, std::string& problem)
      : object_(object), path_(std::move(path)), problem_(problem) {}

  // The value of `key`, or nullptr when absent (or a problem was already found).
  const json::value* find(std::string_view key, bool required = false) {
    known_.insert(std::string(key));
    if (!problem_.empty()) return nullptr;
    const json::value* v = object_.if_contains(key);
    if (v == nullptr && required) fail(key, "is required");
    return v;
  }
  // The object under `key`; nullptr when absent or not an object (a problem then).
  const json::object* object(std::string_view key, bool required = false) {
    const json::value* v = find(key, required);
    if (v == nullptr) return nullptr;
    if (!v->is_object()) fail(key, "must be a mapping, got " + describe(*v));
    return v->if_object();
  }
  void string(std::string_view key, std::string& out) {
    const json::value* v = find(key);
    if (v == nullptr) return;
    if (!v->is_string()) return fail(key, "must be a string, got " + describe(*v));
    out = std::string(v->get_string());
  }
  void integer(std::string_view key, int& out) {
    const json::value* v = find(key);
    if (v == nullptr) return;
    if (!v->is_int64() && !v->is_uint64()) {
      return fail(key, "must be an integer, got " + describe(*v));
    }
    const bool fits = v->is_int64() ? (v->get_int64() >= std::numeric_limits<int>::min() &&
                                       v->get_int64() <= std::numeric_limits<int>::max())
                                    : v->get_uint64() <= std::numeric_limits<int>::max();
    if (!fits) return fail(key, json::serialize(*v) + " is out of range");
    out = static_cast<int>(v->is_int64() ? v->get_int64()
                                         : static_cast<std::int64_t>(v->get_uint64()));
  }
  void boolean(std::string_view key, bool& out) {
    const json::value* v = find(key);
    if (v == nullptr) return;
    if (!v->is_bool()) return fail(key, "must be true or false, got " + describe(*v));
    out = v->get_bool();
  }
  void fail(std::string_view key, const std::string& rule) {
    if (problem_.empty()) problem_ = join(path_, key) + ": " + rule;
  }
  void finish() {
    if (!problem_.empty()) return;
    for (const auto& kv : object_) {
      if (known_.count(std::string(kv.key())) == 0) {
        std::string expected;
        for (const auto& k : known_) expected += (expected.empty() ? "" : ", ") + k;
        return fail(kv.key(), "unknown key (expected one of: " + expected + ")");
      }
    }
  }
  const std::string& path() const { return path_; }

 private:
  const json::object& object_;
  std::string path_;
  std::string& problem_;
  std::set<std::string> known_;
};

void read_track(const json::object& object, const std::string& path, TrackConfig& track,
                std::string& problem) {
  ObjectReader r(object, path, problem);
  if (const json::value* v = r.find("endpoints", true)) {
    if (!v->is_array()) return r.fail("endpoints", "must be a list, got " + describe(*v));
    const json::array& list = v->get_array();
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (!list[i].is_string()) {
        const std::string key = "endpoints[" + std::to_string(i) + "]";
        return r.fail(key, "must be a string \"HOST:PORT\", got " + describe(list[i]));
      }
      track.endpoints.emplace_back(list[i].get_string());
    }
  }
  std::string balance = balance_name(track.balance);
  r.string("balance", balance);
  if (balance == "round_robin") {
    track.balance = Balance::kRoundRobin;
  } else if (balance == "least_outstanding") {
    track.balance = Balance::kLeastOutstanding;
  } else {
    r.fail("balance", "must be least_outstanding or round_robin, got '" + balance + "'");
  }
  r.finish();
}

void read_tracks(ObjectReader& root, GatewayConfig& c, std::string& problem) {
  const json::object* tracks = root.object("tracks", true);
  if (tracks == nullptr) return;
  for (const auto& kv : *tracks) {
    const std::string path = "tracks." + std::string(kv.key());
    if (!kv.value().is_object()) {
      root.fail(path, "must be a mapping with endpoints, got " + describe(kv.value()));
      return;
    }
    read_track(kv.value().get_object(), path, c.tracks[std::string(kv.key())], problem);
    if (!problem.empty()) return;
  }
}

void read_sticky(const json::object& object, std::optional<StickyConfig>& sticky,
                 std::string& problem) {
  ObjectReader r(object, "route.sticky", problem);
  std::string header;
  std::string cookie;
  StickyConfig out;
  const bool has_header = r.find("header") != nullptr;
  const bool has_cookie = r.find("cookie") != nullptr;
  r.string("header", header);
  r.string("cookie", cookie);
  r.string("key_env", out.key_env);
  r.finish();
  if (!problem.empty()) return;
  if (has_header == has_cookie) {
    problem = "route.sticky: give exactly one of header or cookie";
    return;
  }
  out.source = has_header ? StickyConfig::Source::kHeader : StickyConfig::Source::kCookie;
  out.name = has_header ? header : cookie;
  sticky = std::move(out);
}

void read_route(ObjectReader& root, RouteConfig& route, std::string& problem) {
  const json::object* object = root.object("route", true);
  if (object == nullptr) return;
  ObjectReader r(*object, "route", problem);
  if (const json::object* weights = r.object("weights", true)) {
    ObjectReader w(*weights, "route.weights", problem);
    for (const auto& kv : *weights) {
      TrackWeight tw{std::string(kv.key()), 0};
      w.integer(kv.key(), tw.weight);
      route.weights.push_back(std::move(tw));
    }
    w.finish();
  }
  if (const json::object* sticky = r.object("sticky")) read_sticky(*sticky, route.sticky, problem);
  r.finish();
}

void read_admin(ObjectReader& root, GatewayConfig& c, std::string& problem) {
  const json::object* object = root.object("admin");
  if (object == nullptr) return;
  ObjectReader r(*object, "admin", problem);
  r.string("listen", c.admin_listen);
  r.string("token_env", c.admin_token_env);
  r.boolean("insecure_listen", c.admin_insecure_listen);
  r.finish();
}

void read_tuning(ObjectReader& root, GatewayConfig& c, std::string& problem) {
  if (const json::object* o = root.object("health_check")) {
    ObjectReader r(*o, "health_check", problem);
    r.string("path", c.health_check.path);
    r.integer("interval_ms", c.health_check.interval_ms);
    r.integer("timeout_ms", c.health_check.timeout_ms);
    r.integer("rise", c.health_check.rise);
    r.integer("fall", c.health_check.fall);
    r.finish();
  }
  if (const json::object* o = root.object("outlier")) {
    ObjectReader r(*o, "outlier", problem);
    r.integer("consecutive_failures", c.outlier.consecutive_failures);
    r.integer("base_ejection_ms", c.outlier.base_ejection_ms);
    r.integer("max_ejection_ms", c.outlier.max_ejection_ms);
    r.finish();
  }
  if (const json::object* o = root.object("timeouts")) {
    ObjectReader r(*o, "timeouts", problem);
    r.integer("connect_ms", c.timeouts.connect_ms);
    r.integer("first_byte_ms", c.timeouts.first_byte_ms);
    r.integer("idle_ms", c.timeouts.idle_ms);
    r.integer("header_ms", c.timeouts.header_ms);
    r.finish();
  }
  if (const json::object* o = root.object("limits")) {
    ObjectReader r(*o, "limits", problem);
    r.integer("header_bytes", c.limits.header_bytes);
    r.integer("max_connections", c.limits.max_connections);
    r.finish();
  }
  if (const json::object* o = root.object("retries")) {
    ObjectReader r(*o, "retries", problem);
    r.boolean("enabled", c.retries.enabled);
    r.finish();
  }
}

json::object track_to_json(const TrackConfig& track) {
  json::array endpoints;
  for (const auto& ep : track.endpoints) endpoints.emplace_back(ep);
  return {{"endpoints", std::move(endpoints)}, {"balance", balance_name(track.balance)}};
}

json::object route_to_json(const RouteConfig& route) {
  json::object weights;
  for (const auto& w : route.weights) weights[w.track] = w.weight;
  json::object out{{"weights", std::move(weights)}};
  if (route.sticky) {
    const bool header = route.sticky->source == StickyConfig::Source::kHeader;
    out["sticky"] = json::object{{header ? "header" : "cookie", route.sticky->name},
                                 {"key_env", route.sticky->key_env}};
  }
  return out;
}

}  // namespace

Result<GatewayConfig> gateway_config_from_json(const json::value& value) {
  if (!value.is_object()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "config: the top level must be a mapping, got " + describe(value));
  }
  GatewayConfig c;
  std::string problem;
  ObjectReader root(value.get_object(), "", problem);
  root.string("listen", c.listen);
  read_admin(root, c, problem);
  root.integer("threads", c.threads);
  std::string affinity = cpu_affinity_name(c.cpu_affinity);
  root.string("cpu_affinity", affinity);
  if (const auto parsed = parse_cpu_affinity(affinity)) {
    c.cpu_affinity = *parsed;
  } else {
    root.fail("cpu_affinity", "must be none or auto, got '" + affinity + "'");
  }
  read_tracks(root, c, problem);
  read_route(root, c.route, problem);
  read_tuning(root, c, problem);
  if (const json::value* v = root.find("trusted_proxies")) {
    if (!v->is_array()) {
      root.fail("trusted_proxies", "must be a list of CIDRs, got " + describe(*v));
    } else {
      const json::array& list = v->get_array();
      for (std::size_t i = 0; i < list.size() && problem.empty(); ++i) {
        if (!list[i].is_string()) {
          root.fail("trusted_proxies[" + std::to_string(i) + "]",
                    "must be a string such as \"10.0.0.0/8\", got " + describe(list[i]));
        } else {
          c.trusted_proxies.emplace_back(list[i].get_string());
        }
      }
    }
  }
  root.finish();
  if (!problem.empty()) return make_error(ErrorCode::kInvalidArgument, std::move(problem));
  if (Status s = validate_gateway_config(c); !s) return s.error();
  return c;
}

Result<GatewayConfig> parse_gateway_config_json(std::string_view text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec) {
    return make_error(ErrorCode::kInvalidArgument, "config: invalid JSON: " + ec.message());
  }
  return gateway_config_from_json(value);
}

json::value gateway_config_to_json(const GatewayConfig& c) {
  json::object tracks;
  for (const auto& [name, track] : c.tracks) tracks[name] = track_to_json(track);
  const HealthCheckConfig& h = c.health_check;
  const TimeoutsConfig& t = c.timeouts;
  return json::object{
      {"listen", c.listen},
      {"admin",
       {{"listen", c.admin_listen},
        {"token_env", c.admin_token_env},
        {"insecure_listen", c.admin_insecure_listen}}},
      {"threads", c.threads},
      {"cpu_affinity", cpu_affinity_name(c.cpu_affinity)},
      {"tracks", std::move(tracks)},
      {"route", route_to_json(c.route)},
      {"health_check",
       {{"path", h.path},
        {"interval_ms", h.interval_ms},
        {"timeout_ms", h.timeout_ms},
        {"rise", h.rise},
        {"fall", h.fall}}},
      {"outlier",
       {{"consecutive_failures", c.outlier.consecutive_failures},
        {"base_ejection_ms", c.outlier.base_ejection_ms},
        {"max_ejection_ms", c.outlier.max_ejection_ms}}},
      {"timeouts",
       {{"connect_ms", t.connect_ms},
        {"first_byte_ms", t.first_byte_ms},
        {"idle_ms", t.idle_ms},
        {"header_ms", t.header_ms}}},
      {"limits",
       {{"header_bytes", c.limits.header_bytes}, {"max_connections", c.limits.max_connections}}},
      {"retries", {{"enabled", c.retries.enabled}}},
      {"trusted_proxies", json::array(c.trusted_proxies.begin(), c.trusted_proxies.end())},
  };
}

std::string gateway_config_to_json_text(const GatewayConfig& config) {
  return json_text(gateway_config_to_json(config));
}

}  // namespace sg::gateway
