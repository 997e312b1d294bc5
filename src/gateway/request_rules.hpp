// The gateway's request rules, kept pure so they are unit-tested and fuzzed directly:
// framing checks against request smuggling, the header an upstream receives, which
// requests may be retried, and cookie lookup for stickiness.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/http/http_types.hpp"

namespace sg::gateway {

// Why the request's framing cannot be trusted or forwarded (RFC 9112 6.3: both
// Content-Length and Transfer-Encoding; 6.1: a transfer coding other than chunked, which the
// gateway would otherwise drop on the way upstream), or nullopt. Beast itself rejects
// duplicate or invalid Content-Length and invalid header bytes; the HTTP server refuses a
// Transfer-Encoding without a final chunked coding or on HTTP/1.0 before any handler runs.
std::optional<std::string> framing_error(const http::RequestHeader& head);

// The first transfer coding other than chunked, if any (answered with 501).
std::optional<std::string> unsupported_transfer_coding(const http::RequestHeader& head);

// Removes hop-by-hop fields (RFC 9110 7.6.1: Connection and the fields it names, Keep-Alive,
// Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade) plus Content-Length and Expect: each side
// of the gateway gets framing and connection fields of its own.
void strip_hop_by_hop(http::bhttp::fields& fields);

// The head sent upstream for `client`: hop-by-hop fields removed, HTTP/1.1, X-Request-Id
// set, the client address appended to X-Forwarded-For. Framing is set by the caller.
http::RequestHeader upstream_head(const http::RequestHeader& client, std::string_view request_id,
                                  std::string_view peer_address);

// Idempotent methods (RFC 9110 9.2.2), or any request carrying Idempotency-Key.
bool retry_allowed(const http::RequestHeader& head);

// The value of cookie `name` in a Cookie header, or "".
std::string cookie_value(std::string_view header, std::string_view name);

}  // namespace sg::gateway
