// sgctl commands that talk to the running control plane (deploy, rollback, promote, abort,
// scale, status), through typed model values (platform/model.hpp).
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <iostream>
#include <thread>

#include "cli/commands.hpp"
#include "cli/control_client.hpp"
#include "cli/embedded_plane.hpp"
#include "common/json_text.hpp"
#include "platform/model.hpp"

namespace sg::cli {
namespace json = boost::json;
using namespace std::chrono_literals;
using platform::DeploymentView;
using platform::PlatformStatus;
using platform::RolloutView;

namespace {

std::string fmt(const char* format, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, x);
  return buf;
}

// "canary 25.0 rps err 0.00% p95 4 ms" for one track of a status answer.
std::string traffic_line(const PlatformStatus& status, const std::string& track) {
  const auto it = status.tracks.find(track);
  if (it == status.tracks.end() || !it->second.traffic) return track + " -";
  const platform::TrafficView& t = *it->second.traffic;
  return track + " " + fmt("%.1f", t.rps) + " rps err " + fmt("%.2f", 100 * t.error_rate) +
         "% p95 " + fmt("%.0f", t.p95_ms) + " ms";
}

std::string progress_line(const RolloutView& live, const PlatformStatus& status) {
  std::string line = "[" + fmt("%.1f", live.elapsed_s) + "s] " + live.strategy + " " + live.from +
                     " -> " + live.to + " phase " + live.phase;
  if (live.strategy == "canary") {
    line += " step " + std::to_string(live.step.value_or(0)) + "/" +
            std::to_string(live.steps.value_or(0)) + " weight " +
            std::to_string(live.canary_weight.value_or(0)) + "%";
    line += " | " + traffic_line(status, "canary") + " | " +
            traffic_line(status, status.active_colour);
  } else {
    line += " | " + traffic_line(status, "blue") + " | " + traffic_line(status, "green");
  }
  if (live.synthetic_requests > 0 || live.synthetic_rps > 0) {
    line += " | synthetic " + fmt("%.0f", live.synthetic_rps) + " rps, " +
            std::to_string(live.synthetic_requests) + " sent";
  }
  line += " | " + live.verdict.outcome + ": " + live.reason;
  return line;
}

int fail(const Error& e) {
  std::cerr << "sgctl: " << e.message << "\n";
  return e.code == ErrorCode::kConflict || e.code == ErrorCode::kUnavailable ||
                 e.code == ErrorCode::kInvalidArgument || e.code == ErrorCode::kNotFound
             ? kExitUsage
             : kExitRolledBack;
}

Result<DeploymentView> get_deployment(const ControlClient& client, std::int64_t id) {
  auto d = client.get("/control/v1/deployments/" + std::to_string(id));
  if (!d) return d.error();
  return platform::deployment_from_json(*d);
}

Result<PlatformStatus> get_status(const ControlClient& client) {
  auto st = client.get("/control/v1/status");
  if (!st) return st.error();
  return platform::status_from_json(*st);
}

// Prints the end of deployment `d` and returns the exit status.
int report_end(const Common& c, const DeploymentView& d, bool tty) {
  if (tty) std::cout << "\n";
  if (c.output == "json") {
    std::cout << json_text(to_json(d)) << "\n";
  } else if (d.result == "in_progress") {
    std::cout << "deployment " << d.id << ": " << d.to
              << " serves all traffic (verified); the old colour stays warm for an instant "
                 "rollback (sgctl rollback)\n";
  } else {
    std::cout << "deployment " << d.id << " " << d.result << ": " << d.reason << "\n";
  }
  return d.result == "promoted" || d.result == "in_progress" ? kExitOk : kExitRolledBack;
}

// Follows deployment `id` until it ends; returns the exit status.
int follow(const Common& c, std::int64_t id) {
  const bool tty = ::isatty(STDOUT_FILENO) == 1 && c.output == "text";
  std::string last_key;
  std::optional<std::chrono::steady_clock::time_point> unreachable_since;
  for (;;) {
    auto client = ControlClient::connect(c.state_dir);
    auto d = client ? get_deployment(*client, id) : Result<DeploymentView>(client.error());
    if (!d) {
      // The control plane may be restarting (it resumes the rollout): wait up to 2 minutes.
      if (!unreachable_since) unreachable_since = std::chrono::steady_clock::now();
      if (std::chrono::steady_clock::now() - *unreachable_since > 120s) return fail(d.error());
      std::this_thread::sleep_for(1s);
      continue;
    }
    unreachable_since.reset();
    const bool serving_new = d->live && d->live->serving_new;
    if (d->result != "in_progress" || serving_new) return report_end(c, *d, tty);
    if (d->live && c.output == "text") {
      auto status = get_status(*client);
      const std::string line = progress_line(*d->live, status ? *status : PlatformStatus{});
      const std::string key = d->live->phase + std::to_string(d->live->step.value_or(0)) +
                              d->live->verdict.outcome;
      if (tty) {
        std::cout << "\r\033[K" << line << std::flush;
      } else if (key != last_key) {
        std::cout << line << std::endl;
      }
      last_key = key;
    }
    std::this_thread::sleep_for(1s);
  }
}

}  // namespace

int usage_error(const std::string& message) {
  std::cerr << "sgctl: " << message << "\n";
  return kExitUsage;
}

