// The gateway's request rules, kept pure so they are unit-tested and fuzzed directly:
// framing checks against request smuggling, the header an upstream receives, which
// requests may be retried, and cookie lookup for stickiness.
#pragma once

#include <boost/container/small_vector.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/http/http_types.hpp"

namespace sg::gateway {

// Why the request's framing cannot be trusted or forwarded (RFC 9112 6.3: both
// Content-Length and Transfer-Encoding; 6.1: a transfer coding other than chunked, which the
// gateway would otherwise drop on the way upstream), or nullopt. Beast itself rejects
// duplicate or invalid Content-Length and invalid header bytes; the HTTP server refuses a
// Transfer-Encoding without a final chunked coding or on HTTP/1.0 before any handler runs.
std::optional<std::string> framing_error(const http::RequestHeader& head);

// The first transfer coding other than chunked, if any (answered with 501).
std::optional<std::string> unsupported_transfer_coding(const http::RequestHeader& head);

// Which fields of a message are hop-by-hop (RFC 9110 7.6.1: Connection and the fields it
// names, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade) or otherwise belong to
// one side of the gateway only (Content-Length, Expect): each side gets framing and
// connection fields of its own. Borrows the names from `fields`, which must outlive it.
class HopByHopFields {
 public:
  template <class Fields>
  explicit HopByHopFields(const Fields& fields) {
    for (auto it = fields.find(http::bhttp::field::connection);
         it != fields.end() && it->name() == http::bhttp::field::connection; ++it)
      add_connection_tokens(it->value());
  }
  // True when field `f` is not forwarded.
  template <class Field>
  bool drops(const Field& f) const {
    return drops(f.name(), f.name_string());
  }
  bool drops(http::bhttp::field name, std::string_view name_string) const;

 private:
  void add_connection_tokens(std::string_view value);
  // Field names listed in Connection headers; few in practice.
  boost::container::small_vector<std::string_view, 4> named_;
};

// Idempotent methods (RFC 9110 9.2.2), or any request carrying Idempotency-Key.
bool retry_allowed(const http::RequestHeader& head);

// The value of cookie `name` in a Cookie header, or "".
std::string cookie_value(std::string_view header, std::string_view name);

}  // namespace sg::gateway
