// The metrics streamgate-gateway exports on its admin listener (/metrics), with fixed names.
#pragma once

#include "common/metrics.hpp"
#include "gateway/gateway_state.hpp"

namespace sg::gateway {

struct GatewayMetrics {
  // Registers the families, plus a collector that renders, from `state` at scrape time,
  // streamgate_gateway_upstream_healthy{track,endpoint} (1 available, 0 not: unhealthy,
  // ejected or draining), streamgate_gateway_upstream_outstanding{track,endpoint},
  // streamgate_gateway_route_weight{route,track} and streamgate_gateway_config_generation.
  GatewayMetrics(metrics::Registry& registry, const GatewayState& state);

  metrics::Registry& registry;
  // streamgate_gateway_requests_total{route,track,code}; track "none" when unrouted.
  metrics::Family<metrics::Counter>& requests;
  // streamgate_gateway_request_duration_seconds{route,track}: from the request head to the
  // end of the response, as the client saw it (a slow reader stretches it).
  metrics::Family<metrics::Histogram>& duration;
  // streamgate_gateway_upstream_response_seconds{route,track}: from the request sent upstream
  // (its head and body written) to the upstream's response head, the same buckets; what no
  // client can move, so canaries are judged on it. Observed for every upstream answer and
  // for attempts that timed out waiting for one (the time waited).
  metrics::Family<metrics::Histogram>& upstream_response;
  // streamgate_gateway_failed_attempts_total{route,track}: attempts that failed before any
  // response byte and were retried on another endpoint or track (the client's answer is
  // counted once, in requests_total of the track that gave it).
  metrics::Family<metrics::Counter>& failed_attempts;
  // streamgate_gateway_retries_total{route,track}
  metrics::Family<metrics::Counter>& retries;
  // streamgate_gateway_ejections_total{track,endpoint}
  metrics::Family<metrics::Counter>& ejections;
  // streamgate_gateway_errors_total{route,track,reason}: responses the gateway generated
  // (reason: connect_failed, upstream_reset, upstream_timeout, bad_upstream_response,
  // no_healthy_upstream, bad_request).
  metrics::Family<metrics::Counter>& errors;
  // streamgate_gateway_cmcd_requests_total{route,track}: answered requests that carried CMCD
  // data (the CMCD query parameter or a CMCD-* header), by the track that answered.
  metrics::Family<metrics::Counter>& cmcd_requests;
  // streamgate_gateway_cmcd_malformed_total{route,track}: those whose CMCD data was malformed
  // in whole or in part (the bad part is ignored; the viewer's request is served as usual).
  metrics::Family<metrics::Counter>& cmcd_malformed;
  // HLS streaming signals per track (stream_recorder.hpp), {route,track}:
  // streamgate_gateway_playlist_requests_total, _segment_requests_total (fMP4 byte ranges,
  // init sections included), _segment_errors_total (5xx), _segment_ttfb_seconds (request head
  // to the upstream's response head), _sessions_started_total (first segment delivered),
  // _session_startup_seconds (first playlist to first segment delivered),
  // _session_minutes_total, _rebuffer_reports_total (CMCD bs), _throughput_reports_total and
  // _throughput_kbps_total (CMCD mtp: their ratio is the mean). The collector adds
  // streamgate_gateway_sessions_tracked, _sessions_untracked_total and
  // streamgate_gateway_sessions_active{track} (sessions pinned to the track with a request in
  // the last 30 s, from one walk of the session table per scrape).
  metrics::Family<metrics::Counter>& playlist_requests;
  metrics::Family<metrics::Counter>& segment_requests;
  metrics::Family<metrics::Counter>& segment_errors;
  metrics::Family<metrics::Histogram>& segment_ttfb;
  metrics::Family<metrics::Counter>& sessions_started;
  metrics::Family<metrics::Histogram>& session_startup;
  metrics::Family<metrics::Counter>& session_minutes;
  metrics::Family<metrics::Counter>& rebuffer_reports;
  metrics::Family<metrics::Counter>& throughput_reports;
  metrics::Family<metrics::Counter>& throughput_kbps;
};

}  // namespace sg::gateway
