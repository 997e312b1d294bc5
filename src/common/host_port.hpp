// HOST:PORT as operators write listener and endpoint addresses: "127.0.0.1:8080",
// "[::1]:9090", "db.internal:5432". One parser for every flag, config key and URL authority
// that takes one, so they all accept and refuse the same texts with the same messages.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace sg {

struct HostPort {
  std::string host;  // without brackets: "::1", "127.0.0.1", "db.internal"
  std::uint16_t port = 0;

  // "127.0.0.1:8080", "[::1]:9090": brackets again around an IPv6 literal.
  std::string text() const;
  bool operator==(const HostPort&) const = default;
};

struct HostPortRules {
  bool allow_port_zero = false;     // a listener's "any free port"
  bool require_ip_literal = false;  // refuse names (for callers that do not resolve)
};

// Parses `text`. The host is an IPv4 literal, a bracketed IPv6 literal or a DNS name
// ([A-Za-z0-9.-_], 1..253 characters); the port is 1..65535 (0 too with allow_port_zero),
// decimal digits only. Errors (kInvalidArgument) quote the text and say what is wrong:
// "'localhost' is not HOST:PORT", "'h:99999' has no valid port (1..65535)".
Result<HostPort> parse_host_port(std::string_view text, HostPortRules rules = {});

// True when `host` (as HostPort::host holds it) can only be reached from this machine: an
// IPv4 literal in 127.0.0.0/8, "::1" or "localhost". "0.0.0.0", "::" and other names are not.
bool is_loopback_host(std::string_view host);

// HOST:PORT with HOST an IP literal: a name is resolved (IPv4 first, blocking getaddrinfo); the
// text as given when it does not parse or the name does not resolve (the call that uses it
// then fails naming it).
std::string resolve_host_port(const std::string& address);

}  // namespace sg
