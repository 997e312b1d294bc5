#include "gateway/core/session_table.hpp"

#include <algorithm>
#include <functional>
#include <iterator>
#include <vector>

namespace sg::gateway {

SessionTable::SessionTable(SessionTableOptions options)
    : options_(options), per_shard_(std::max<std::size_t>(1, options.capacity / kShards)) {}

SessionTable::Shard& SessionTable::shard_for(std::string_view key) {
  return shards_[std::hash<std::string_view>{}(key) % kShards];
}

void SessionTable::sweep(Shard& shard, Clock::time_point now) {
  shard.last_sweep = now;
  const std::size_t before = shard.sessions.size();
  std::erase_if(shard.sessions,
                [&](const auto& kv) { return now - kv.second.last_seen >= options_.idle; });
  size_.fetch_sub(before - shard.sessions.size(), std::memory_order_relaxed);
}

SessionTable::Session* SessionTable::find_or_create(Shard& shard, std::string_view key,
                                                    std::string_view track, Clock::time_point now) {
  if (now - shard.last_sweep >= options_.idle / 4) sweep(shard, now);
  auto it = shard.sessions.find(std::string(key));
  if (it != shard.sessions.end() && now - it->second.last_seen >= options_.idle) {
    shard.sessions.erase(it);  // idle past the limit: a new session under an old key
    size_.fetch_sub(1, std::memory_order_relaxed);
    it = shard.sessions.end();
  }
  if (it == shard.sessions.end()) {
    if (shard.sessions.size() >= per_shard_) sweep(shard, now);
    if (shard.sessions.size() >= per_shard_) {
      untracked_.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    Session fresh;
    fresh.first_seen = now;
    fresh.last_seen = now;
    fresh.track = std::string(track);
    it = shard.sessions.emplace(std::string(key), std::move(fresh)).first;
    size_.fetch_add(1, std::memory_order_relaxed);
  }
  return &it->second;
}

std::optional<std::string> SessionTable::pin(std::string_view key, std::string_view track,
                                             Clock::time_point now) {
  if (key.empty() || key.size() > kMaxSessionKeyBytes) return std::nullopt;
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mu);
  Session* s = find_or_create(shard, key, track, now);
  if (!s) return std::nullopt;
  s->last_seen = std::max(s->last_seen, now);
  return s->track;
}

SessionTable::Outcome SessionTable::record(std::string_view key, HlsKind kind, bool delivered,
                                           std::string_view track, Clock::time_point arrived,
                                           Clock::time_point now) {
  Outcome out;
  if (key.empty() || key.size() > kMaxSessionKeyBytes || kind == HlsKind::kNone) return out;
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mu);
  Session* found = find_or_create(shard, key, track, std::min(arrived, now));
  if (!found) return out;
  Session& s = *found;
  out.tracked = true;
  s.last_seen = std::max(s.last_seen, now);
  if (kind == HlsKind::kPlaylist && !s.first_playlist) s.first_playlist = std::min(arrived, now);
  const bool media = kind == HlsKind::kSegment;
  if (media && delivered && !s.started) {
    s.started = true;
    out.started = true;
    if (s.first_playlist) {
      out.startup_seconds = std::chrono::duration<double>(now - *s.first_playlist).count();
    }
  }
  const std::int64_t minute =
      std::chrono::floor<std::chrono::minutes>(std::max(now, s.first_seen) - s.first_seen).count();
  if (minute > s.last_minute) {
    s.last_minute = minute;
    out.new_minute = true;
  }
  return out;
}

std::optional<std::string> SessionTable::pinned_track(std::string_view key, Clock::time_point now) {
  if (key.empty() || key.size() > kMaxSessionKeyBytes) return std::nullopt;
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mu);
  const auto it = shard.sessions.find(std::string(key));
  if (it == shard.sessions.end() || now - it->second.last_seen >= options_.idle) {
    return std::nullopt;
  }
  return it->second.track;
}

std::map<std::string, SessionTable::TrackActivity, std::less<>> SessionTable::track_activity(
    Clock::time_point now, Clock::duration active_within) const {
  // A handful of tracks: a short list, the last one hit checked first, costs less per session
  // than a map lookup.
  std::vector<std::pair<std::string, TrackActivity>> seen;
  std::size_t last = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    for (const auto& [key, s] : shard.sessions) {
      const Clock::duration since = std::max(Clock::duration::zero(), now - s.last_seen);
      if (since >= options_.idle) continue;  // forgotten at the next sweep
      if (last >= seen.size() || seen[last].first != s.track) {
        last = 0;
        while (last < seen.size() && seen[last].first != s.track) ++last;
        if (last == seen.size()) seen.emplace_back(s.track, TrackActivity{});
      }
      TrackActivity& a = seen[last].second;
      ++a.sessions;
      if (since < active_within) ++a.active;
      if (!a.idle || since < *a.idle) a.idle = since;
    }
  }
  return {std::make_move_iterator(seen.begin()), std::make_move_iterator(seen.end())};
}

}  // namespace sg::gateway
