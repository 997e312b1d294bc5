// Clock: the time source of control loops, injected so tests drive them on simulated time.
// now() is wall-clock time (what persisted times and reports use); steady() never goes
// backwards (what timers and back-offs use). ManualClock moves only when told to.
//
// Thread-safety: SystemClock is stateless; ManualClock is safe to read from any thread while
// one thread advances it.
#pragma once

#include <atomic>
#include <chrono>

namespace sg {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point now() const = 0;
  virtual std::chrono::steady_clock::time_point steady() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point steady() const override {
    return std::chrono::steady_clock::now();
  }
};

class ManualClock final : public Clock {
 public:
  // Starts at `start` (wall) and at an arbitrary steady point.
  explicit ManualClock(std::chrono::system_clock::time_point start) : offset_(0), start_(start) {}

  std::chrono::system_clock::time_point now() const override {
    return start_ + std::chrono::nanoseconds(offset_.load());
  }
  std::chrono::steady_clock::time_point steady() const override {
    return std::chrono::steady_clock::time_point(std::chrono::hours(1000)) +
           std::chrono::nanoseconds(offset_.load());
  }
  void advance(std::chrono::nanoseconds d) { offset_.fetch_add(d.count()); }

 private:
  std::atomic<std::int64_t> offset_;
  std::chrono::system_clock::time_point start_;
};

}  // namespace sg
