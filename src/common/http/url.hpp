// Request-target helpers: splitting path and query, percent-decoding, query parameters.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sg::http {

struct Target {
  std::string_view path;   // before '?'
  std::string_view query;  // after '?', without it; empty when absent
};
Target split_target(std::string_view target);

// Percent-decodes `in` ('+' is a space in query components). nullopt when an escape is
// malformed or decodes to a NUL byte.
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space);

// Percent-encodes every byte but the unreserved ones (RFC 3986: ALPHA, DIGIT, - . _ ~), so
// the result is safe as a query component or a path segment.
std::string percent_encode(std::string_view in);

// `url` fit for a log line or a message: the password of its userinfo
// ("postgresql://user:SECRET@host/db", "redis://:SECRET@host") and the value of any
// password= query parameter ("...?password=SECRET") replaced by "***". Anything that does not
// look like scheme://... is returned unchanged.
std::string redact_url(std::string_view url);

// Decoded key/value pairs in order; nullopt when any component is malformed.
std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view query);

}  // namespace sg::http
