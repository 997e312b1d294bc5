// The in-process cache: LRU bounded by max_entries, each entry with its own TTL.
//
// An expired entry is a miss and is dropped when looked up; when full, set() evicts the least
// recently used entry (a get() hit counts as a use). Time comes from an injected clock so
// tests can move it. Thread-safe: one mutex guards the map and the recency list.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "server/cache/cache.hpp"

namespace sg::server {

class MemoryCache final : public Cache {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // max_entries of 0 is treated as 1. `clock` defaults to std::chrono::steady_clock::now.
  explicit MemoryCache(std::size_t max_entries, Clock clock = {});

  CacheLookup get(std::string_view key) override;
  // A ttl of zero or less stores nothing and drops any current value of `key`.
  void set(std::string_view key, std::string_view value, std::chrono::seconds ttl) override;
  Status erase(std::string_view key) override;
  Status ping() override { return Status::ok(); }
  std::string_view backend() const override { return "memory"; }
  bool may_block() const override { return false; }

  // Entries currently held, expired ones not yet dropped included.
  std::size_t size() const;

 private:
  struct Entry {
    std::string key;
    std::string value;
    std::chrono::steady_clock::time_point expires_at;
  };
  using Order = std::list<Entry>;  // front = most recently used

  void drop(Order::iterator it);

  const std::size_t max_entries_;
  const Clock clock_;
  mutable std::mutex mu_;
  Order order_;
  std::unordered_map<std::string, Order::iterator> index_;
};

}  // namespace sg::server
