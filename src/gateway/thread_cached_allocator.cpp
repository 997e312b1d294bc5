#include "gateway/thread_cached_allocator.hpp"

#include <array>
#include <new>
#include <vector>

namespace sg::gateway::detail {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCache = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kCache = false;
#else
constexpr bool kCache = true;
#endif
#else
constexpr bool kCache = true;
#endif

constexpr std::size_t kClassBytes = 64;
constexpr std::size_t kClasses = 8;  // up to 512 bytes
constexpr std::size_t kMaxPerClass = 1024;

struct FreeLists {
  std::array<std::vector<void*>, kClasses> lists;
  ~FreeLists() {
    for (auto& l : lists) {
      for (void* p : l) ::operator delete(p);
    }
  }
};

FreeLists& free_lists() {
  thread_local FreeLists lists;
  return lists;
}

}  // namespace

void* thread_cached_allocate(std::size_t bytes) {
  if (!kCache || bytes > kClassBytes * kClasses) return ::operator new(bytes);
  const std::size_t c = bytes == 0 ? 0 : (bytes - 1) / kClassBytes;
  auto& l = free_lists().lists[c];
  if (!l.empty()) {
    void* p = l.back();
    l.pop_back();
    return p;
  }
  return ::operator new((c + 1) * kClassBytes);
}

void thread_cached_deallocate(void* p, std::size_t bytes) noexcept {
  if (!kCache || bytes > kClassBytes * kClasses) {
    ::operator delete(p);
    return;
  }
  const std::size_t c = bytes == 0 ? 0 : (bytes - 1) / kClassBytes;
  auto& l = free_lists().lists[c];
  if (l.size() >= kMaxPerClass) {
    ::operator delete(p);
    return;
  }
  try {
    l.push_back(p);
  } catch (...) {
    ::operator delete(p);
  }
}

}  // namespace sg::gateway::detail
