// Deterministic simulated traffic for the control tests: requests with a given error rate and
// latency, accumulated into a TrafficSample the way the gateway's per-track stats would be.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "control/analysis_types.hpp"

namespace sg::control::test {

// Prometheus' default latency buckets, in seconds.
inline const std::vector<double> kBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                            0.5,   1,    2.5,   5,    10};

// mt19937_64 is specified bit for bit by the standard, and so is this mapping to [0, 1), so
// every platform draws the same traffic.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : gen_(seed) {}
  double uniform() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }

 private:
  std::mt19937_64 gen_;
};

inline TrafficSample empty_sample() {
  TrafficSample s;
  s.bounds = kBounds;
  s.counts.assign(kBounds.size() + 1, 0);
  return s;
}

inline void add_latency(TrafficSample& s, double seconds, std::uint64_t n = 1) {
  std::size_t i = 0;
  while (i < s.bounds.size() && seconds > s.bounds[i]) ++i;
  s.counts[i] += n;
}

// Adds `n` requests: each an error with probability `error_rate`, each with a latency drawn
// uniformly in [0.5, 1.5) x `latency`.
inline void add_requests(TrafficSample& s, std::uint64_t n, double error_rate, double latency,
                         Rng& rng) {
  for (std::uint64_t i = 0; i < n; ++i) {
    ++s.requests;
    if (rng.uniform() < error_rate) ++s.errors;
    add_latency(s, latency * (0.5 + rng.uniform()));
  }
}

// `n` requests, `errors` of them errors, all with exactly `latency` seconds.
inline TrafficSample fixed_sample(std::uint64_t n, std::uint64_t errors, double latency) {
  TrafficSample s = empty_sample();
  s.requests = n;
  s.errors = errors;
  add_latency(s, latency, n);
  return s;
}

}  // namespace sg::control::test
