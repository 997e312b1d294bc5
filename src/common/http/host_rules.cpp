#include "common/http/host_rules.hpp"

namespace sg::http {
namespace {

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_unreserved(char c) { return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~'; }
bool is_sub_delim(char c) {
  switch (c) {
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
      return true;
    default:
      return false;
  }
}

// reg-name or IPv4address (a subset of reg-name): unreserved, pct-encoded, sub-delims.
bool valid_reg_name(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
      i += 2;
    } else if (!is_unreserved(c) && !is_sub_delim(c)) {
      return false;
    }
  }
  return true;
}

// The inside of an IP-literal: IPv6address or IPvFuture, checked for their alphabets.
bool valid_ip_literal(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_unreserved(c) && !is_sub_delim(c) && c != ':') return false;
  }
  return true;
}

bool valid_port(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

bool valid_host_value(std::string_view v) {
  std::string_view host = v;
  std::string_view port;
  if (!v.empty() && v.front() == '[') {
    const auto close = v.find(']');
    if (close == std::string_view::npos) return false;
    host = v.substr(1, close - 1);
    const std::string_view rest = v.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
    }
    return valid_ip_literal(host) && valid_port(port);
  }
  const auto colon = v.find(':');
  if (colon != std::string_view::npos) {
    host = v.substr(0, colon);
    port = v.substr(colon + 1);
  }
  return valid_reg_name(host) && valid_port(port);
}

std::optional<std::string> host_field_error(const RequestHeader& head) {
  auto [it, end] = head.equal_range(bhttp::field::host);
  if (it == end) {
    if (head.version() >= 11) return "an HTTP/1.1 request must carry a Host header field";
    return std::nullopt;
  }
  const std::string_view value = it->value();
  if (++it != end) return "the request carries more than one Host header field";
  if (!valid_host_value(value)) return "the Host header field is not a valid host[:port]";
  return std::nullopt;
}

}  // namespace sg::http
