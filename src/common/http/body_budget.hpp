// BodyBudget: one process-wide allowance of request-body bytes held in memory at once.
//
// A server that buffers bodies (JSON writes, the gateway's replayable bodies) could otherwise
// be made to hold max_body_bytes times max_connections. Every buffered body takes its bytes
// from the budget before it holds them (a declared Content-Length up front, a chunked body as
// it grows) and gives them back when the exchange ends; a body that does not fit is refused
// (the HTTP server answers 503 from the head, before any byte is read) instead of allocated.
//
// Thread-safety: every method may be called from any thread (one atomic counter). A Lease
// belongs to one exchange on one thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace sg::http {

class BodyBudget {
 public:
  // `limit` bytes in all; 0 refuses every take().
  explicit BodyBudget(std::uint64_t limit) : limit_(limit) {}
  BodyBudget(const BodyBudget&) = delete;
  BodyBudget& operator=(const BodyBudget&) = delete;

  std::uint64_t limit() const { return limit_; }
  // Bytes held by leases now.
  std::uint64_t in_use() const { return used_.load(std::memory_order_relaxed); }

  // Bytes an exchange holds; given back on destruction.
  class Lease {
   public:
    explicit Lease(BodyBudget& budget) : budget_(&budget) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { release(); }

    // Raises what this lease holds to `total` bytes (never lowers it). False, holding what it
    // held before, when the budget cannot give the difference.
    bool hold(std::uint64_t total);
    std::uint64_t held() const { return held_; }
    void release();

   private:
    BodyBudget* budget_;
    std::uint64_t held_ = 0;
  };

 private:
  bool take(std::uint64_t n);
  void give(std::uint64_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }

  const std::uint64_t limit_;
  std::atomic<std::uint64_t> used_{0};
};

inline bool BodyBudget::take(std::uint64_t n) {
  std::uint64_t used = used_.load(std::memory_order_relaxed);
  do {
    if (n > limit_ || used > limit_ - n) return false;
  } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
  return true;
}

inline bool BodyBudget::Lease::hold(std::uint64_t total) {
  if (total <= held_) return true;
  if (!budget_->take(total - held_)) return false;
  held_ = total;
  return true;
}

inline void BodyBudget::Lease::release() {
  if (held_ > 0) budget_->give(held_);
  held_ = 0;
}

}  // namespace sg::http
