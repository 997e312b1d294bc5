#include "common/process_metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "common/proc_stat.hpp"

namespace sg::metrics {
namespace {

void append_family(std::string& out, const char* name, const char* type, const char* help,
                   double value) {
  append_family_head(out, name, type, help);
  append_sample(out, name, {}, {}, value);
}

bool read_stat(double& cpu_seconds, double& vsize, double& rss_bytes) {
  const auto stat = read_proc_stat(0);
  if (!stat) return false;
  cpu_seconds = stat->cpu_seconds();
  vsize = static_cast<double>(stat->vsize_bytes);
  rss_bytes = stat->rss_bytes();
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
