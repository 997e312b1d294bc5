// sgctl commands that talk to the running control plane (deploy, rollback, promote, abort,
// scale, status).
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <iostream>
#include <thread>

#include "cli/commands.hpp"
#include "cli/control_client.hpp"
#include "common/json_text.hpp"

namespace sg::cli {
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

std::string s(const json::value* v) {
  if (v == nullptr) return "";
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_null()) return "";
  return json_text(*v);
}
const json::value* at(const json::value& v, std::initializer_list<const char*> path) {
  const json::value* cur = &v;
  for (const char* key : path) {
    if (!cur->is_object()) return nullptr;
    cur = cur->as_object().if_contains(key);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}
double num(const json::value* v) {
  return v != nullptr && v->is_number() ? v->to_number<double>() : 0;
}

std::string fmt(const char* format, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, x);
  return buf;
}

// "canary 25.0 rps err 0.00% p95 4 ms" for one track of a status answer.
std::string traffic_line(const json::value& status, const std::string& track) {
  const json::value* t = at(status, {"tracks", track.c_str(), "traffic"});
  if (t == nullptr) return track + " -";
  return track + " " + fmt("%.1f", num(at(*t, {"rps"}))) + " rps err " +
         fmt("%.2f", 100 * num(at(*t, {"error_rate"}))) + "% p95 " +
         fmt("%.0f", num(at(*t, {"p95_ms"}))) + " ms";
}

std::string progress_line(const json::value& live, const json::value& status) {
  std::string line = "[" + fmt("%.1f", num(at(live, {"elapsed_s"}))) + "s] " +
                     s(at(live, {"strategy"})) + " " + s(at(live, {"from"})) + " -> " +
                     s(at(live, {"to"})) + " phase " + s(at(live, {"phase"}));
  const std::string active = s(at(status, {"active", "colour"}));
  if (s(at(live, {"strategy"})) == "canary") {
    line += " step " + s(at(live, {"step"})) + "/" + s(at(live, {"steps"})) + " weight " +
            s(at(live, {"canary_weight"})) + "%";
    line += " | " + traffic_line(status, "canary") + " | " + traffic_line(status, active);
  } else {
    line += " | " + traffic_line(status, "blue") + " | " + traffic_line(status, "green");
  }
  line += " | " + s(at(live, {"verdict", "outcome"})) + ": " + s(at(live, {"reason"}));
  return line;
}

int fail(const Error& e) {
  std::cerr << "sgctl: " << e.message << "\n";
  return e.code == ErrorCode::kConflict || e.code == ErrorCode::kUnavailable ||
                 e.code == ErrorCode::kInvalidArgument || e.code == ErrorCode::kNotFound
             ? kExitUsage
             : kExitRolledBack;
}

