#include "server/cache/memory_cache.hpp"

#include <algorithm>

namespace sg::server {

MemoryCache::MemoryCache(std::size_t max_entries, Clock clock)
    : max_entries_(std::max<std::size_t>(1, max_entries)),
      clock_(clock ? std::move(clock) : Clock(&std::chrono::steady_clock::now)) {}

CacheLookup MemoryCache::get(std::string_view key) {
  const auto now = clock_();
  std::lock_guard lock(mu_);
  auto it = index_.find(std::string(key));
  if (it == index_.end()) return {CacheLookup::Outcome::kMiss, {}};
  if (it->second->expires_at <= now) {
    drop(it->second);
    return {CacheLookup::Outcome::kMiss, {}};
  }
  order_.splice(order_.begin(), order_, it->second);
  return {CacheLookup::Outcome::kHit, it->second->value};
}

void MemoryCache::set(std::string_view key, std::string_view value, std::chrono::seconds ttl) {
  const auto expires_at = clock_() + ttl;
  std::lock_guard lock(mu_);
  std::string k(key);
  if (auto it = index_.find(k); it != index_.end()) drop(it->second);
  if (ttl <= std::chrono::seconds::zero()) return;
  order_.push_front(Entry{k, std::string(value), expires_at});
  index_.emplace(std::move(k), order_.begin());
  while (order_.size() > max_entries_) drop(std::prev(order_.end()));
}

Status MemoryCache::erase(std::string_view key) {
  std::lock_guard lock(mu_);
  if (auto it = index_.find(std::string(key)); it != index_.end()) drop(it->second);
  return Status::ok();
}

std::size_t MemoryCache::size() const {
  std::lock_guard lock(mu_);
  return order_.size();
}

void MemoryCache::drop(Order::iterator it) {
  index_.erase(it->key);
  order_.erase(it);
}

}  // namespace sg::server
