// The Redis cache over hiredis's synchronous API.
//
// Up to pool_size connections, opened lazily with connect_timeout and used with
// command_timeout, so no call blocks longer than about connect + command timeout. Keys are
// stored as key_prefix + key. After any connection failure the cache counts as down for
// reconnect_backoff: until then every call fails at once without touching the network, and
// pooled connections are dropped (they point at the server that failed). Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/connection_pool.hpp"
#include "server/cache/cache.hpp"

struct redisContext;
struct redisReply;

namespace sg::server {

struct RedisEndpoint {
  std::string host;
  int port = 6379;
  int db = 0;
};

// Parses "redis://HOST[:PORT][/DB]"; kInvalidArgument naming the expected form otherwise.
Result<RedisEndpoint> parse_redis_url(const std::string& url);

class RedisCache final : public Cache {
 public:
  RedisCache(RedisEndpoint endpoint, const CacheOptions& options);
  ~RedisCache() override;

  CacheLookup get(std::string_view key) override;
  void set(std::string_view key, std::string_view value, std::chrono::seconds ttl) override;
  Status erase(std::string_view key) override;
  Status ping() override;
  std::string_view backend() const override { return "redis"; }
  bool may_block() const override { return true; }

  // Runs a Lua script (EVAL) whose reply is an integer or an array of integers; for other
  // data this service keeps in the same Redis (stream sessions). Each key gets key_prefix.
  Result<std::vector<std::int64_t>> eval_integers(std::string_view script,
                                                  const std::vector<std::string>& keys,
                                                  const std::vector<std::string>& args);

  // Calls that failed since construction (connection, timeout or server error).
  std::uint64_t failures() const { return failures_.load(); }

 private:
  struct ContextFree {
    void operator()(redisContext* c) const;
  };
  struct ReplyFree {
    void operator()(redisReply* r) const;
  };
  using ContextPtr = std::unique_ptr<redisContext, ContextFree>;
  using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

  // Sends one command (binary-safe arguments) and returns its reply; a server error reply
  // is returned as an Error too, but only connection failures mark the cache down.
  Result<ReplyPtr> command(std::string_view what, const std::vector<std::string_view>& args);
  using Pool = ConnectionPool<redisContext, ContextFree>;
  Result<Pool::Lease> acquire();
  Result<ContextPtr> connect();
  void mark_down(const std::string& reason);
  std::string describe() const;

  const RedisEndpoint endpoint_;
  const CacheOptions options_;
  std::atomic<std::uint64_t> failures_{0};
  Pool pool_;
  std::mutex mu_;  // guards down_until_ and last_failure_
  std::chrono::steady_clock::time_point down_until_{};
  std::string last_failure_;
};

}  // namespace sg::server
