// A small blocking HTTP/1.1 client for integration tests (loopback only), with timeouts.
#pragma once

#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sg::test {

struct HttpReply {
  int status = 0;  // 0 when the exchange failed (see error)
  std::string body;
  boost::beast::http::fields headers;
  std::string error;
  std::string header(std::string_view name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : std::string(it->value());
  }
};

struct HttpCall {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string target = "/";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds timeout{10000};
};

// One request on a fresh connection.
HttpReply http_call(std::uint16_t port, const HttpCall& call);
inline HttpReply http_get(std::uint16_t port, const std::string& target,
                          std::vector<std::pair<std::string, std::string>> headers = {}) {
  return http_call(port, {boost::beast::http::verb::get, target, {}, std::move(headers)});
}

// Writes `bytes` as they are and returns everything read until the peer closes or
// `timeout` passes.
std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

}  // namespace sg::test