int run_deploy(const Common& c, const control::RolloutOptions& request) {
  auto embedded = EmbeddedPlane::start_if_needed(c);
  if (!embedded) return fail(embedded.error());
  auto client = ControlClient::connect(c.state_dir);
  if (!client) return fail(client.error());
  // A platform that is starting (its gateway not yet registered, no traffic counters to take
  // the baseline from) answers 503: a first deploy right after `sgctl up` (or scripts/run)
  // waits for it rather than fail.
  auto created = client->post_when_ready("/control/v1/deployments", platform::to_json(request), std::chrono::seconds(30));
  if (!created) return fail(created.error());
  const json::value* id = created->is_object() ? created->as_object().if_contains("id") : nullptr;
  if (id == nullptr || !id->is_int64()) {
    return fail(make_error(ErrorCode::kInternal, "the control plane answered without an id"));
  }
  if (c.output == "text") {
    std::cout << "deployment " << id->as_int64() << ": " << control::strategy_name(request.strategy)
              << " to " << request.release << std::endl;
  }
  return follow(c, id->as_int64());
}

int run_rollback(const Common& c) {
  auto embedded = EmbeddedPlane::start_if_needed(c);
  if (!embedded) return fail(embedded.error());
  auto client = ControlClient::connect(c.state_dir);
  if (!client) return fail(client.error());
  auto r = client->post("/control/v1/rollback", json::object{});
  if (!r) return fail(r.error());
  const json::object* o = r->if_object();
  const json::value* idv = o != nullptr ? o->if_contains("id") : nullptr;
  const json::value* mode = o != nullptr ? o->if_contains("mode") : nullptr;
  if (idv == nullptr || !idv->is_int64() || mode == nullptr || !mode->is_string()) {
    return fail(make_error(ErrorCode::kInternal, "the control plane's rollback answer is malformed"));
  }
  const std::int64_t id = idv->as_int64();
  const bool switch_back = mode->as_string() == "switch_back";
  if (c.output == "text") {
    std::cout << (switch_back ? "switching deployment " + std::to_string(id) + " back"
                              : "deployment " + std::to_string(id) +
                                    ": blue-green back to the previous release")
              << std::endl;
  }
  const int status = follow(c, id);
  // Switching the rollout in progress back ends it "rolled_back": the rollback succeeded.
  // A redeployment of the previous release that was itself rolled back exits 1.
  if (switch_back) {
    auto d = get_deployment(*client, id);
    if (d && d->result == "rolled_back") return kExitOk;
  }
  return status;
}

namespace {

int simple_post(const Common& c, const std::string& path, const json::value& body,
                const std::string& done) {
  auto client = ControlClient::connect(c.state_dir);
  if (!client) return fail(client.error());
  auto r = client->post(path, body);
  if (!r) return fail(r.error());
  if (c.output == "json") {
    std::cout << json_text(*r) << "\n";
  } else {
    std::cout << done << "\n";
  }
  return kExitOk;
}

void print_status(const PlatformStatus& st) {
  std::cout << "active: " << st.active_colour << " (" << st.active_release
            << ")   gateway: http://" << st.gateway.listen
            << (st.gateway.running ? "" : " (not running)") << "\n";
  std::printf("%-8s %-16s %6s %9s %-10s %9s %7s %8s\n", "TRACK", "RELEASE", "WEIGHT", "READY",
              "DESIRED_BY", "RPS", "ERR%", "P95_MS");
  for (const auto& [name, t] : st.tracks) {
    const std::string ready = std::to_string(t.ready) + "/" + std::to_string(t.desired);
    const platform::TrafficView traffic = t.traffic.value_or(platform::TrafficView{});
    std::printf("%-8s %-16s %6d %9s %-10s %9.1f %7.2f %8.0f\n", name.c_str(), t.release.c_str(),
                t.weight, ready.c_str(), t.desired_by.c_str(), traffic.rps,
                100 * traffic.error_rate, traffic.p95_ms);
  }
  if (st.autoscaler) {
    std::cout << "autoscaler: min " << st.autoscaler->min_replicas << ", max "
              << st.autoscaler->max_replicas;
    for (const auto& [track, t] : st.autoscaler->tracks) {
      std::cout << "; " << track << " " << t.current_replicas << " -> " << t.desired_replicas;
      if (t.last_decision && !t.last_decision->reason.empty()) {
        std::cout << " (" << t.last_decision->reason << ")";
      }
    }
    std::cout << "  (sgctl get hpa)\n";
  }
  if (st.rollout) {
    std::cout << "rollout #" << st.rollout->id << ": " << progress_line(*st.rollout, st) << "\n";
  } else {
    std::cout << "rollout: none in progress\n";
  }
  std::cout << std::flush;
}

}  // namespace

int run_promote(const Common& c) {
  auto embedded = EmbeddedPlane::start_if_needed(c);
  if (!embedded) return fail(embedded.error());
  return simple_post(c, "/control/v1/promote", json::object{}, "promotion ordered");
}
int run_abort(const Common& c) {
  auto embedded = EmbeddedPlane::start_if_needed(c);
  if (!embedded) return fail(embedded.error());
  return simple_post(c, "/control/v1/abort", json::object{},
                     "abort ordered: traffic back to stable");
}
int run_scale(const Common& c, int replicas) {
  return simple_post(c, "/control/v1/scale", json::object{{"replicas", replicas}},
                     "scaling the active release to " + std::to_string(replicas) + " replicas");
}

int run_status(const Common& c, bool watch) {
  auto embedded = EmbeddedPlane::start_if_needed(c);
  if (!embedded) return fail(embedded.error());
  for (;;) {
    auto client = ControlClient::connect(c.state_dir);
    if (!client) return fail(client.error());
    auto st = get_status(*client);
    if (!st) return fail(st.error());
    if (c.output == "json") {
      std::cout << json_text(to_json(*st)) << std::endl;
    } else {
      if (watch) std::cout << "\033[H\033[2J";
      print_status(*st);
    }
    if (!watch) return kExitOk;
    std::this_thread::sleep_for(1s);
  }
}

}  // namespace sg::cli
