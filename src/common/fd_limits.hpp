// File-descriptor capacity: how many connections a process can really hold.
//
// A server whose max_connections exceeds its descriptor limit fails at accept(2) (EMFILE)
// instead of refusing cleanly, and its upstream connects, file opens and log writes fail with
// it. At start the binaries raise the soft RLIMIT_NOFILE to the hard limit (allowed without
// privilege) and clamp max_connections to what the limit allows, given the descriptors each
// connection may need and those kept for everything else.
#pragma once

#include <cstdint>

namespace sg {

struct FdLimit {
  std::uint64_t soft = 0;  // in force after raise_fd_limit()
  std::uint64_t hard = 0;
  std::uint64_t before = 0;  // the soft limit found at start
};

// Raises the soft RLIMIT_NOFILE to the hard limit (capped at 1 << 20) and reports both.
FdLimit raise_fd_limit();

// The connections `fd_limit` descriptors allow when each connection may hold
// `per_connection` of them and `reserved` are kept for the rest of the process (listeners,
// event loops, pools, files, logs); at least 1, at most `wanted`.
std::uint32_t connections_for(std::uint64_t fd_limit, unsigned per_connection,
                              std::uint64_t reserved, std::uint32_t wanted);

}  // namespace sg
