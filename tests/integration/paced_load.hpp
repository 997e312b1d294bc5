// A gentle, bounded loopback load for integration tests that need steady traffic rather than
// a flood: `threads` clients each sending GETs through the gateway (alternately
// /api/v1/health and /api/v1/content?limit=5), 20 ms apart, on fresh connections, until the
// object is destroyed, at most `limit` long (240 s by default) and 12,000 requests per thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "integration/http_client.hpp"

namespace sg::test {

class PacedLoad {
 public:
  PacedLoad(std::uint16_t port, int threads,
            std::chrono::seconds limit = std::chrono::seconds(240)) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, port, limit] {
        const auto end = std::chrono::steady_clock::now() + limit;
        for (int i = 0; !stop_.load() && std::chrono::steady_clock::now() < end && i < 12000; ++i) {
          (void)http_get(port, i % 2 ? "/api/v1/health" : "/api/v1/content?limit=5");
          ++sent_;
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      });
    }
  }
  ~PacedLoad() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }
  PacedLoad(const PacedLoad&) = delete;
  PacedLoad& operator=(const PacedLoad&) = delete;
  std::uint64_t sent() const { return sent_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> sent_{0};
  std::vector<std::thread> threads_;
};

}  // namespace sg::test
