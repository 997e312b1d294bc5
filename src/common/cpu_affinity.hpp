// The CPUs this process may run on, and pinning a thread to one of them.
//
// A container or `taskset` can restrict a process to fewer CPUs than the machine has; the
// set comes from sched_getaffinity(), not std::thread::hardware_concurrency(), so "one
// thread per core" means per core the process can actually use.
#pragma once

#include <string>
#include <vector>

#include "common/result.hpp"

namespace sg {

// The CPU numbers in this process's affinity mask, ascending (never empty: when the mask
// cannot be read, 0..hardware_concurrency-1).
std::vector<int> allowed_cpus();

// The number of CPUs this process may run on (at least 1).
unsigned usable_cpu_count();

// Restricts the calling thread to `cpu`. The error names the CPU and the reason.
Status pin_this_thread(int cpu);

// The CPUs the calling thread may run on, ascending.
std::vector<int> this_thread_cpus();

// Names the calling thread (shown by top -H, ps -L, perf); cut to the kernel's 15 bytes.
void name_this_thread(const std::string& name);

}  // namespace sg
