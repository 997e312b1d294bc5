// CorsPolicy: what streamgate-server tells browsers about cross-origin use (the Fetch
// standard's CORS protocol), so a web player on another origin can read the catalogue and
// play media, and nothing else.
//
// Reads (GET, HEAD) of the public routes are shared with the configured read origins
// (--cors-origin; "*" for any): the answer carries Access-Control-Allow-Origin (the origin
// itself, or "*"), Vary: Origin, and exposes Content-Range, Accept-Ranges, Content-Length,
// ETag, X-Request-Id and X-StreamGate-Version; a preflight may ask for Range, If-Range,
// If-None-Match and X-Request-Id. Writes are shared only with the write origins
// (--cors-write-origin, none by default; "*" is not accepted there): their preflight may ask
// for the route's write methods with Authorization, Content-Type, If-Match and
// Idempotency-Key. A preflight the policy does not allow is answered 403 without any
// Access-Control-* field, so the browser never sends the request. No credentials (cookies)
// are ever allowed: writes carry a bearer token.
//
// Pure and immutable; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/http_types.hpp"

namespace sg::server {

class CorsPolicy {
 public:
  CorsPolicy() = default;
  CorsPolicy(std::vector<std::string> read_origins, std::vector<std::string> write_origins);

  // Whether any origin is configured (else no CORS field is ever added).
  bool enabled() const { return !read_.empty() || !write_.empty(); }

  // The answer to OPTIONS on a route that answers `allow` (its methods, e.g. "GET, HEAD,
  // PUT"): a CORS preflight (it carries Origin and Access-Control-Request-Method) gets 204
  // with the Access-Control-* fields, or 403 when not allowed; a plain OPTIONS gets 204 with
  // Allow.
  http::Response options(const http::RequestHeader& head, std::string_view allow) const;

  // Adds the CORS fields to `res`, the answer to `head` (a read or a write).
  void decorate(const http::RequestHeader& head, http::Response& res) const;

  // Whether an origin may read / write (exact match, or "*" in the read list).
  bool may_read(std::string_view origin) const;
  bool may_write(std::string_view origin) const;

 private:
  std::vector<std::string> read_;
  std::vector<std::string> write_;
  bool any_reader_ = false;
};

// Whether `origin` is a serialized origin a browser sends: scheme "://" host [":" port],
// lower-case scheme http or https, no path; or "null".
bool valid_origin(std::string_view origin);

}  // namespace sg::server
