// `sgctl top`: CPU and memory of the gateway and every replica, as the backend measured them
// over its last control tick (locally from /proc), with each process's phase and restarts.
#include <boost/json.hpp>
#include <cstdio>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/control_client.hpp"
#include "common/json_text.hpp"
#include "platform/model.hpp"

namespace sg::cli {
namespace json = boost::json;

namespace {

struct Row {
  std::string track, release, address, phase;
  std::optional<std::int64_t> pid;
  int restarts = 0;
  std::optional<double> cpu_percent, rss_mib;
};

json::value optional_json(const std::optional<double>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

}  // namespace

int run_top(const Common& c) {
  auto client = ControlClient::connect(c.state_dir);
  if (!client) return usage_error(client.error().message);
  auto raw = client->get("/control/v1/status");
  if (!raw) return usage_error(raw.error().message);
  auto st = platform::status_from_json(*raw);
  if (!st) return usage_error(st.error().message);
  std::vector<Row> rows;
  rows.push_back({"gateway", "", st->gateway.listen, st->gateway.running ? "running" : "down",
                  st->gateway.pid, 0, st->gateway.cpu_percent, st->gateway.rss_mib});
  for (const auto& [track, t] : st->tracks) {
    for (const auto& r : t.replicas) {
      rows.push_back({track, r.release, r.address, r.phase, r.pid, r.restarts, r.cpu_percent,
                      r.rss_mib});
    }
  }
  json::array out;
  if (c.output != "json") {
    std::printf("%-8s %-14s %-21s %8s %-11s %6s %8s %8s\n", "TRACK", "RELEASE", "ADDRESS", "PID",
                "PHASE", "CPU%", "RSS_MiB", "RESTARTS");
  }
  for (const auto& r : rows) {
    if (c.output == "json") {
      out.push_back(json::object{{"track", r.track},
                                 {"release", r.release},
                                 {"address", r.address},
                                 {"pid", r.pid ? json::value(*r.pid) : json::value(nullptr)},
                                 {"phase", r.phase},
                                 {"cpu_percent", optional_json(r.cpu_percent)},
                                 {"rss_mib", optional_json(r.rss_mib)},
                                 {"restarts", r.restarts}});
      continue;
    }
    const std::string pid = r.pid ? std::to_string(*r.pid) : "-";
    const std::string cpu = r.cpu_percent ? std::to_string(*r.cpu_percent).substr(0, 5) : "-";
    const std::string rss = r.rss_mib ? std::to_string(*r.rss_mib).substr(0, 6) : "-";
    std::printf("%-8s %-14s %-21s %8s %-11s %6s %8s %8d\n", r.track.c_str(), r.release.c_str(),
                r.address.c_str(), pid.c_str(), r.phase.c_str(), cpu.c_str(), rss.c_str(),
                r.restarts);
  }
  if (c.output == "json") std::cout << json_text(json::object{{"processes", out}}) << "\n";
  return kExitOk;
}

}  // namespace sg::cli
