// TrackSchedule: the exact weighted split of a route's traffic between its tracks.
//
// A route gives every track an integer weight >= 0; the weights sum to 100. The schedule
// precomputes the smooth weighted round-robin sequence (the nginx algorithm) of length 100,
// so any 100 consecutive tickets send each track exactly its weight, and a small weight is
// spread evenly (95/5 puts one canary request in every 20, never two close together).
//
// Thread-safety: a TrackSchedule is immutable after create(); every const method may be
// called from any thread without locking. The caller owns the ticket counter (typically an
// std::atomic<std::uint64_t> incremented per request), so picking is lock-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace sg::gateway {

// One track of a route and its share of the traffic in percent.
struct TrackWeight {
  std::string track;
  int weight = 0;

  bool operator==(const TrackWeight&) const = default;
};

// A stable 64-bit hash of `key`: FNV-1a followed by the MurmurHash3 64-bit finalizer.
// It is the same in every process and on every build, unlike std::hash, so a sticky key
// maps to the same track on every gateway replica and after a restart.
std::uint64_t stable_hash(std::string_view key);

class TrackSchedule {
 public:
  // The total of the weights of a valid route.
  static constexpr int kTotalWeight = 100;

  // Builds the schedule. Fails with kInvalidArgument when `weights` is empty, a track name is
  // empty or repeated, a weight is negative, or the weights do not sum to 100; the message
  // names the offending track and numbers.
  static Result<TrackSchedule> create(std::vector<TrackWeight> weights);

  // The track index (into weights()) for request number `ticket` when all tracks may serve:
  // slot ticket % 100 of the sequence. When that slot's track is not eligible, the next slot
  // (cyclically) whose track is eligible. `eligible[i]` says whether track i may serve now
  // (e.g. it has a healthy endpoint); indices beyond eligible.size() count as not eligible.
  // A track of weight 0 never gets traffic. Returns nullopt when no track with weight > 0 is
  // eligible.
  std::optional<std::size_t> pick(std::uint64_t ticket, const std::vector<bool>& eligible) const;

  // The track for a sticky key (a header or cookie value): stable_hash(key) % 100 is placed
  // on the cumulative weights (track 0 owns [0, w0), track 1 owns [w0, w0 + w1), ...). The
  // same key and the same weights always give the same track; when only a small weight
  // changes, only the keys in the moved range change track. When that track is not eligible
  // the result is pick(stable_hash(key), eligible); nullopt when no weighted track is
  // eligible.
  std::optional<std::size_t> pick_sticky(std::string_view key,
                                         const std::vector<bool>& eligible) const;
  // The same for a key already hashed (the gateway hashes with a StickyKey, so that clients
  // cannot compute which values land on which track).
  std::optional<std::size_t> pick_sticky_hash(std::uint64_t key_hash,
                                              const std::vector<bool>& eligible) const;

  // The tracks and weights, in the order given to create().
  const std::vector<TrackWeight>& weights() const { return weights_; }
  std::size_t track_count() const { return weights_.size(); }
  // The index of the track named `track`, or nullopt.
  std::optional<std::size_t> index_of(std::string_view track) const;
  // The precomputed sequence of track indices, length 100 (for tests and the admin API).
  const std::vector<std::size_t>& sequence() const { return sequence_; }

 private:
  TrackSchedule() = default;

  std::vector<TrackWeight> weights_;
  std::vector<std::size_t> sequence_;  // track index per slot
};

}  // namespace sg::gateway
