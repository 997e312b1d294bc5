#include "common/cpu_affinity.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cstring>
#include <thread>

namespace sg {
namespace {

std::vector<int> cpus_of(const cpu_set_t& set) {
  std::vector<int> out;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) out.push_back(c);
  }
  return out;
}

}  // namespace

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    if (auto cpus = cpus_of(set); !cpus.empty()) return cpus;
  }
  std::vector<int> all(std::max(1u, std::thread::hardware_concurrency()));
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
  return all;
}

unsigned usable_cpu_count() { return static_cast<unsigned>(allowed_cpus().size()); }

Status pin_this_thread(int cpu) {
  if (cpu < 0 || cpu >= CPU_SETSIZE) {
    return make_error(ErrorCode::kInvalidArgument, "CPU " + std::to_string(cpu) + " out of range");
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (const int rc = ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set); rc != 0) {
    return make_error(ErrorCode::kUnavailable, "cannot pin a thread to CPU " + std::to_string(cpu) +
                                                   ": " + std::strerror(rc));
  }
  return Status::ok();
}

std::vector<int> this_thread_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::pthread_getaffinity_np(::pthread_self(), sizeof set, &set) != 0) return {};
  return cpus_of(set);
}

void name_this_thread(const std::string& name) {
  ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace sg
