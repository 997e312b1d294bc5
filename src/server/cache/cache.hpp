// A best-effort cache of serialized values by key, in front of Storage.
//
// Two implementations: an in-process LRU with TTL (default) and Redis. A cache failure is
// never fatal: get() reports kError and callers fall back to storage. All methods are
// thread-safe. Implementations bound every call in time (Redis: connect and command
// timeouts) so a dead cache cannot stall a request for long.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace sg::server {

struct CacheLookup {
  enum class Outcome { kHit, kMiss, kError } outcome = Outcome::kMiss;
  std::string value;  // set on kHit
};

class Cache {
 public:
  virtual ~Cache() = default;
  virtual CacheLookup get(std::string_view key) = 0;
  // Stores `value` for `ttl`. Failures are swallowed (counted by the implementation's
  // health) because a cache write is an optimisation.
  virtual void set(std::string_view key, std::string_view value, std::chrono::seconds ttl) = 0;
  // Removes `key`. Returns an error if the cache could not be reached (the caller logs it:
  // a stale entry may then live until its TTL).
  virtual Status erase(std::string_view key) = 0;
  // Checks that the cache answers now.
  virtual Status ping() = 0;
  // "memory" or "redis".
  virtual std::string_view backend() const = 0;
  // True when a call may wait on the network (Redis): callers keep such calls off I/O threads.
  virtual bool may_block() const = 0;
};

struct CacheOptions {
  std::size_t max_entries = 100000;                   // memory: LRU capacity
  std::chrono::milliseconds connect_timeout{200};     // redis
  std::chrono::milliseconds command_timeout{200};     // redis
  std::chrono::milliseconds reconnect_backoff{1000};  // redis: no retry sooner than this
  int pool_size = 8;                                  // redis connections
  std::string key_prefix = "sg:";                     // redis: namespace for our keys
};

// Opens "memory" or "redis://HOST:PORT[/DB]". Opening Redis does not require it to be up:
// a down Redis is reported by ping() and get() until it comes back.
Result<std::unique_ptr<Cache>> open_cache(const std::string& url, const CacheOptions& options);

}  // namespace sg::server
