// RedisSessions: the session cap across replicas, in one sorted set (member = session,
// score = last request in ms on Redis's clock).
#include <atomic>

#include "common/log.hpp"
#include "server/cache/redis_cache.hpp"
#include "server/media/stream_sessions.hpp"

namespace sg::server::media {
namespace {

// KEYS[1] the set; ARGV: window ms, max sessions, session ("" = only ask).
// Returns {admitted 0/1, new 0/1, active count, ms until the oldest expires}.
constexpr std::string_view kTouchScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if ARGV[3] ~= '' and redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, 0, n, 0}
end
if n < tonumber(ARGV[2]) then
  if ARGV[3] ~= '' then
    redis.call('ZADD', KEYS[1], now, ARGV[3])
    redis.call('PEXPIRE', KEYS[1], window)
    n = n + 1
  end
  return {1, 1, n, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, 0, n, tonumber(oldest[2]) + window - now}
)lua";

class RedisSessions final : public StreamSessions {
 public:
  RedisSessions(RedisEndpoint endpoint, SessionLimits limits)
      : limits_(limits), redis_(std::move(endpoint), CacheOptions{}), fallback_(limits) {}

  Admission touch(std::string_view session) override { return run(session); }
  Admission would_admit() override { return run({}); }
  std::size_t active() override {
    return redis_ok_.load() ? last_count_.load() : fallback_.active();
  }
  std::string_view backend() const override { return "redis"; }

 private:
  Admission run(std::string_view session) {
    auto r = redis_.eval_integers(
        kTouchScript, {"stream-sessions"},
        {std::to_string(std::chrono::milliseconds(limits_.window).count()),
         std::to_string(limits_.max_sessions), std::string(session)});
    if (!r || r->size() != 4) {
      if (redis_ok_.exchange(false)) {
        log::warn("stream sessions: Redis unavailable; counting this replica's sessions only",
                  {{"error", r ? std::string("bad reply") : r.error().message}});
      }
      return session.empty() ? fallback_.would_admit() : fallback_.touch(session);
    }
    if (!redis_ok_.exchange(true)) log::info("stream sessions: counting in Redis again");
    const auto& v = *r;
    last_count_.store(static_cast<std::size_t>(std::max<std::int64_t>(0, v[2])));
    Admission a;
    a.admitted = v[0] == 1;
    a.new_session = v[1] == 1;
    if (!a.admitted) {
      a.retry_after = std::max<std::chrono::seconds>(
          std::chrono::seconds(1),
          std::chrono::ceil<std::chrono::seconds>(std::chrono::milliseconds(v[3])));
    }
    return a;
  }

  const SessionLimits limits_;
  RedisCache redis_;
  MemorySessions fallback_;
  std::atomic<bool> redis_ok_{true};
  std::atomic<std::size_t> last_count_{0};
};

}  // namespace

Result<std::unique_ptr<StreamSessions>> open_stream_sessions(const std::string& cache_url,
                                                             const SessionLimits& limits) {
  if (cache_url == "memory") return std::unique_ptr<StreamSessions>(std::make_unique<MemorySessions>(limits));
  auto endpoint = parse_redis_url(cache_url);
  if (!endpoint) return endpoint.error();
  return std::unique_ptr<StreamSessions>(
      std::make_unique<RedisSessions>(std::move(*endpoint), limits));
}

}  // namespace sg::server::media
