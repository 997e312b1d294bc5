// The vocabulary shared by the analysis judge and the rollout state machines: what was
// observed of one track's traffic, and what the judge concluded from it. Pure data; no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace sg::control {

// One track's HLS viewing traffic over a window, as the gateway measures it from playlist and
// segment requests and the CMCD data players send with them (gateway/core/stream_stats.hpp).
// All zero for a track nobody watched (API traffic only).
struct StreamingSample {
  std::uint64_t segments = 0;        // segment (and init section) requests answered
  std::uint64_t segment_errors = 0;  // of them answered with a 5xx
  // Segment time to first byte (request head to the upstream's response head), as
  // TrafficSample's latency histogram: ttfb_counts has ttfb_bounds.size() + 1 entries.
  std::vector<double> ttfb_bounds;
  std::vector<std::uint64_t> ttfb_counts;
  std::uint64_t sessions_started = 0;    // sessions whose first segment was delivered
  std::uint64_t session_minutes = 0;     // minutes of sessions with a request
  std::uint64_t rebuffer_reports = 0;    // requests whose CMCD said the buffer starved (bs)
  std::uint64_t throughput_reports = 0;  // requests with CMCD measured throughput (mtp)
  double throughput_kbps_sum = 0;        // the sum of those mtp values
};

// One track's traffic over a window, as measured in the traffic path (the gateway).
struct TrafficSample {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;  // 5xx, including gateway-generated 502/503/504
  // Latency histogram: counts[i] requests with latency in (bounds[i-1], bounds[i]] seconds;
  // counts has bounds.size() + 1 entries, the last one for latencies above bounds.back().
  std::vector<double> bounds;
  std::vector<std::uint64_t> counts;
  std::chrono::seconds window{0};
  StreamingSample streaming;  // the HLS part of the same requests, with viewers' signals
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
