// The bearer-token check of every API that takes one (content writes, the gateway's admin
// API, the control API): "Authorization: Bearer TOKEN" (scheme case-insensitive, RFC 6750),
// compared in constant time against every accepted token, so neither which token nor how
// much of it matched shows in the answer's timing.
//
// Thread-safety: pure functions.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace sg::http {

enum class BearerCheck {
  kAccepted,
  kMissing,   // no Authorization header, or not "Bearer <token>": answer 401
  kRejected,  // a bearer token that is not accepted: answer 403
};

// Checks an Authorization header value against `accepted` (none accepted: kRejected for
// any token, kMissing without one).
BearerCheck check_bearer(std::string_view authorization, std::span<const std::string> accepted);

// Equality whose running time depends only on the lengths, not on where the texts differ.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace sg::http
