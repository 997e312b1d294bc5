// A small blocking HTTP/1.1 client for integration tests (loopback only), with timeouts.
#pragma once

#include <boost/beast/http.hpp>

#include "common/http/blocking_client.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sg::test {

using HttpReply = sg::http::ClientReply;
using HttpCall = sg::http::ClientRequest;

// One request to 127.0.0.1:port on a fresh connection (256 MiB body limit).
inline HttpReply http_call(std::uint16_t port, HttpCall call) {
  call.body_limit = 256 * 1024 * 1024;
  return sg::http::blocking_call("127.0.0.1", port, call);
}
inline HttpReply http_get(std::uint16_t port, const std::string& target,
                          std::vector<std::pair<std::string, std::string>> headers = {}) {
  return http_call(port, {boost::beast::http::verb::get, target, {}, std::move(headers)});
}

// Writes `bytes` as they are and returns everything read until the peer closes or
// `timeout` passes.
std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

}  // namespace sg::test
