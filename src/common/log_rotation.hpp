// Size-capped log files for processes we start but do not pipe: a replica or the gateway
// writes its stdout/stderr straight into FILE (opened O_APPEND), and outlives the control
// plane that started it, so the control plane cannot own the descriptor. Rotation is
// therefore "copy, then truncate": FILE.1 .. FILE.keep hold older text, FILE stays the
// descriptor the process writes to, and an O_APPEND writer continues at the new end. What a
// process writes between the copy and the truncation (microseconds to milliseconds for a
// file at the cap) is lost; nothing else is.
//
// Thread-safety: pure functions over the file system; one rotator per file at a time.
#pragma once

#include <cstdint>
#include <filesystem>

#include "common/result.hpp"

namespace sg {

struct LogRotation {
  std::uint64_t max_bytes = 64ULL << 20;  // rotate once the file is larger than this
  int keep = 3;                           // rotated files kept (FILE.1 newest .. FILE.keep)
};

// Rotates `file` when it is larger than `rule.max_bytes`: FILE.(keep-1) -> FILE.keep, ...,
// FILE.1 -> FILE.2, a copy of FILE -> FILE.1 (mode 0600), FILE truncated to 0. Returns
// whether it rotated; a missing file is not an error (false).
Result<bool> rotate_log_if_large(const std::filesystem::path& file, const LogRotation& rule);

}  // namespace sg
