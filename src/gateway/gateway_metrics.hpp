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
  // streamgate_gateway_request_duration_seconds{route,track}
  metrics::Family<metrics::Histogram>& duration;
  // streamgate_gateway_retries_total{route,track}
  metrics::Family<metrics::Counter>& retries;
  // streamgate_gateway_ejections_total{track,endpoint}
  metrics::Family<metrics::Counter>& ejections;
  // streamgate_gateway_errors_total{route,track,reason}: responses the gateway generated
  // (reason: connect_failed, upstream_reset, upstream_timeout, bad_upstream_response,
  // no_healthy_upstream, bad_request).
  metrics::Family<metrics::Counter>& errors;
};

}  // namespace sg::gateway
