#include "gateway/request_rules.hpp"

#include <boost/beast/http/rfc7230.hpp>

namespace sg::gateway {

namespace bhttp = boost::beast::http;

bool retry_allowed(const http::RequestHeader& head) {
  switch (head.method()) {
    case bhttp::verb::get:
    case bhttp::verb::head:
    case bhttp::verb::put:
    case bhttp::verb::delete_:
    case bhttp::verb::options:
    case bhttp::verb::trace:
      return true;
    default:
      return head.find("Idempotency-Key") != head.end();
  }
}

void HopByHopFields::add_connection_tokens(std::string_view v) {
  while (!v.empty()) {
    const auto comma = v.find(',');
    std::string_view token = v.substr(0, comma);
    v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
    // OWS around list items is SP or HTAB (RFC 9110 5.6.1).
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
      token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (!token.empty()) named_.push_back(token);
  }
}

bool HopByHopFields::drops(bhttp::field name, std::string_view name_string) const {
  switch (name) {
    case bhttp::field::connection:
    case bhttp::field::keep_alive:
    case bhttp::field::proxy_connection:
    case bhttp::field::te:
    case bhttp::field::trailer:
    case bhttp::field::transfer_encoding:
    case bhttp::field::upgrade:
    case bhttp::field::proxy_authorization:
    case bhttp::field::proxy_authenticate:
    case bhttp::field::content_length:
    case bhttp::field::expect:
      return true;
    default:
      break;
  }
  for (std::string_view n : named_) {
    if (boost::beast::iequals(n, name_string)) return true;
  }
  return false;
}

std::string cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name)
      return std::string(pair.substr(eq + 1));
  }
  return {};
}

std::optional<std::string> unsupported_transfer_coding(const http::RequestHeader& head) {
  for (auto [it, end] = head.equal_range(bhttp::field::transfer_encoding); it != end; ++it) {
    for (const auto& coding : bhttp::token_list(it->value())) {
      if (!boost::beast::iequals(coding, "chunked")) return std::string(coding);
    }
  }
  return std::nullopt;
}

std::optional<std::string> framing_error(const http::RequestHeader& head) {
  const bool has_length = head.find(bhttp::field::content_length) != head.end();
  const bool has_te = head.find(bhttp::field::transfer_encoding) != head.end();
  if (has_length && has_te) return "request has both Content-Length and Transfer-Encoding";
  if (auto coding = unsupported_transfer_coding(head)) {
    return "transfer coding '" + *coding + "' is not supported (only chunked)";
  }
  return std::nullopt;
}

}  // namespace sg::gateway
