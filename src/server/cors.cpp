#include "server/cors.hpp"

#include <algorithm>
#include <boost/beast/core/string.hpp>

namespace sg::server {
namespace {

namespace bhttp = http::bhttp;

constexpr std::string_view kExposed =
    "Content-Range, Accept-Ranges, Content-Length, ETag, X-Request-Id, X-StreamGate-Version";
constexpr std::string_view kReadHeaders = "Range, If-Range, If-None-Match, X-Request-Id";
constexpr std::string_view kWriteHeaders =
    "Authorization, Content-Type, If-Match, Idempotency-Key, Range, If-Range, If-None-Match, "
    "X-Request-Id";
constexpr std::string_view kMaxAge = "600";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether every item of the comma-separated `list` is one of `allowed` (case-insensitive).
// `bad` receives the first that is not.
bool all_in(std::string_view list, std::string_view allowed, std::string& bad) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    const std::string_view item = trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (item.empty()) continue;
    bool found = false;
    std::string_view a = allowed;
    while (!a.empty() && !found) {
      const auto c = a.find(',');
      found = boost::beast::iequals(trim(a.substr(0, c)), item);
      a = c == std::string_view::npos ? std::string_view{} : a.substr(c + 1);
    }
    if (!found) {
      bad = std::string(item);
      return false;
    }
  }
  return true;
}

bool is_read(bhttp::verb v) { return v == bhttp::verb::get || v == bhttp::verb::head; }

void add_vary(http::Response& res, std::string_view what) {
  auto it = res.msg.find(bhttp::field::vary);
  if (it == res.msg.end()) {
    res.msg.set(bhttp::field::vary, what);
  } else {
    res.msg.set(bhttp::field::vary, std::string(it->value()) + ", " + std::string(what));
  }
}

http::Response refuse(std::string message) {
  return http::json_error(bhttp::status::forbidden, "cors_forbidden", message);
}

}  // namespace

bool valid_origin(std::string_view origin) {
  if (origin == "null") return true;
  std::string_view rest;
  if (origin.starts_with("https://")) {
    rest = origin.substr(8);
  } else if (origin.starts_with("http://")) {
    rest = origin.substr(7);
  } else {
    return false;
  }
  if (rest.empty() || rest.size() > 261) return false;
  for (char c : rest) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

CorsPolicy::CorsPolicy(std::vector<std::string> read_origins,
                       std::vector<std::string> write_origins)
    : read_(std::move(read_origins)), write_(std::move(write_origins)) {
  any_reader_ = std::find(read_.begin(), read_.end(), "*") != read_.end();
}

bool CorsPolicy::may_read(std::string_view origin) const {
  if (origin.empty()) return false;
  return any_reader_ || std::find(read_.begin(), read_.end(), origin) != read_.end() ||
         may_write(origin);
}

bool CorsPolicy::may_write(std::string_view origin) const {
  return !origin.empty() && std::find(write_.begin(), write_.end(), origin) != write_.end();
}

http::Response CorsPolicy::options(const http::RequestHeader& head, std::string_view allow) const {
  const std::string_view origin = head[bhttp::field::origin];
  const std::string_view requested = head[bhttp::field::access_control_request_method];
  if (origin.empty() || requested.empty()) {
    http::Response r;
    r.msg.result(bhttp::status::no_content);
    r.msg.set(bhttp::field::allow, std::string(allow) + ", OPTIONS");
    return r;
  }
  std::string bad;
  if (!all_in(requested, allow, bad)) {
    return refuse("method " + std::string(requested) + " is not allowed here (" +
                  std::string(allow) + ")");
  }
  const bool read = is_read(bhttp::string_to_verb(requested));
  if (!(read ? may_read(origin) : may_write(origin))) {
    return refuse("origin " + std::string(origin) + " may not " + (read ? "read" : "write") +
                  " cross-origin");
  }
  const std::string_view headers = read ? kReadHeaders : kWriteHeaders;
  if (!all_in(head[bhttp::field::access_control_request_headers], headers, bad)) {
    return refuse("request header " + bad +
                  " is not allowed cross-origin (allowed: " + std::string(headers) + ")");
  }
  http::Response r;
  r.msg.result(bhttp::status::no_content);
  r.msg.set(bhttp::field::access_control_allow_origin, origin);
  r.msg.set(bhttp::field::access_control_allow_methods,
            read ? std::string_view("GET, HEAD") : allow);
  r.msg.set(bhttp::field::access_control_allow_headers, headers);
  r.msg.set(bhttp::field::access_control_max_age, kMaxAge);
  add_vary(r, "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  return r;
}

void CorsPolicy::decorate(const http::RequestHeader& head, http::Response& res) const {
  if (!enabled()) return;
  add_vary(res, "Origin");
  const std::string_view origin = head[bhttp::field::origin];
  if (!(is_read(head.method()) ? may_read(origin) : may_write(origin))) return;
  res.msg.set(bhttp::field::access_control_allow_origin, origin);
  res.msg.set(bhttp::field::access_control_expose_headers, kExposed);
}

}  // namespace sg::server
