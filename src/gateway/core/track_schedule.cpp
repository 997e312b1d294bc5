#include "gateway/core/track_schedule.hpp"

#include <set>

namespace sg::gateway {
namespace {

Error invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, "route weights: " + std::move(message));
}

// The nginx smooth weighted round-robin: each step every track earns its weight, the
// richest track (first on ties) is picked and pays the total. Over one period of length
// `total` each track is picked exactly `weight` times, and picks of a track are spread
// as evenly as the integers allow.
std::vector<std::size_t> smooth_sequence(const std::vector<TrackWeight>& weights, int total) {
  std::vector<int> current(weights.size(), 0);
  std::vector<std::size_t> sequence;
  sequence.reserve(static_cast<std::size_t>(total));
  for (int step = 0; step < total; ++step) {
    std::size_t best = 0;
    for (std::size_t i = 0; i < weights.size(); ++i) {
      current[i] += weights[i].weight;
      if (current[i] > current[best]) best = i;
    }
    current[best] -= total;
    sequence.push_back(best);
  }
  return sequence;
}

bool is_eligible(const std::vector<bool>& eligible, std::size_t track) {
  return track < eligible.size() && eligible[track];
}

}  // namespace

std::uint64_t stable_hash(std::string_view key) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64 offset basis
  for (unsigned char c : key) {
    h ^= c;
    h *= 0x100000001b3ULL;  // FNV-1a 64 prime
  }
  // FNV-1a's low bits mix poorly for short keys; the finalizer spreads them before the % 100.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

Result<TrackSchedule> TrackSchedule::create(std::vector<TrackWeight> weights) {
  if (weights.empty()) return invalid("at least one track is required");
  std::set<std::string> seen;
  long long sum = 0;
  for (const auto& w : weights) {
    if (w.track.empty()) return invalid("a track name must not be empty");
    if (!seen.insert(w.track).second) return invalid("track '" + w.track + "' appears twice");
    if (w.weight < 0 || w.weight > kTotalWeight) {
      return invalid("track '" + w.track + "': weight must be 0..100, got " +
                     std::to_string(w.weight));
    }
    sum += w.weight;
  }
  if (sum != kTotalWeight) return invalid("weights must sum to 100, got " + std::to_string(sum));
  TrackSchedule schedule;
  schedule.sequence_ = smooth_sequence(weights, kTotalWeight);
  schedule.weights_ = std::move(weights);
  return schedule;
}

std::optional<std::size_t> TrackSchedule::pick(std::uint64_t ticket,
                                               const std::vector<bool>& eligible) const {
  const std::size_t len = sequence_.size();
  const std::size_t start = static_cast<std::size_t>(ticket % len);
  // Every slot holds a track of weight > 0, so scanning one period visits all of them.
  for (std::size_t step = 0; step < len; ++step) {
    const std::size_t track = sequence_[(start + step) % len];
    if (is_eligible(eligible, track)) return track;
  }
  return std::nullopt;
}

std::optional<std::size_t> TrackSchedule::pick_sticky(std::string_view key,
                                                      const std::vector<bool>& eligible) const {
  return pick_sticky_hash(stable_hash(key), eligible);
}

std::optional<std::size_t> TrackSchedule::pick_sticky_hash(
    std::uint64_t h, const std::vector<bool>& eligible) const {
  const int point = static_cast<int>(h % kTotalWeight);
  int upper = 0;
  for (std::size_t i = 0; i < weights_.size(); ++i) {
    upper += weights_[i].weight;
    if (point < upper) {
      if (is_eligible(eligible, i)) return i;
      break;
    }
  }
  return pick(h, eligible);
}

std::optional<std::size_t> TrackSchedule::index_of(std::string_view track) const {
  for (std::size_t i = 0; i < weights_.size(); ++i) {
    if (weights_[i].track == track) return i;
  }
  return std::nullopt;
}

}  // namespace sg::gateway
