// GatewayClient: what a backend asks of a running streamgate-gateway through its admin
// listener (bearer token): replace the whole config atomically, drain an endpoint and ask
// whether it has drained, read the per-track traffic counters from /metrics
// (track_traffic.hpp), the per-endpoint load from /admin/v1/stats and the viewing sessions per
// track from /admin/v1/sessions. Used by every backend that runs our gateway.
//
// Thread-safety: no mutable state; each call is one blocking request with a timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "control/session_drain.hpp"
#include "gateway/core/gateway_config.hpp"
#include "platform/backend.hpp"
#include "platform/track_traffic.hpp"

namespace sg::platform {

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
  // GET /admin/v1/stats?window=10: every endpoint's requests per second over the last 10 s
  // and its requests in flight now.
  Result<std::vector<EndpointLoad>> endpoint_load() const;
  // GET /admin/v1/sessions?active_within=S: per track, the viewing sessions pinned to it
  // (live, those with a request within `active_within`, time since the latest request).
  // Tracks without a live session may be absent.
  Result<std::map<std::string, control::TrackSessions>> sessions(
      std::chrono::seconds active_within) const;

  const std::string& admin_address() const { return admin_; }

 private:
  std::string admin_;
  std::string token_;
  std::chrono::milliseconds timeout_;
};

}  // namespace sg::platform
