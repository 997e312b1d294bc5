// The message heads the proxy writes: the request an upstream receives and the response a
// client receives, serialized straight into a string.
//
// Beast's serializer walks the fields through nested buffer views on every write, which was
// the largest user-space cost of a proxied request (bench/gateway, perf); these writers copy
// each field once. The fields come from Beast's parsers, which reject invalid names, values
// and line breaks, and the values the gateway adds (request id, track, peer address) are
// validated where they are made, so nothing is escaped here.
//
// Both writers drop hop-by-hop fields (HopByHopFields) and write the framing the caller chose.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/http/http_types.hpp"
#include "gateway/thread_cached_allocator.hpp"

namespace sg::gateway {

// The head of an upstream response as the proxy parses it: its fields live only for one
// exchange on one worker thread, so they come from per-thread free lists.
using UpstreamFields = http::bhttp::basic_fields<ThreadCachedAllocator<char>>;
using UpstreamResponseHeader = http::bhttp::response_header<UpstreamFields>;

// How the body after a head is delimited.
enum class BodyFraming {
  kNone,     // no framing field: no body (requests), or the body runs to the close (HTTP/1.0)
  kLength,   // Content-Length: length
  kChunked,  // Transfer-Encoding: chunked
};

struct RequestHeadParts {
  std::string_view request_id;    // replaces any X-Request-Id of the client
  std::string_view peer_address;  // the X-Forwarded-For the upstream gets, when not empty
  // Whether the peer is a trusted proxy (config trusted_proxies). Its X-Forwarded-For values
  // are kept, in one field, with peer_address appended; its Forwarded, X-Forwarded-Host,
  // X-Forwarded-Proto and X-Real-IP pass. From anyone else those fields are dropped and
  // X-Forwarded-For is peer_address alone: a client cannot pose as someone else.
  bool trust_forwarded = false;
  // The Host an upstream gets when the client sent none (HTTP/1.0): HTTP/1.1 requires one.
  std::string_view default_host{};
  BodyFraming framing = BodyFraming::kNone;
  std::uint64_t length = 0;  // with kLength
};

// The framing upstream for a client request that is `chunked` or has `content_length`:
// chunked stays chunked; otherwise Content-Length when there is a body or the method is POST,
// PUT or PATCH (an empty body, announced), no framing field otherwise.
void set_upstream_framing(RequestHeadParts& parts, const http::RequestHeader& client, bool chunked,
                          std::optional<std::uint64_t> content_length);

// Appends the HTTP/1.1 request head for `client` as sent upstream: method and target
// unchanged, end-to-end fields in order (forwarding fields as RequestHeadParts says), then
// Host when the client sent none, X-Request-Id, X-Forwarded-For and the framing.
void append_upstream_request_head(std::string& out, const http::RequestHeader& client,
                                  const RequestHeadParts& parts);

struct ResponseHeadParts {
  unsigned version = 11;        // the client's HTTP version: 10 or 11
  std::string_view track;       // X-StreamGate-Track
  std::string_view request_id;  // X-Request-Id when the upstream sent none
  BodyFraming framing = BodyFraming::kNone;
  std::uint64_t length = 0;  // with kLength
  bool keep_alive = true;    // written as Connection: close / keep-alive where needed
};

// Appends the response head for the client: the upstream's status and reason (the standard
// reason when it sent none), its end-to-end fields in order, then X-StreamGate-Track,
// X-Request-Id and X-Content-Type-Options: nosniff when the upstream sent none, the framing
// and Connection.
void append_client_response_head(std::string& out, const UpstreamResponseHeader& upstream,
                                 const ResponseHeadParts& parts);

// Appends the chunk-size line that precedes `size` bytes of chunked body (RFC 9112 7.1).
void append_chunk_size(std::string& out, std::size_t size);

}  // namespace sg::gateway
