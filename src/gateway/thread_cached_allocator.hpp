// An allocator for small objects made and freed on the same thread: the fields of an upstream
// response, parsed and dropped within one exchange on one gateway worker. Freed blocks of up
// to 512 bytes go to per-thread free lists (64-byte size classes, at most 1024 blocks each)
// and are handed out again, so a steady request mix stops calling malloc (glibc's own
// per-thread cache keeps only 7 blocks per size, fewer than a worker's exchanges in flight
// hold). A block freed on another thread joins that thread's lists: allowed, only not useful.
// Under AddressSanitizer it is plain new/delete, so use-after-free stays detectable.
#pragma once

#include <cstddef>

namespace sg::gateway {

namespace detail {
void* thread_cached_allocate(std::size_t bytes);
void thread_cached_deallocate(void* p, std::size_t bytes) noexcept;
}  // namespace detail

template <class T>
class ThreadCachedAllocator {
 public:
  using value_type = T;
  ThreadCachedAllocator() noexcept = default;
  template <class U>
  ThreadCachedAllocator(const ThreadCachedAllocator<U>&) noexcept {}  // NOLINT: rebinding
  T* allocate(std::size_t n) {
    return static_cast<T*>(detail::thread_cached_allocate(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    detail::thread_cached_deallocate(p, n * sizeof(T));
  }
  template <class U>
  bool operator==(const ThreadCachedAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace sg::gateway
