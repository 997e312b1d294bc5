// A small per-thread index for spreading hot counters over cache lines.
//
// Counters that several threads bump on every request (metrics, sliding-window stats) keep
// one slot per shard and sum the slots when read, so two threads updating them do not
// bounce one cache line between their cores. Threads get shards round-robin on first use;
// with more threads than shards some share one, which is still correct (slots stay atomic or
// locked), just not contention-free.
#pragma once

#include <atomic>
#include <cstddef>

namespace sg {

inline constexpr std::size_t kThreadShards = 8;

namespace detail {
inline std::atomic<std::size_t> g_next_thread_shard{0};
inline thread_local std::size_t t_thread_shard = kThreadShards;  // unassigned
}  // namespace detail

// This thread's shard, in [0, kThreadShards).
inline std::size_t this_thread_shard() {
  std::size_t s = detail::t_thread_shard;
  if (s >= kThreadShards) [[unlikely]] {
    s = detail::g_next_thread_shard.fetch_add(1, std::memory_order_relaxed) % kThreadShards;
    detail::t_thread_shard = s;
  }
  return s;
}

}  // namespace sg