// Follows deployment `id` until it ends; returns the exit status.
int follow(const Common& c, std::int64_t id) {
  const bool tty = ::isatty(STDOUT_FILENO) == 1 && c.output == "text";
  std::string last_key;
  auto unreachable_since = std::chrono::steady_clock::now();
  bool unreachable = false;
  for (;;) {
    auto client = ControlClient::connect(c.state_dir);
    auto d = client ? client->get("/control/v1/deployments/" + std::to_string(id))
                    : Result<json::value>(client.error());
    if (!d) {
      // The control plane may be restarting (it resumes the rollout): wait up to 2 minutes.
      if (!unreachable) unreachable_since = std::chrono::steady_clock::now();
      unreachable = true;
      if (std::chrono::steady_clock::now() - unreachable_since > 120s) return fail(d.error());
      std::this_thread::sleep_for(1s);
      continue;
    }
    unreachable = false;
    const std::string result = s(at(*d, {"result"}));
    const json::value* live = at(*d, {"live"});
    const json::value* serving = live != nullptr ? at(*live, {"serving_new"}) : nullptr;
    const bool serving_new = serving != nullptr && serving->is_bool() && serving->as_bool();
    if (result != "in_progress" || serving_new) {
      if (tty) std::cout << "\n";
      if (c.output == "json") {
        std::cout << json_text(*d) << "\n";
      } else if (result == "in_progress") {
        std::cout << "deployment " << id << ": " << s(at(*d, {"to"}))
                  << " serves all traffic (verified); the old colour stays warm for an instant "
                     "rollback (sgctl rollback)\n";
      } else {
        std::cout << "deployment " << id << " " << result << ": " << s(at(*d, {"reason"})) << "\n";
      }
      return result == "promoted" || result == "in_progress" ? kExitOk : kExitRolledBack;
    }
    if (live != nullptr && c.output == "text") {
      auto status = client->get("/control/v1/status");
      const std::string line = progress_line(*live, status ? *status : json::value());
      const std::string key =
          s(at(*live, {"phase"})) + s(at(*live, {"step"})) + s(at(*live, {"verdict", "outcome"}));
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

int run_deploy(const Common& c, const platform::DeployRequest& request) {
  auto client = ControlClient::connect(c.state_dir);
  if (!client) return fail(client.error());
  auto created = client->post("/control/v1/deployments", platform::to_json(request));
  if (!created) return fail(created.error());
  const auto id = created->as_object().at("id").to_number<std::int64_t>();
  if (c.output == "text") {
    std::cout << "deployment " << id << ": " << request.strategy << " to " << request.release
              << std::endl;
  }
  return follow(c, id);
}

int run_rollback(const Common& c) {
  auto client = ControlClient::connect(c.state_dir);
  if (!client) return fail(client.error());
  auto r = client->post("/control/v1/rollback", json::object{});
  if (!r) return fail(r.error());
  const auto id = r->as_object().at("id").to_number<std::int64_t>();
  const bool switch_back = s(at(*r, {"mode"})) == "switch_back";
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
    auto d = client->get("/control/v1/deployments/" + std::to_string(id));
    if (d && s(at(*d, {"result"})) == "rolled_back") return kExitOk;
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

}  // namespace

int run_promote(const Common& c) {
  return simple_post(c, "/control/v1/promote", json::object{}, "promotion ordered");
}
int run_abort(const Common& c) {
  return simple_post(c, "/control/v1/abort", json::object{},
                     "abort ordered: traffic back to stable");
}
int run_scale(const Common& c, int replicas) {
  return simple_post(c, "/control/v1/scale", json::object{{"replicas", replicas}},
                     "scaling the active release to " + std::to_string(replicas) + " replicas");
}

int run_status(const Common& c, bool watch) {
  for (int round = 0;; ++round) {
    auto client = ControlClient::connect(c.state_dir);
    if (!client) return fail(client.error());
    auto st = client->get("/control/v1/status");
    if (!st) return fail(st.error());
    if (c.output == "json") {
      std::cout << json_text(*st) << std::endl;
    } else {
      if (watch) std::cout << "\033[H\033[2J";
      std::cout << "active: " << s(at(*st, {"active", "colour"})) << " ("
                << s(at(*st, {"active", "release"})) << ")   gateway: http://"
                << s(at(*st, {"gateway", "listen"}))
                << (num(at(*st, {"gateway", "pid"})) > 0 ? "" : " (not running)") << "\n";
      std::printf("%-8s %-16s %6s %9s %9s %7s %8s\n", "TRACK", "RELEASE", "WEIGHT", "READY", "RPS",
                  "ERR%", "P95_MS");
      if (const json::value* tracks = at(*st, {"tracks"}); tracks && tracks->is_object()) {
        for (const auto& [name, t] : tracks->as_object()) {
          const std::string ready = s(at(t, {"ready"})) + "/" + s(at(t, {"desired"}));
          std::printf("%-8s %-16s %6s %9s %9.1f %7.2f %8.0f\n", std::string(name).c_str(),
                      s(at(t, {"release"})).c_str(), s(at(t, {"weight"})).c_str(), ready.c_str(),
                      num(at(t, {"traffic", "rps"})), 100 * num(at(t, {"traffic", "error_rate"})),
                      num(at(t, {"traffic", "p95_ms"})));
        }
      }
      const json::value* ro = at(*st, {"rollout"});
      if (ro != nullptr && ro->is_object()) {
        std::cout << "rollout #" << s(at(*ro, {"id"})) << ": " << progress_line(*ro, *st) << "\n";
      } else {
        std::cout << "rollout: none in progress\n";
      }
      std::cout << std::flush;
    }
    if (!watch) return kExitOk;
    std::this_thread::sleep_for(1s);
  }
}

}  // namespace sg::cli
