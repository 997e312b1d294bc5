// Running a short-lived command to completion and capturing what it prints: the child gets
// `input` on stdin, its stdout and stderr are read (each up to a cap) until it exits, and it
// is killed (SIGKILL, by the PID we spawned, before it is reaped) when it outlives the time
// limit, whether or not it still holds its output open. Used by the Kubernetes backend to
// drive kubectl.
//
// Thread-safety: no shared state; the call blocks the calling thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace sg {

struct CommandSpec {
  std::vector<std::string> argv;  // argv[0] is searched in PATH
  std::vector<std::pair<std::string, std::string>> env{};  // added to (or replacing in) ours
  std::string input{};                                     // written to stdin, then closed
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  std::size_t max_output = 16u << 20;  // per stream; more is an error (the child is killed)
};

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

// kInternal when it cannot start, kUnavailable when it timed out, kInvalidArgument when its
// output passed max_output; otherwise its exit code and output (a non-zero exit is not an
// error here).
Result<CommandResult> run_command(const CommandSpec& spec);

}  // namespace sg
