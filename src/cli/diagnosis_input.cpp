#include "cli/diagnosis_input.hpp"

#include <boost/json.hpp>
#include <fstream>

#include "cli/control_client.hpp"
#include "common/host_port.hpp"
#include "common/http/blocking_client.hpp"
#include "platform/store/state_store.hpp"

namespace sg::cli {
namespace json = boost::json;

namespace {

constexpr std::size_t kLogTailBytes = 64 * 1024;
constexpr std::size_t kMaxErrorLines = 5;
constexpr int kMaxHealthChecks = 4;

control::TrackObservation track_observation(const std::string& name, const platform::TrackView& t) {
  control::TrackObservation o;
  o.track = name;
  o.release = t.release;
  o.desired = t.desired;
  o.ready = t.ready;
  o.weight = t.weight;
  if (t.traffic) {
    o.rps = t.traffic->rps;
    o.error_rate = t.traffic->error_rate;
    o.p95_ms = t.traffic->p95_ms;
  }
  for (const platform::ReplicaView& r : t.replicas) {
    std::optional<double> cores;
    if (r.cpu_percent) cores = *r.cpu_percent / 100;
    o.replicas.push_back({r.name, r.release, r.phase, r.restarts, r.last_exit, cores});
  }
  return o;
}

// The storage and cache checks a replica reports; nothing when it does not answer (a replica
// that does not answer is the crash and readiness checks' business).
void check_dependencies(const platform::ReplicaView& r, control::DiagnosisInput& in) {
  auto hp = parse_host_port(r.address, {.require_ip_literal = true});
  if (!hp) return;
  http::ClientRequest req;
  req.target = "/api/v1/health";
  req.timeout = std::chrono::milliseconds(2000);
  req.body_limit = 64 * 1024;
  const http::ClientReply reply = http::blocking_call(hp->host, hp->port, req);
  if (reply.status == 0) return;
  boost::system::error_code ec;
  const json::value v = json::parse(reply.body, ec);
  const json::object* checks = nullptr;
  if (!ec && v.is_object()) {
    if (const json::value* c = v.as_object().if_contains("checks")) checks = c->if_object();
  }
  if (checks == nullptr) return;
  for (const auto& [name, check] : *checks) {
    const json::object* o = check.if_object();
    if (o == nullptr) continue;
    auto text = [o](const char* key) {
      const json::value* x = o->if_contains(key);
      return x != nullptr && x->is_string() ? std::string(x->as_string()) : std::string();
    };
    in.dependencies.push_back(
        {r.name, std::string(name), text("backend"), text("status"), text("error")});
  }
}

// Recent lines of a log that say error: level error, or a 5xx access line.
void error_lines(const std::string& log, std::vector<std::string>& out) {
  std::ifstream f(log, std::ios::binary);
  if (!f) return;
  f.seekg(0, std::ios::end);
  const std::streamoff size = f.tellg();
  f.seekg(std::max<std::streamoff>(0, size - static_cast<std::streamoff>(kLogTailBytes)));
  std::string line;
  std::vector<std::string> found;
  while (std::getline(f, line)) {
    if (line.find("\"level\":\"error\"") != std::string::npos ||
        line.find("\"status\":5") != std::string::npos) {
      found.push_back(line.size() > 300 ? line.substr(0, 300) + "..." : line);
    }
  }
  const std::size_t from = found.size() > kMaxErrorLines ? found.size() - kMaxErrorLines : 0;
  for (std::size_t i = from; i < found.size() && out.size() < kMaxErrorLines; ++i) {
    out.push_back(found[i]);
  }
}

}  // namespace

Result<Observed> observe_platform(const Common& c, double recent_s) {
  auto client = ControlClient::connect(c.state_dir);
  if (!client) return client.error();
  auto raw = client->get("/control/v1/status");
  if (!raw) return raw.error();
  auto status = platform::status_from_json(*raw);
  if (!status) return status.error();
  auto store = platform::StateStore::open(c.state_dir);
  if (!store) return store.error();
  Observed out{*status, {}};
  control::DiagnosisInput& in = out.input;
  int checked = 0;
  for (const auto& [name, t] : status->tracks) {
    in.tracks.push_back(track_observation(name, t));
    for (const platform::ReplicaView& r : t.replicas) {
      if (r.phase == "ready" && checked < kMaxHealthChecks) {
        check_dependencies(r, in);
        ++checked;
      }
      if (t.weight > 0 || r.phase == "backoff") error_lines(r.log, in.error_log_lines);
    }
  }
  const std::int64_t now_ms = platform::unix_ms_now();
  if (auto deployments = (*store)->deployments(1); deployments && !deployments->empty()) {
    const platform::DeploymentRecord& d = deployments->front();
    const std::int64_t since = d.finished_ms > 0 ? d.finished_ms : d.started_ms;
    in.last_deployment = control::DeploymentObservation{
        d.strategy, d.to_release, d.result, d.reason, static_cast<double>(now_ms - since) / 1000};
  }
  if (status->rollout) {
    in.rollout_in_progress = true;
    in.rollout_phase = status->rollout->phase;
    in.rollout_elapsed_s = status->rollout->elapsed_s;
  }
  auto events = (*store)->events(500);
  if (!events) return events.error();
  for (const platform::EventRecord& e : *events) {
    if (e.kind != "replica_exited") continue;
    if (static_cast<double>(now_ms - e.ts_ms) / 1000 > recent_s) continue;
    ++in.recent_exits;
    in.recent_exit = e.message;
  }
  return out;
}

}  // namespace sg::cli
