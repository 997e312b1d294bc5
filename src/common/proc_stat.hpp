// /proc/PID/stat, read and parsed in one place: CPU time, memory, state and start time of a
// process (proc(5)). The start time (clock ticks after boot) together with the PID identifies
// one process: a PID alone may have been reused.
//
// Thread-safety: pure functions (read_proc_stat reads the file once).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace sg {

struct ProcStat {
  char state = '?';              // field 3: R, S, D, Z (zombie), X (dead), ...
  std::uint64_t utime_ticks = 0;  // field 14, clock ticks in user mode
  std::uint64_t stime_ticks = 0;  // field 15, clock ticks in kernel mode
  std::uint64_t start_ticks = 0;  // field 22, clock ticks after boot
  std::uint64_t vsize_bytes = 0;  // field 23
  std::uint64_t rss_pages = 0;    // field 24

  bool zombie_or_dead() const { return state == 'Z' || state == 'X'; }
  double cpu_seconds() const;  // (utime + stime) / ticks per second
  double rss_bytes() const;    // rss_pages * page size
};

// Parses the text of a stat file ("PID (comm) S ppid ..."; comm may hold spaces and
// parentheses, so fields are counted after the last ')'). nullopt when it is not one.
std::optional<ProcStat> parse_proc_stat(std::string_view text);

// Reads /proc/PID/stat (pid 0: /proc/self/stat). nullopt when there is no such process.
std::optional<ProcStat> read_proc_stat(pid_t pid);

}  // namespace sg
