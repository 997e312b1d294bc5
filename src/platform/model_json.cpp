// JSON codecs of the model (model.hpp).
#include <boost/json.hpp>

#include "platform/json_reader.hpp"
#include "platform/model.hpp"

namespace sg::platform {
namespace json = boost::json;

namespace {

json::value optional_value(const std::optional<double>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}
json::value optional_value(const std::optional<std::int64_t>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}
json::value optional_value(const std::optional<std::string>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

template <class T, class Decode>
Result<std::vector<T>> array_of(const json::value* v, const char* what, Decode decode) {
  std::vector<T> out;
  if (v == nullptr || v->is_null()) return out;
  if (!v->is_array()) {
    return make_error(ErrorCode::kInvalidArgument, std::string(what) + " must be an array");
  }
  for (const auto& item : v->as_array()) {
    auto one = decode(item);
    if (!one) return one.error();
    out.push_back(std::move(*one));
  }
  return out;
}

Result<ReplicaView> replica_from_json(const json::value& v) {
  JsonReader r(v, "replica");
  ReplicaView out;
  out.name = r.optional_text("name").value_or("");
  out.track = r.optional_text("track").value_or("");
  out.release = r.text("release");
  out.address = r.text("address");
  out.pid = r.optional_integer("pid");
  out.phase = r.text("phase");
  out.restarts = static_cast<int>(r.integer("restarts"));
  out.readiness_flaps = static_cast<int>(r.optional_integer("readiness_flaps").value_or(0));
  out.last_exit = r.optional_text("last_exit").value_or("");
  out.log = r.optional_text("log").value_or("");
  out.cpu_percent = r.optional_number("cpu_percent");
  out.rss_mib = r.optional_number("rss_mib");
  out.cpu_seconds = r.optional_number("cpu_seconds");
  if (r.error()) return *r.error();
  return out;
}

Result<TrackView> track_from_json(const json::value& v) {
  JsonReader r(v, "track");
  TrackView out;
  out.release = r.text("release");
  out.desired = static_cast<int>(r.integer("desired"));
  out.ready = static_cast<int>(r.integer("ready"));
  out.weight = static_cast<int>(r.integer("weight"));
  out.desired_by = r.optional_text("desired_by").value_or("");
  auto replicas = array_of<ReplicaView>(r.field("replicas"), "replicas", replica_from_json);
  if (!replicas) return replicas.error();
  out.replicas = std::move(*replicas);
  if (const json::value* t = r.field("traffic", false); t != nullptr && !t->is_null()) {
    JsonReader tr(*t, "traffic");
    out.traffic = TrafficView{tr.number("window_s"), tr.number("rps"), tr.number("error_rate"),
                              tr.number("p95_ms")};
    if (tr.error()) return *tr.error();
  }
  if (r.error()) return *r.error();
  return out;
}

Result<RolloutView> rollout_from_json(const json::value& v) {
  JsonReader r(v, "rollout");
  RolloutView out;
  out.id = r.integer("id");
  out.strategy = r.text("strategy");
  out.from = r.text("from");
  out.to = r.text("to");
  out.phase = r.text("phase");
  out.reason = r.text("reason");
  out.elapsed_s = r.number("elapsed_s");
  if (const json::value* verdict = r.field("verdict")) {
    auto parsed = verdict_from_json(*verdict);
    if (!parsed) return parsed.error();
    out.verdict = std::move(*parsed);
  }
  if (auto step = r.optional_integer("step")) out.step = static_cast<int>(*step);
  if (auto steps = r.optional_integer("steps")) out.steps = static_cast<int>(*steps);
  if (auto w = r.optional_integer("canary_weight")) out.canary_weight = static_cast<int>(*w);
  out.step_elapsed_s = r.optional_number("step_elapsed_s");
  out.serving_new = r.boolean("serving_new");
  if (const json::value* s = r.field("synthetic", false); s != nullptr && s->is_object()) {
    JsonReader sr(*s, "synthetic");
    out.synthetic_rps = sr.number("rps");
    out.synthetic_requests = static_cast<std::uint64_t>(sr.integer("requests"));
    if (sr.error()) return *sr.error();
  }
  if (r.error()) return *r.error();
  return out;
}

Result<JournalEntry> journal_entry_from_json(const json::value& v) {
  JsonReader r(v, "journal entry");
  JournalEntry out;
  out.ts = r.text("ts");
  out.phase = r.text("phase");
  out.reason = r.text("reason");
  if (const json::value* a = r.field("actions", false); a != nullptr && a->is_array()) {
    for (const auto& x : a->as_array()) {
      if (x.is_string()) out.actions.emplace_back(x.as_string());
    }
  }
  if (const json::value* verdict = r.field("verdict", false); verdict != nullptr) {
    auto parsed = verdict_from_json(*verdict);
    if (!parsed) return parsed.error();
    out.verdict = std::move(*parsed);
  }
  if (r.error()) return *r.error();
  return out;
}

}  // namespace

VerdictView view_of(const control::Verdict& v) {
  return {control::outcome_name(v.outcome), v.reason, v.evidence, v.details};
}

json::value to_json(const VerdictView& v) {
  json::object numbers, details;
  for (const auto& [k, x] : v.numbers) numbers[k] = x;
  for (const auto& [k, x] : v.details) details[k] = x;
  return json::object{{"outcome", v.outcome},
                      {"reason", v.reason},
                      {"numbers", std::move(numbers)},
                      {"details", std::move(details)}};
}

Result<VerdictView> verdict_from_json(const json::value& v) {
  JsonReader r(v, "verdict");
  VerdictView out;
  out.outcome = r.text("outcome");
  out.reason = r.text("reason");
  if (const json::value* n = r.field("numbers", false); n != nullptr && n->is_object()) {
    for (const auto& [k, x] : n->as_object()) {
      if (x.is_number()) out.numbers.emplace_back(std::string(k), x.to_number<double>());
    }
  }
  if (const json::value* d = r.field("details", false); d != nullptr && d->is_object()) {
    for (const auto& [k, x] : d->as_object()) {
      if (x.is_string()) out.details.emplace_back(std::string(k), std::string(x.as_string()));
    }
  }
  if (r.error()) return *r.error();
  return out;
}

json::value to_json(const ReplicaView& v) {
  return json::object{{"name", v.name},
                      {"track", v.track},
                      {"release", v.release},
                      {"address", v.address},
                      {"pid", optional_value(v.pid)},
                      {"phase", v.phase},
                      {"restarts", v.restarts},
                      {"readiness_flaps", v.readiness_flaps},
                      {"last_exit", v.last_exit},
                      {"log", v.log},
                      {"cpu_percent", optional_value(v.cpu_percent)},
                      {"rss_mib", optional_value(v.rss_mib)},
                      {"cpu_seconds", optional_value(v.cpu_seconds)}};
}

json::value to_json(const TrackView& v) {
  json::array replicas;
  for (const auto& r : v.replicas) replicas.push_back(to_json(r));
  json::object o{{"release", v.release},     {"desired", v.desired},
                 {"ready", v.ready},         {"weight", v.weight},
                 {"desired_by", v.desired_by}, {"replicas", std::move(replicas)}};
  if (v.traffic) {
    o["traffic"] = json::object{{"window_s", v.traffic->window_s},
                                {"rps", v.traffic->rps},
                                {"error_rate", v.traffic->error_rate},
                                {"p95_ms", v.traffic->p95_ms}};
  }
  return o;
}

json::value to_json(const RolloutView& v) {
  json::object o{{"id", v.id},
                 {"strategy", v.strategy},
                 {"from", v.from},
                 {"to", v.to},
                 {"phase", v.phase},
                 {"reason", v.reason},
                 {"elapsed_s", v.elapsed_s},
                 {"verdict", to_json(v.verdict)},
                 {"serving_new", v.serving_new},
                 {"synthetic", json::object{{"rps", v.synthetic_rps},
                                            {"requests", v.synthetic_requests}}}};
  if (v.step) o["step"] = *v.step;
  if (v.steps) o["steps"] = *v.steps;
  if (v.canary_weight) o["canary_weight"] = *v.canary_weight;
  if (v.step_elapsed_s) o["step_elapsed_s"] = *v.step_elapsed_s;
  return o;
}

json::value to_json(const PlatformStatus& v) {
  json::object weights, tracks;
  for (const auto& [k, w] : v.weights) weights[k] = w;
  for (const auto& [k, t] : v.tracks) tracks[k] = to_json(t);
  return json::object{
      {"backend", v.backend},
      {"state_dir", v.state_dir},
      {"gateway", json::object{{"listen", v.gateway.listen},
                               {"admin", v.gateway.admin},
                               {"pid", optional_value(v.gateway.pid)},
                               {"running", v.gateway.running},
                               {"cpu_percent", optional_value(v.gateway.cpu_percent)},
                               {"rss_mib", optional_value(v.gateway.rss_mib)}}},
      {"active", json::object{{"colour", v.active_colour}, {"release", v.active_release}}},
      {"weights", std::move(weights)},
      {"tracks", std::move(tracks)},
      {"rollout", v.rollout ? to_json(*v.rollout) : json::value(nullptr)},
      {"autoscaler", v.autoscaler ? to_json(*v.autoscaler) : json::value(nullptr)}};
}

Result<PlatformStatus> status_from_json(const json::value& v) {
  JsonReader r(v, "status");
  PlatformStatus out;
  out.backend = r.optional_text("backend").value_or("");
  out.state_dir = r.text("state_dir");
  if (const json::value* g = r.field("gateway")) {
    JsonReader gr(*g, "gateway");
    out.gateway.listen = gr.text("listen");
    out.gateway.admin = gr.text("admin");
    out.gateway.pid = gr.optional_integer("pid");
    out.gateway.running = gr.boolean("running");
    out.gateway.cpu_percent = gr.optional_number("cpu_percent");
    out.gateway.rss_mib = gr.optional_number("rss_mib");
    if (gr.error()) return *gr.error();
  }
  if (const json::value* a = r.field("active")) {
    JsonReader ar(*a, "active");
    out.active_colour = ar.text("colour");
    out.active_release = ar.text("release");
    if (ar.error()) return *ar.error();
  }
  if (const json::value* w = r.field("weights"); w != nullptr && w->is_object()) {
    for (const auto& [k, x] : w->as_object()) {
      if (x.is_int64()) out.weights[std::string(k)] = static_cast<int>(x.as_int64());
    }
  }
  if (const json::value* t = r.field("tracks"); t != nullptr && t->is_object()) {
    for (const auto& [k, x] : t->as_object()) {
      auto track = track_from_json(x);
      if (!track) return track.error();
      out.tracks[std::string(k)] = std::move(*track);
    }
  }
  if (const json::value* ro = r.field("rollout"); ro != nullptr && !ro->is_null()) {
    auto rollout = rollout_from_json(*ro);
    if (!rollout) return rollout.error();
    out.rollout = std::move(*rollout);
  }
  if (const json::value* a = r.field("autoscaler", false); a != nullptr && !a->is_null()) {
    auto autoscaler = autoscaler_from_json(*a);
    if (!autoscaler) return autoscaler.error();
    out.autoscaler = std::move(*autoscaler);
  }
  if (r.error()) return *r.error();
  return out;
}

json::value to_json(const JournalEntry& v) {
  json::array actions;
  for (const auto& a : v.actions) actions.emplace_back(a);
  return json::object{{"ts", v.ts},
                      {"phase", v.phase},
                      {"reason", v.reason},
                      {"actions", std::move(actions)},
                      {"verdict", to_json(v.verdict)}};
}

json::value to_json(const DeploymentView& v) {
  json::object o{{"id", v.id},
                 {"strategy", v.strategy},
                 {"from", v.from},
                 {"to", v.to},
                 {"result", v.result},
                 {"reason", v.reason},
                 {"started", v.started},
                 {"finished", optional_value(v.finished)},
                 {"evidence", v.evidence ? to_json(*v.evidence) : json::value(nullptr)}};
  if (v.live) o["live"] = to_json(*v.live);
  if (!v.journal.empty()) {
    json::array journal;
    for (const auto& e : v.journal) journal.push_back(to_json(e));
    o["journal"] = std::move(journal);
  }
  return o;
}

Result<DeploymentView> deployment_from_json(const json::value& v) {
  JsonReader r(v, "deployment");
  DeploymentView out;
  out.id = r.integer("id");
  out.strategy = r.text("strategy");
  out.from = r.text("from");
  out.to = r.text("to");
  out.result = r.text("result");
  out.reason = r.text("reason");
  out.started = r.text("started");
  out.finished = r.optional_text("finished");
  if (const json::value* e = r.field("evidence", false); e != nullptr && !e->is_null()) {
    auto parsed = verdict_from_json(*e);
    if (!parsed) return parsed.error();
    out.evidence = std::move(*parsed);
  }
  if (const json::value* live = r.field("live", false); live != nullptr && !live->is_null()) {
    auto parsed = rollout_from_json(*live);
    if (!parsed) return parsed.error();
    out.live = std::move(*parsed);
  }
  auto journal =
      array_of<JournalEntry>(r.field("journal", false), "journal", journal_entry_from_json);
  if (!journal) return journal.error();
  out.journal = std::move(*journal);
  if (r.error()) return *r.error();
  return out;
}

json::value to_json(const EventView& v) {
  return json::object{{"ts", v.ts}, {"kind", v.kind}, {"message", v.message}};
}

}  // namespace sg::platform
