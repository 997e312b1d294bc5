#include "common/process_metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sg::metrics {
namespace {

void append_family(std::string& out, const char* name, const char* type, const char* help,
                   double value) {
  append_family_head(out, name, type, help);
  append_sample(out, name, {}, {}, value);
}

// Fields 14 (utime) and 15 (stime), 23 (vsize) and 24 (rss) of /proc/self/stat.
bool read_stat(double& cpu_seconds, double& vsize, double& rss_bytes) {
  std::ifstream in("/proc/self/stat");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = content.rfind(')');  // comm may contain spaces
  if (close == std::string::npos) return false;
  std::istringstream fields(content.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0, vs = 0;
  long long rss = 0;
  // After ")", field 3 (state) is index 0.
  for (int i = 3; i <= 24 && fields >> f; ++i) {
    if (i == 14)
      utime = std::stoull(f);
    else if (i == 15)
      stime = std::stoull(f);
    else if (i == 23)
      vs = std::stoull(f);
    else if (i == 24)
      rss = std::stoll(f);
  }
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  cpu_seconds = static_cast<double>(utime + stime) / ticks;
  vsize = static_cast<double>(vs);
  rss_bytes = static_cast<double>(rss) * static_cast<double>(sysconf(_SC_PAGESIZE));
  return true;
}

}  // namespace

double process_cpu_seconds() {
  double cpu = 0, vs = 0, rss = 0;
  return read_stat(cpu, vs, rss) ? cpu : -1;
}

void register_process_metrics(Registry& registry) {
  const double start =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  registry.add_collector([start](std::string& out) {
    double cpu = 0, vsize = 0, rss = 0;
    if (read_stat(cpu, vsize, rss)) {
      append_family(out, "process_cpu_seconds_total", "counter",
                    "Total user and system CPU time spent in seconds.", cpu);
      append_family(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                    rss);
      append_family(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
                    vsize);
    }
    append_family(out, "process_start_time_seconds", "gauge",
                  "Start time of the process since unix epoch in seconds.", start);
    std::error_code ec;
    double fds = 0;
    for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      ++fds;
    }
    append_family(out, "process_open_fds", "gauge", "Number of open file descriptors.", fds);
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
      append_family(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                    static_cast<double>(lim.rlim_cur));
    }
  });
}

}  // namespace sg::metrics
