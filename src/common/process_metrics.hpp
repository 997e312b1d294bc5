// Registers a collector for the standard process_* metrics (read from /proc at scrape time):
// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
// process_start_time_seconds, process_open_fds, process_max_fds.
#pragma once

#include "common/metrics.hpp"

namespace sg::metrics {

void register_process_metrics(Registry& registry);

// CPU seconds (user + system) this process has used so far; -1 when unreadable.
double process_cpu_seconds();

}  // namespace sg::metrics
