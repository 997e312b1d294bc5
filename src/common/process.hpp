// Starting and watching OS processes: posix_spawn with a merged environment and the output
// appended to a log file, and the /proc facts the local backend needs to recognise a process
// it started in an earlier life (a PID plus its start time identifies one process; a PID
// alone may have been reused).
//
// Thread-safety: free functions without shared state.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace sg {

struct SpawnSpec {
  std::vector<std::string> argv{};                         // argv[0] is searched in PATH
  std::vector<std::pair<std::string, std::string>> env{};  // added to (or replacing in) ours
  // Which of our variables the child inherits besides `env`: all of them when unset;
  // otherwise only these names (a trailing '*' matches a prefix, e.g. "LC_*").
  std::optional<std::vector<std::string>> pass_env{};
  std::filesystem::path log_file{};                        // stdout and stderr, appended
  std::filesystem::path cwd{};                             // empty: inherit ours
  // Start the process in a session of its own: a terminal's Ctrl-C (SIGINT to the
  // foreground process group) then reaches only the parent, which stops its children in
  // order, and the children outlive a parent killed with SIGKILL.
  bool new_session = false;
};

// What a child that runs someone else's code (a release) inherits of our environment: the
// locale, time zone, home, user, temp dir, search path and sanitizer options; never our
// secrets, storage URLs or tokens (those a child needs are passed in SpawnSpec::env).
std::vector<std::string> default_pass_env();

// Our environment as NAME=VALUE entries, only the names `pass` lets through (all when unset),
// with `extra` added or replacing: what a spawned child gets.
std::vector<std::string> merged_environment(const std::vector<std::pair<std::string, std::string>>& extra,
                                            const std::optional<std::vector<std::string>>& pass);

// Starts the process; stdin is /dev/null; the log file is created 0600. The error names
// argv[0] and the reason.
Result<pid_t> spawn_process(const SpawnSpec& spec);

// The process's start time in clock ticks after boot (field 22 of /proc/PID/stat), or
// nullopt when there is no such process or it is a zombie.
std::optional<std::uint64_t> process_start_ticks(pid_t pid);

// True when `pid` is alive (not a zombie) and started at `start_ticks`: the same process.
bool same_process_alive(pid_t pid, std::uint64_t start_ticks);

// When `pid` is a child of ours that has exited, reaps it and returns its wait status;
// otherwise nullopt (still running, or not our child).
std::optional<int> reap_if_exited(pid_t pid);

// "exit 3", "signal 9 (Killed)".
std::string describe_wait_status(int status);

}  // namespace sg
