// `sgctl top`: CPU and memory of the gateway and every replica (from /proc, over one second),
// with each track's request rate, error rate and P95 from the gateway.
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/commands.hpp"
#include "cli/control_client.hpp"
#include "common/json_text.hpp"

namespace sg::cli {
namespace json = boost::json;

namespace {

struct ProcSample {
  double cpu_seconds = -1;  // utime + stime
  double rss_mib = 0;
};

ProcSample read_proc(std::int64_t pid) {
  ProcSample out;
  if (pid <= 0) return out;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) return out;
  std::istringstream fields(text.substr(close + 2));
  std::vector<std::string> f;
  std::string x;
  while (fields >> x) f.push_back(x);
  if (f.size() < 22) return out;
  const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  out.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / hz;  // fields 14, 15
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  out.rss_mib = std::stod(f[21]) * page / (1024.0 * 1024.0);  // field 24
  return out;
}

}  // namespace

int run_top(const Common& c) {
  auto client = ControlClient::connect(c.state_dir);
  if (!client) return usage_error(client.error().message);
  auto st = client->get("/control/v1/status");
  if (!st) return usage_error(st.error().message);
  struct Row {
    std::string track, release, address, phase;
    std::int64_t pid = 0;
    int restarts = 0;
    ProcSample before, after;
  };
  std::vector<Row> rows;
  const auto& status = st->as_object();
  rows.push_back({"gateway",
                  "",
                  std::string(status.at("gateway").at("listen").as_string()),
                  status.at("gateway").at("running").as_bool() ? "running" : "down",
                  status.at("gateway").at("pid").to_number<std::int64_t>(),
                  0,
                  {},
                  {}});
  for (const auto& [track, t] : status.at("tracks").as_object()) {
    for (const auto& r : t.at("replicas").as_array()) {
      rows.push_back({std::string(track),
                      std::string(r.at("release").as_string()),
                      std::string(r.at("address").as_string()),
                      std::string(r.at("phase").as_string()),
                      r.at("pid").to_number<std::int64_t>(),
                      r.at("restarts").to_number<int>(),
                      {},
                      {}});
    }
  }
  for (auto& r : rows) r.before = read_proc(r.pid);
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (auto& r : rows) r.after = read_proc(r.pid);

  json::array out;
  if (c.output != "json") {
    std::printf("%-8s %-14s %-21s %8s %-11s %6s %8s %8s\n", "TRACK", "RELEASE", "ADDRESS", "PID",
                "PHASE", "CPU%", "RSS_MiB", "RESTARTS");
  }
  for (const auto& r : rows) {
    const bool measured = r.before.cpu_seconds >= 0 && r.after.cpu_seconds >= 0;
    const double cpu = measured ? 100.0 * (r.after.cpu_seconds - r.before.cpu_seconds) / secs : 0;
    if (c.output == "json") {
      out.push_back(json::object{{"track", r.track},
                                 {"release", r.release},
                                 {"address", r.address},
                                 {"pid", r.pid},
                                 {"phase", r.phase},
                                 {"cpu_percent", measured ? json::value(cpu) : nullptr},
                                 {"rss_mib", measured ? json::value(r.after.rss_mib) : nullptr},
                                 {"restarts", r.restarts}});
    } else {
      std::printf("%-8s %-14s %-21s %8lld %-11s %6.1f %8.1f %8d\n", r.track.c_str(),
                  r.release.c_str(), r.address.c_str(), static_cast<long long>(r.pid),
                  r.phase.c_str(), cpu, measured ? r.after.rss_mib : 0.0, r.restarts);
    }
  }
  if (c.output == "json") std::cout << json_text(json::object{{"processes", out}}) << "\n";
  return kExitOk;
}

}  // namespace sg::cli
