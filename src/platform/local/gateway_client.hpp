// GatewayClient: what the local control plane asks of a running streamgate-gateway, through
// its admin listener (bearer token): replace the whole config atomically, drain an endpoint
// and ask whether it has drained, and read the per-track traffic counters from /metrics.
//
// Traffic counters come from the gateway's Prometheus counters (requests by track and code,
// the latency histogram by track): cumulative since the gateway started, so the engine
// subtracts a baseline taken when a rollout starts (see TrackTraffic::since) and the judge
// sees counts cumulated over the rollout, as it expects.
//
// Thread-safety: no mutable state; each call is one blocking request with a timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "control/analysis_types.hpp"
#include "gateway/core/gateway_config.hpp"

namespace sg::platform {

// Per-track cumulative counters read from the gateway: track -> sample (requests, 5xx,
// latency histogram with per-bucket counts).
struct TrackTraffic {
  std::map<std::string, control::TrafficSample> tracks;

  // The traffic of `track` since `baseline` was read. A counter that went backwards (the
  // gateway restarted) counts from zero.
  control::TrafficSample since(const TrackTraffic& baseline, const std::string& track) const;
};

// Parses the gateway's exposition text (Prometheus text format 0.0.4) into TrackTraffic.
Result<TrackTraffic> parse_track_traffic(std::string_view metrics_text);

struct EndpointDrainState {
  bool found = false;  // false: not in the gateway's current config
  bool drained = false;
  std::uint64_t outstanding = 0;
};

class GatewayClient {
 public:
  GatewayClient(std::string admin_address, std::string token,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

  // GET /health on the admin listener answers 200.
  bool alive() const;
  Result<gateway::GatewayConfig> config() const;
  // PUT /admin/v1/config: applies to new requests; requests in flight finish where they are.
  Status apply(const gateway::GatewayConfig& config) const;
  Status drain(const std::string& endpoint) const;
  Result<EndpointDrainState> endpoint(const std::string& endpoint) const;
  Result<TrackTraffic> traffic() const;

  const std::string& admin_address() const { return admin_; }

 private:
  std::string admin_;
  std::string token_;
  std::chrono::milliseconds timeout_;
};

}  // namespace sg::platform
