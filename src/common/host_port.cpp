#include "common/host_port.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <boost/asio/ip/address.hpp>
#include <charconv>

namespace sg {
namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

Error invalid(std::string_view text, const std::string& why) {
  return make_error(ErrorCode::kInvalidArgument, "'" + std::string(text) + "' " + why);
}

}  // namespace

std::string HostPort::text() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<HostPort> parse_host_port(std::string_view text, HostPortRules rules) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return invalid(text, "is not HOST:PORT (e.g. 127.0.0.1:8080)");
  }
  const std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  const unsigned min_port = rules.allow_port_zero ? 0 : 1;
  if (port_text.empty() || port_text.size() > 5 || port_text.front() == '+' ||
      ec != std::errc() || end != port_text.data() + port_text.size() || port < min_port ||
      port > 65535) {
    return invalid(text, "has no valid port (" + std::to_string(min_port) + "..65535)");
  }
  HostPort out;
  out.port = static_cast<std::uint16_t>(port);
  std::string_view host = text.substr(0, colon);
  const bool bracketed = host.front() == '[';
  if (bracketed) {
    if (host.size() < 3 || host.back() != ']') return invalid(text, "has an unclosed '['");
    host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code aec;
  const auto address = boost::asio::ip::make_address(std::string(host), aec);
  if (!aec) {
    if (address.is_v6() != bracketed) {
      return invalid(text, address.is_v6() ? "needs brackets around its IPv6 address ([::1]:80)"
                                           : "has brackets around an IPv4 address");
    }
    out.host = std::string(host);
    return out;
  }
  if (bracketed) return invalid(text, "has no valid IPv6 address in brackets");
  if (rules.require_ip_literal) {
    return invalid(text, "must name an IP address, not a host name (e.g. 127.0.0.1:8080)");
  }
  if (host.size() > 253) return invalid(text, "has a host name over 253 characters");
  for (char c : host) {
    if (!is_name_char(c)) return invalid(text, "has an invalid character in its host name");
  }
  out.host = std::string(host);
  return out;
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr v4{};
  const std::string text(host);
  return ::inet_pton(AF_INET, text.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

std::string resolve_host_port(const std::string& address) {
  auto hp = parse_host_port(address);
  if (!hp) return address;
  if (parse_host_port(address, {.require_ip_literal = true})) return address;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(hp->host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
    return address;
  }
  char ip[64] = {};
  ::getnameinfo(found->ai_addr, found->ai_addrlen, ip, sizeof ip, nullptr, 0, NI_NUMERICHOST);
  ::freeaddrinfo(found);
  return HostPort{ip, hp->port}.text();
}

}  // namespace sg
