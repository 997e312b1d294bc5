// Active playback sessions and the cap on them (--max-streams).
//
// A session is one signed playback token (its SESSION part, playback_token.hpp). It is
// active while it made a request within the window (60 s). touch() is called for every
// playlist and segment request: a session already active is always admitted (a session in
// progress is never cut off); a new one only while fewer than `max_sessions` are active.
// When refused, retry_after says when the oldest active session would expire if it made no
// further request (at least 1 s).
//
// Two implementations: MemorySessions counts this replica's sessions; RedisSessions counts
// all replicas' in one Redis sorted set (atomically, by a Lua script, on Redis's clock) and
// falls back to its own MemorySessions while Redis is unreachable. Both hold at most
// `max_sessions` entries, each dropped one window after its last request: memory and time
// are bounded. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.hpp"

namespace sg::server::media {

struct Admission {
  bool admitted = false;
  bool new_session = false;  // admitted and not active before
  std::chrono::seconds retry_after{0};  // when refused
};

struct SessionLimits {
  std::size_t max_sessions = 1000;
  std::chrono::seconds window{60};
};

class StreamSessions {
 public:
  virtual ~StreamSessions() = default;
  // Records a request of `session` now and decides whether it may proceed.
  virtual Admission touch(std::string_view session) = 0;
  // Whether a new session would be admitted now (nothing is recorded).
  virtual Admission would_admit() = 0;
  // Sessions active now (for Redis: across replicas, as of the latest answer).
  virtual std::size_t active() = 0;
  // "memory" or "redis".
  virtual std::string_view backend() const = 0;
};

class MemorySessions final : public StreamSessions {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  explicit MemorySessions(SessionLimits limits, Clock clock = {});

  Admission touch(std::string_view session) override;
  Admission would_admit() override;
  std::size_t active() override;
  std::string_view backend() const override { return "memory"; }

 private:
  struct Entry {
    std::string session;
    std::chrono::steady_clock::time_point last_seen;
  };
  using Order = std::list<Entry>;  // front = least recently seen
  void expire(std::chrono::steady_clock::time_point now);  // mu_ held
  Admission refused(std::chrono::steady_clock::time_point now) const;

  const SessionLimits limits_;
  const Clock clock_;
  std::mutex mu_;
  Order order_;
  std::unordered_map<std::string, Order::iterator> index_;
};

// Opens the session registry for the cache URL: "memory" -> MemorySessions,
// "redis://..." -> RedisSessions (which does not need Redis to be up yet).
Result<std::unique_ptr<StreamSessions>> open_stream_sessions(const std::string& cache_url,
                                                             const SessionLimits& limits);

}  // namespace sg::server::media
