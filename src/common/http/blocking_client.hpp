// A small blocking HTTP/1.1 client for control-plane calls (sgctl to the gateway's admin API,
// readiness probes of replicas) and tests: one request per fresh connection, with a deadline
// on every socket operation. Not for the data path.
//
// Thread-safety: free functions, no shared state; call from any thread.
#pragma once

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sg::http {

struct ClientReply {
  int status = 0;  // 0 when the exchange failed (see error)
  std::string body{};
  boost::beast::http::fields headers{};
  std::string error{};  // why the exchange failed: "connect 127.0.0.1:9101: Connection refused"
  std::string header(std::string_view name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : std::string(it->value());
  }
};

struct ClientRequest {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string target = "/";
  std::string body{};
  std::vector<std::pair<std::string, std::string>> headers{};
  std::chrono::milliseconds timeout{10000};   // for connect, and for each send/receive
  std::size_t body_limit = 64 * 1024 * 1024;  // a larger response body fails the exchange
};

// Sends `request` to HOST:PORT (an IPv4/IPv6 literal) on a fresh connection and reads the
// whole response. Never throws: failures come back as status 0 with `error` set.
ClientReply blocking_call(const std::string& host, std::uint16_t port,
                          const ClientRequest& request);

// The same, for "HOST:PORT" (IPv6 in brackets); an address that does not parse fails the call.
ClientReply blocking_call(std::string_view host_port, const ClientRequest& request);

}  // namespace sg::http
