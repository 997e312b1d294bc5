#include "gateway/proxy_heads.hpp"

#include <boost/beast/core/string.hpp>
#include <charconv>
#include <cstring>

#include "gateway/request_rules.hpp"

namespace sg::gateway {
namespace {

namespace bhttp = http::bhttp;

template <class Field>
bool is_named(const Field& f, std::string_view name) {
  return boost::beast::iequals(f.name_string(), name);
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  // One resize and plain copies: this runs for every field of every proxied message.
  const std::size_t at = out.size();
  out.resize(at + name.size() + value.size() + 4);
  char* p = out.data() + at;
  std::memcpy(p, name.data(), name.size());
  p += name.size();
  *p++ = ':';
  *p++ = ' ';
  if (!value.empty()) std::memcpy(p, value.data(), value.size());
  p += value.size();
  *p++ = '\r';
  *p = '\n';
}

void append_number(std::string& out, std::uint64_t v, int base = 10) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v, base);
  out.append(digits, end);
}

void append_framing(std::string& out, BodyFraming framing, std::uint64_t length) {
  if (framing == BodyFraming::kLength) {
    out.append("Content-Length: ");
    append_number(out, length);
    out.append("\r\n");
  } else if (framing == BodyFraming::kChunked) {
    out.append("Transfer-Encoding: chunked\r\n");
  }
}

}  // namespace

void set_upstream_framing(RequestHeadParts& parts, const http::RequestHeader& client, bool chunked,
                          std::optional<std::uint64_t> content_length) {
  const auto m = client.method();
  if (chunked) {
    parts.framing = BodyFraming::kChunked;
  } else if (content_length.value_or(0) > 0 || m == bhttp::verb::post || m == bhttp::verb::put ||
             m == bhttp::verb::patch) {
    parts.framing = BodyFraming::kLength;
    parts.length = content_length.value_or(0);
  } else {
    parts.framing = BodyFraming::kNone;
  }
}

void append_upstream_request_head(std::string& out, const http::RequestHeader& client,
                                  const RequestHeadParts& parts) {
  out.append(client.method_string());
  out.push_back(' ');
  out.append(client.target());
  out.append(" HTTP/1.1\r\n");
  const HopByHopFields hop(client);
  bool has_host = false;
  std::string forwarded_for;  // a trusted proxy's X-Forwarded-For values, in order
  for (const auto& f : client) {
    if (hop.drops(f)) continue;
    if (f.name() == bhttp::field::host) {
      has_host = true;
    } else if (f.name() == bhttp::field::unknown) {
      if (is_named(f, "X-Request-Id")) continue;
      if (is_named(f, "X-Forwarded-For")) {
        if (parts.trust_forwarded) {
          if (!forwarded_for.empty()) forwarded_for.append(", ");
          forwarded_for.append(f.value());
        }
        continue;
      }
      if (!parts.trust_forwarded && (is_named(f, "X-Forwarded-Host") ||
                                     is_named(f, "X-Forwarded-Proto") || is_named(f, "X-Real-IP")))
        continue;
    } else if (f.name() == bhttp::field::forwarded && !parts.trust_forwarded) {
      continue;
    }
    append_field(out, f.name_string(), f.value());
  }
  if (!has_host) append_field(out, "Host", parts.default_host);
  append_field(out, "X-Request-Id", parts.request_id);
  if (!parts.peer_address.empty()) {
    if (!forwarded_for.empty()) forwarded_for.append(", ");
    forwarded_for.append(parts.peer_address);
  }
  if (!forwarded_for.empty()) append_field(out, "X-Forwarded-For", forwarded_for);
  append_framing(out, parts.framing, parts.length);
  out.append("\r\n");
}

void append_client_response_head(std::string& out, const UpstreamResponseHeader& upstream,
                                 const ResponseHeadParts& parts) {
  out.append(parts.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  append_number(out, upstream.result_int());
  out.push_back(' ');
  const std::string_view reason = upstream.reason();
  out.append(reason.empty() ? std::string_view(bhttp::obsolete_reason(upstream.result())) : reason);
  out.append("\r\n");
  const HopByHopFields hop(upstream);
  bool has_request_id = false;
  bool has_nosniff = false;
  for (const auto& f : upstream) {
    if (hop.drops(f)) continue;
    if (f.name() == bhttp::field::unknown) {
      if (is_named(f, "X-StreamGate-Track")) continue;
      has_request_id = has_request_id || is_named(f, "X-Request-Id");
      has_nosniff = has_nosniff || is_named(f, "X-Content-Type-Options");
    }
    append_field(out, f.name_string(), f.value());
  }
  append_field(out, "X-StreamGate-Track", parts.track);
  if (!has_request_id) append_field(out, "X-Request-Id", parts.request_id);
  // Browsers never guess a type for what passes through, whatever the upstream sent.
  if (!has_nosniff) append_field(out, "X-Content-Type-Options", "nosniff");
  append_framing(out, parts.framing, parts.length);
  if (parts.version == 10 && parts.keep_alive) out.append("Connection: keep-alive\r\n");
  if (parts.version != 10 && !parts.keep_alive) out.append("Connection: close\r\n");
  out.append("\r\n");
}

void append_chunk_size(std::string& out, std::size_t size) {
  append_number(out, size, 16);
  out.append("\r\n");
}

}  // namespace sg::gateway
