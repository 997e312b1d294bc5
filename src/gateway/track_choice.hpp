// Which track of the route a request goes to.
//
// A request of a viewing session (a session key: CMCD sid, else the playback token; see
// stream_recorder.hpp) goes to the track its session is pinned to, whatever that track's
// weight is now, while the track is configured and has an available endpoint. A new session
// is pinned here, when its first request is routed, so its next request finds the pin even
// if it arrives before this one's answer is recorded (two racing first requests agree on
// one track). When the pinned track is unavailable the route decides and the pin stays.
// Any other request: the sticky key (route.sticky) when configured and present, else the
// schedule's exact weighted split, among the tracks with an available endpoint.
//
// Runs on the proxy's worker threads; shared state is in GatewayState.
#pragma once

#include <string>

#include "common/http/http_types.hpp"
#include "gateway/gateway_state.hpp"

namespace sg::gateway {

// The track for the request `head` with session key `session` (may be empty), or null when
// no track of the route has an available endpoint.
const Track* choose_track(GatewayState& state, const RouteTable& table,
                          const http::RequestHeader& head, const std::string& session,
                          Endpoint::Clock::time_point now);

}  // namespace sg::gateway
