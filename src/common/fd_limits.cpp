#include "common/fd_limits.hpp"

#include <sys/resource.h>

#include <algorithm>

namespace sg {

FdLimit raise_fd_limit() {
  FdLimit out;
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return out;
  out.before = out.soft = lim.rlim_cur;
  out.hard = lim.rlim_max;
  // RLIM_INFINITY is not a usable number of descriptors; the kernel caps at fs.nr_open.
  constexpr rlim_t kCap = 1 << 20;
  const rlim_t target = std::min<rlim_t>(lim.rlim_max, kCap);
  if (lim.rlim_cur < target) {
    rlimit raised = lim;
    raised.rlim_cur = target;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) out.soft = target;
  }
  return out;
}

std::uint32_t connections_for(std::uint64_t fd_limit, unsigned per_connection,
                              std::uint64_t reserved, std::uint32_t wanted) {
  const std::uint64_t usable = fd_limit > reserved ? fd_limit - reserved : 0;
  const std::uint64_t fit = usable / std::max(1u, per_connection);
  return static_cast<std::uint32_t>(std::clamp<std::uint64_t>(fit, 1, std::max(1u, wanted)));
}

}  // namespace sg
