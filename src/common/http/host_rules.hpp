// The Host header field rules of RFC 9112 section 3.2, which the HTTP server enforces before
// any handler runs: "A server MUST respond with a 400 (Bad Request) status code to any
// HTTP/1.1 request message that lacks a Host header field and to any request message that
// contains more than one Host header field line or a Host header field with an invalid field
// value." A valid value is uri-host [":" port] (RFC 9110 7.2, RFC 3986 3.2.2-3.2.3): an
// IP-literal in brackets, or a reg-name / IPv4 address of unreserved, percent-encoded and
// sub-delim characters, then optionally ':' and digits. An empty value is valid (a target URI
// without an authority). HTTP/1.0 requests may omit Host. Pure; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/http/http_types.hpp"

namespace sg::http {

// Whether `value` is a valid Host field value (see above).
bool valid_host_value(std::string_view value);

// Why `head` breaks the Host rules (the 400's message), or nullopt.
std::optional<std::string> host_field_error(const RequestHeader& head);

}  // namespace sg::http
