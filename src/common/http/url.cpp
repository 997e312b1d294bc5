#include "common/http/url.hpp"

namespace sg::http {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Target split_target(std::string_view target) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

std::string percent_encode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(in.size());
  for (const char ch : in) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      const char decoded = static_cast<char>(hi * 16 + lo);
      if (decoded == '\0') return std::nullopt;
      out += decoded;
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(
    std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    const auto amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (part.empty()) continue;
    const auto eq = part.find('=');
    auto key = percent_decode(part.substr(0, eq), true);
    auto value = percent_decode(
        eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1), true);
    if (!key || !value) return std::nullopt;
    out.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

std::string redact_url(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  const std::size_t authority = scheme_end + 3;
  const std::size_t authority_end = std::min(url.find_first_of("/?#", authority), url.size());
  std::string out(url.substr(0, authority));
  const std::string_view auth = url.substr(authority, authority_end - authority);
  const auto at = auth.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = auth.substr(0, at);
    const auto colon = userinfo.find(':');
    out += colon == std::string_view::npos ? userinfo : userinfo.substr(0, colon + 1);
    if (colon != std::string_view::npos) out += "***";
    out += auth.substr(at);
  } else {
    out += auth;
  }
  std::string_view rest = url.substr(authority_end);
  // password=... among the query parameters.
  const auto query = rest.find('?');
  if (query == std::string_view::npos) {
    out += rest;
    return out;
  }
  out += rest.substr(0, query + 1);
  rest.remove_prefix(query + 1);
  const auto fragment = rest.find('#');
  const std::string_view tail = fragment == std::string_view::npos ? "" : rest.substr(fragment);
  rest = rest.substr(0, fragment);
  for (;;) {
    const auto amp = rest.find('&');
    const std::string_view param = rest.substr(0, amp);
    out += param.starts_with("password=") ? std::string_view("password=***") : param;
    if (amp == std::string_view::npos) break;
    out += '&';
    rest.remove_prefix(amp + 1);
  }
  out += tail;
  return out;
}

}  // namespace sg::http
