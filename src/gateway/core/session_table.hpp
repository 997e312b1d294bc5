// SessionTable: the viewing sessions the gateway has seen, keyed by the session key
// (hls_request.hpp: CMCD sid, else the playback token), for startup time, session-minutes
// and pinning a session to the track it started on.
//
// A session is created by its first HLS request (playlist or segment) and holds: when its
// first playlist request arrived, whether its first segment was delivered (the session
// "started"), the minute of the session last counted, and the track it was pinned to.
// Startup time is first playlist request to first segment delivered (the segment's last
// byte sent); a session whose first request is a segment starts without a startup time.
//
// Bounds: at most `capacity` sessions (split over kShards shards by key hash); a session
// idle (no request) for `idle` is forgotten, found by a sweep of its shard at most every
// idle/4 and whenever the shard is full. A new session that finds its shard full of live
// sessions is not tracked (record() says so; its requests are still counted per track, and
// it is routed by the weights). Keys longer than kMaxSessionKeyBytes are not tracked.
// Memory: about 150 bytes plus the key per session.
//
// Thread-safety: every method may be called from any thread (one mutex per shard).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <map>
#include <unordered_map>

#include "gateway/core/hls_request.hpp"

namespace sg::gateway {

struct SessionTableOptions {
  std::size_t capacity = 200000;
  std::chrono::seconds idle{300};
};

class SessionTable {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kShards = 16;

  explicit SessionTable(SessionTableOptions options = {});

  // What one answered request of a session meant.
  struct Outcome {
    bool tracked = false;                   // the session is (now) in the table
    bool started = false;                   // this request delivered the session's first segment
    std::optional<double> startup_seconds;  // with `started`, when a playlist came first
    bool new_minute = false;                // the session's first request in a new minute of it
  };
  // Records an answered request of `kind` for session `key`, which arrived at `arrived` and
  // was answered (its last byte sent) at `now`; `delivered`: a 2xx answer. `track`: the
  // track that answered, pinned when the session is new (an existing session keeps its pin).
  Outcome record(std::string_view key, HlsKind kind, bool delivered, std::string_view track,
                 Clock::time_point arrived, Clock::time_point now);
  // The same, for a request that arrived when it was answered (tests).
  Outcome record(std::string_view key, HlsKind kind, bool delivered, std::string_view track,
                 Clock::time_point now) {
    return record(key, kind, delivered, track, now, now);
  }

  // Pins session `key` to `track` when it is new (or was idle past the limit) and returns the
  // track it is pinned to: `track`, or the one an earlier request pinned (two first requests
  // racing on two workers agree on one). nullopt when the session cannot be tracked (empty or
  // overlong key, shard full of live sessions). Called when a request is routed, so the
  // session's next request, which may arrive before this one's answer is recorded, finds it.
  std::optional<std::string> pin(std::string_view key, std::string_view track,
                                 Clock::time_point now);

  // The track session `key` is pinned to, or nullopt (unknown, idle past the limit).
  std::optional<std::string> pinned_track(std::string_view key, Clock::time_point now);

  // The viewing activity on one track, as the sessions pinned to it show it.
  struct TrackActivity {
    std::size_t sessions = 0;  // live sessions pinned to the track (a request within `idle`)
    std::size_t active = 0;    // of those, with a request within `active_within`
    // Since the latest request of any of them (0 when one is newer than `now`); nullopt
    // when the track has no live session.
    std::optional<Clock::duration> idle;
  };
  // Per track, the live sessions pinned to it (tracks without one are absent). For the admin
  // API and the metrics collector, not the request path: it walks the whole table, taking
  // each shard's mutex in turn. Measured: about 40 ms for a full table (200,000 sessions,
  // ~200 ns each, mostly cache misses), so a request of a session in the shard being walked
  // may wait up to ~2.5 ms; callers poll it at most about once a second.
  std::map<std::string, TrackActivity, std::less<>> track_activity(
      Clock::time_point now, Clock::duration active_within) const;

  // Sessions held now (live or not yet swept).
  std::size_t size() const { return size_.load(std::memory_order_relaxed); }
  // New sessions not tracked because their shard was full.
  std::uint64_t untracked() const { return untracked_.load(std::memory_order_relaxed); }

 private:
  struct Session {
    Clock::time_point first_seen{};
    Clock::time_point last_seen{};
    std::optional<Clock::time_point> first_playlist;
    bool started = false;
    std::int64_t last_minute = -1;
    std::string track;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Session> sessions;
    Clock::time_point last_sweep{};
  };
  Shard& shard_for(std::string_view key);
  // Forgets the shard's sessions idle past the limit (caller holds its mutex).
  void sweep(Shard& shard, Clock::time_point now);
  // The live session `key` of `shard`, created pinned to `track` when absent or idle past the
  // limit; null when the shard is full of live sessions (caller holds its mutex).
  Session* find_or_create(Shard& shard, std::string_view key, std::string_view track,
                          Clock::time_point now);

  SessionTableOptions options_;
  std::size_t per_shard_;
  std::array<Shard, kShards> shards_;
  std::atomic<std::size_t> size_{0};
  std::atomic<std::uint64_t> untracked_{0};
};

}  // namespace sg::gateway
