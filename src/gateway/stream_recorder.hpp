// What an HLS request means for its track's streaming signals, found when the request
// arrives and recorded when its answer is complete: StreamStats (the sliding windows the
// admin API shows), the SessionTable (startup, session-minutes, the session's pinned track)
// and the streamgate_gateway_{playlist,segment,session,rebuffer,throughput}_* metrics.
//
// A request that is not HLS (classify_hls) costs the classification only. Runs on the
// proxy's worker threads; shared state is in GatewayState.
#pragma once

#include <optional>
#include <string>

#include "common/http/http_types.hpp"
#include "gateway/core/cmcd.hpp"
#include "gateway/core/hls_request.hpp"
#include "gateway/gateway_metrics.hpp"
#include "gateway/gateway_state.hpp"

namespace sg::gateway {

// The streaming side of one request.
struct StreamRequest {
  HlsKind kind = HlsKind::kNone;
  std::string session;   // the session key (CMCD sid, else the playback token); may be empty
  bool starved = false;  // CMCD bs
  std::optional<std::int64_t> throughput_kbps;  // CMCD mtp
  // When the request head arrived.
  WindowStats::Clock::time_point arrived{};
  // Request head to the upstream's response head (set by the proxy when one arrived).
  std::optional<double> ttfb_seconds;
};

// The streaming side of the request `head` (target and method), with its CMCD `data` when it
// carried some. kind kNone for anything but an HLS playlist or fMP4 GET/HEAD.
StreamRequest stream_request(const http::RequestHeader& head, const CmcdData* data);

// Records the answered request `req` (kind not kNone) of `track` with HTTP `status`, its
// last byte sent at `now`.
void record_stream(GatewayState& state, GatewayMetrics& metrics, const Track& track,
                   const StreamRequest& req, unsigned status, WindowStats::Clock::time_point now);

}  // namespace sg::gateway
