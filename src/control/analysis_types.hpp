// The vocabulary shared by the analysis judge and the rollout state machines: what was
// observed of one track's traffic, and what the judge concluded from it. Pure data; no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace sg::control {

// One track's traffic over a window, as measured in the traffic path (the gateway).
struct TrafficSample {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;  // 5xx, including gateway-generated 502/503/504
  // Latency histogram: counts[i] requests with latency in (bounds[i-1], bounds[i]] seconds;
  // counts has bounds.size() + 1 entries, the last one for latencies above bounds.back().
  std::vector<double> bounds;
  std::vector<std::uint64_t> counts;
  std::chrono::seconds window{0};
};

// The judge's conclusion about a canary (or a new colour) at one instant.
struct Verdict {
  enum class Outcome {
    kPass,          // enough evidence that it meets the thresholds
    kFail,          // enough evidence that it breaks a threshold (or is much worse than stable)
    kInconclusive,  // not enough traffic yet to decide either way
  };
  Outcome outcome = Outcome::kInconclusive;
  std::string reason;  // one line for humans: "error rate 4.8% > 1% (SPRT, 312 requests)"
  // The numbers behind it, for the history: name -> value (error_rate, p95_ms, requests,
  // llr_errors, threshold_error_rate, ...).
  std::vector<std::pair<std::string, double>> evidence;
  // Text evidence: the exit reason and log tail of a crashed replica, ...
  std::vector<std::pair<std::string, std::string>> details;
};

const char* outcome_name(Verdict::Outcome outcome);

}  // namespace sg::control
