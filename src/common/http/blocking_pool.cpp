#include "common/http/blocking_pool.hpp"

#include "common/cpu_affinity.hpp"

namespace sg::http {

BlockingPool::BlockingPool(unsigned threads, std::size_t queue_limit, std::string thread_name)
    : threads_(threads == 0 ? 1 : threads),
      queue_limit_(queue_limit),
      thread_name_(std::move(thread_name)) {}

BlockingPool::~BlockingPool() { join(); }

void BlockingPool::start() {
  if (!workers_.empty()) return;
  guard_.emplace(io_.get_executor());
  for (unsigned i = 0; i < threads_; ++i) {
    workers_.emplace_back([this, name = thread_name_ + "-" + std::to_string(i)] {
      name_this_thread(name);
      io_.run();
    });
  }
}

void BlockingPool::join() {
  guard_.reset();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

bool BlockingPool::enter(bool bounded) {
  std::size_t n = pending_.load(std::memory_order_relaxed);
  do {
    if (bounded && n >= queue_limit_) {
      refused_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  } while (!pending_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
  return true;
}

}  // namespace sg::http
