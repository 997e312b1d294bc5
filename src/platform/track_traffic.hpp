// Per-track traffic as our gateway counts it: cumulative counters read from its Prometheus
// exposition (requests by track and code, failed attempts, the latency histogram by track).
// Shared by every backend that runs our gateway. The engine subtracts a baseline taken when a
// rollout starts (since()), so the judge sees counts cumulated over the rollout.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "control/analysis_types.hpp"

namespace sg::platform {

// Per-track cumulative counters read from the gateway: track -> sample (requests, 5xx,
// latency histogram with per-bucket counts).
struct TrackTraffic {
  std::map<std::string, control::TrafficSample> tracks;

  // The traffic of `track` since `baseline` was read. A counter that went backwards (the
  // gateway restarted) counts from zero.
  control::TrafficSample since(const TrackTraffic& baseline, const std::string& track) const;
};

// Parses the gateway's exposition text (Prometheus text format 0.0.4) into TrackTraffic:
// requests and 5xx from streamgate_gateway_requests_total, plus failed attempts that were
// retried elsewhere (streamgate_gateway_failed_attempts_total) as requests and errors of the
// track they failed on; latency from streamgate_gateway_upstream_response_seconds (the
// upstream's time to response head) when the gateway exports it, else from
// streamgate_gateway_request_duration_seconds. Each track's streaming part (HLS segments and
// the viewers' CMCD signals) from streamgate_gateway_segment_requests_total, _segment_errors_total,
// _segment_ttfb_seconds, _sessions_started_total, _session_minutes_total,
// _rebuffer_reports_total, _throughput_reports_total and _throughput_kbps_total.
Result<TrackTraffic> parse_track_traffic(std::string_view metrics_text);

}  // namespace sg::platform
