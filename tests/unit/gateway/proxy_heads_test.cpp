// The heads the proxy writes, checked by parsing them back with Beast's parser (what an
// upstream or a client reads), plus the framing and hop-by-hop rules.
#include "gateway/proxy_heads.hpp"

#include <gtest/gtest.h>

#include <boost/beast/http.hpp>
#include <string>
#include <vector>

namespace sg::gateway {
namespace {

namespace bhttp = boost::beast::http;

http::RequestHeader parse_request(const std::string& text) {
  bhttp::request_parser<bhttp::empty_body> p;
  p.eager(false);
  boost::system::error_code ec;
  const std::size_t used = p.put(boost::asio::buffer(text), ec);
  EXPECT_FALSE(ec) << ec.message() << " in:\n" << text;
  EXPECT_TRUE(p.is_header_done()) << text;
  EXPECT_EQ(used, text.size()) << "bytes after the head:\n" << text;
  return p.get().base();
}

struct ParsedResponse {
  bhttp::response_header<> head;
  bool chunked = false;
  std::optional<std::uint64_t> length;
  bool keep_alive = false;
};

ParsedResponse parse_response(const std::string& text) {
  bhttp::response_parser<bhttp::empty_body> p;
  p.eager(false);
  boost::system::error_code ec;
  p.put(boost::asio::buffer(text), ec);
  EXPECT_FALSE(ec) << ec.message() << " in:\n" << text;
  EXPECT_TRUE(p.is_header_done()) << text;
  ParsedResponse r{p.get().base(), p.chunked(), std::nullopt, p.keep_alive()};
  if (p.content_length()) r.length = *p.content_length();
  return r;
}

http::RequestHeader client_request() {
  http::RequestHeader h;
  h.method(bhttp::verb::get);
  h.target("/v1/media/abc?x=1");
  h.version(11);
  h.set(bhttp::field::host, "media.example");
  h.insert(bhttp::field::connection, "keep-alive, X-Secret ,\tX-Other");
  h.set("X-Secret", "dropped because Connection names it");
  h.set("X-Other", "also dropped");
  h.set(bhttp::field::keep_alive, "timeout=5");
  h.set(bhttp::field::te, "trailers");
  h.set(bhttp::field::upgrade, "websocket");
  h.set(bhttp::field::proxy_authorization, "Basic abc");
  h.set(bhttp::field::expect, "100-continue");
  h.set("X-Request-Id", "client-id");
  h.insert("X-Forwarded-For", "10.0.0.1");
  h.insert("Accept", "a/b");
  h.insert("Accept", "c/d");
  return h;
}

TEST(UpstreamRequestHead, KeepsEndToEndFieldsAndDropsHopByHop) {
  std::string out;
  RequestHeadParts parts{"rid-1", "127.0.0.9"};
  append_upstream_request_head(out, client_request(), parts);
  const auto up = parse_request(out);
  EXPECT_EQ(up.method(), bhttp::verb::get);
  EXPECT_EQ(up.target(), "/v1/media/abc?x=1");
  EXPECT_EQ(up.version(), 11u);
  EXPECT_EQ(up[bhttp::field::host], "media.example");
  for (std::string_view gone :
       {"Connection", "X-Secret", "X-Other", "Keep-Alive", "TE", "Upgrade", "Proxy-Authorization",
        "Expect", "Content-Length", "Transfer-Encoding"}) {
    EXPECT_EQ(up.count(gone), 0u) << gone << " reached the upstream:\n" << out;
  }
  EXPECT_EQ(up.count("X-Request-Id"), 1u) << out;
  EXPECT_EQ(up["X-Request-Id"], "rid-1");
  std::vector<std::string> xff;
  for (auto [it, end] = up.equal_range("X-Forwarded-For"); it != end; ++it)
    xff.emplace_back(it->value());
  EXPECT_EQ(xff, (std::vector<std::string>{"127.0.0.9"}))
      << "a client's own X-Forwarded-For reached the upstream";
  std::vector<std::string> accept;
  for (auto [it, end] = up.equal_range(bhttp::field::accept); it != end; ++it)
    accept.emplace_back(it->value());
  EXPECT_EQ(accept, (std::vector<std::string>{"a/b", "c/d"})) << "repeated fields keep their order";
}

TEST(UpstreamRequestHead, ForwardingFieldsOfAClientAreReplacedOfATrustedProxyKept) {
  http::RequestHeader h;
  h.method(bhttp::verb::get);
  h.target("/");
  h.set(bhttp::field::host, "h");
  h.insert("X-Forwarded-For", "1.1.1.1");
  h.insert("X-Forwarded-For", "2.2.2.2, 3.3.3.3");
  h.insert("X-Real-IP", "1.1.1.1");
  h.insert("X-Forwarded-Proto", "https");
  h.insert(bhttp::field::forwarded, "for=1.1.1.1");
  RequestHeadParts parts{"r", "10.0.0.5"};
  std::string out;
  append_upstream_request_head(out, h, parts);
  auto client = parse_request(out);
  EXPECT_EQ(client.count("X-Forwarded-For"), 1u) << out;
  EXPECT_EQ(client["X-Forwarded-For"], "10.0.0.5");
  for (std::string_view gone : {"X-Real-IP", "X-Forwarded-Proto", "Forwarded"}) {
    EXPECT_EQ(client.count(gone), 0u) << gone << " from a client reached the upstream:\n" << out;
  }
  parts.trust_forwarded = true;
  out.clear();
  append_upstream_request_head(out, h, parts);
  auto proxy = parse_request(out);
  EXPECT_EQ(proxy.count("X-Forwarded-For"), 1u) << out;
  EXPECT_EQ(proxy["X-Forwarded-For"], "1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.5");
  EXPECT_EQ(proxy["X-Forwarded-Proto"], "https");
  EXPECT_EQ(proxy[bhttp::field::forwarded], "for=1.1.1.1");
}

TEST(UpstreamRequestHead, AnHttp10RequestWithoutHostGetsOne) {
  http::RequestHeader h;
  h.method(bhttp::verb::get);
  h.target("/");
  h.version(10);
  RequestHeadParts parts{"r", ""};
  parts.default_host = "127.0.0.1:8080";
  std::string out;
  append_upstream_request_head(out, h, parts);
  auto up = parse_request(out);
  EXPECT_EQ(up.count(bhttp::field::host), 1u) << out;
  EXPECT_EQ(up[bhttp::field::host], "127.0.0.1:8080");
}

TEST(UpstreamRequestHead, WritesTheFramingItIsGiven) {
  http::RequestHeader post;
  post.method(bhttp::verb::post);
  post.target("/upload");
  post.set(bhttp::field::content_length, "999");  // the client's: replaced by ours

  RequestHeadParts parts{"r", ""};
  set_upstream_framing(parts, post, false, 12);
  std::string out;
  append_upstream_request_head(out, post, parts);
  auto up = parse_request(out);
  EXPECT_EQ(up.count(bhttp::field::content_length), 1u) << out;
  EXPECT_EQ(up[bhttp::field::content_length], "12");
  EXPECT_EQ(up.count("X-Forwarded-For"), 0u) << "no peer address, no X-Forwarded-For";

  set_upstream_framing(parts, post, true, std::nullopt);
  out.clear();
  append_upstream_request_head(out, post, parts);
  up = parse_request(out);
  EXPECT_EQ(up[bhttp::field::transfer_encoding], "chunked");
  EXPECT_EQ(up.count(bhttp::field::content_length), 0u) << out;
}

TEST(UpstreamFraming, AnnouncesEmptyBodiesOnlyForMethodsThatCarryOne) {
  http::RequestHeader h;
  RequestHeadParts parts;
  h.method(bhttp::verb::get);
  set_upstream_framing(parts, h, false, std::nullopt);
  EXPECT_EQ(parts.framing, BodyFraming::kNone);
  set_upstream_framing(parts, h, false, 0);
  EXPECT_EQ(parts.framing, BodyFraming::kNone);
  set_upstream_framing(parts, h, false, 5);
  EXPECT_EQ(parts.framing, BodyFraming::kLength);
  EXPECT_EQ(parts.length, 5u);
  for (auto m : {bhttp::verb::post, bhttp::verb::put, bhttp::verb::patch}) {
    h.method(m);
    set_upstream_framing(parts, h, false, std::nullopt);
    EXPECT_EQ(parts.framing, BodyFraming::kLength) << bhttp::to_string(m);
    EXPECT_EQ(parts.length, 0u);
  }
  set_upstream_framing(parts, h, true, std::nullopt);
  EXPECT_EQ(parts.framing, BodyFraming::kChunked);
}

UpstreamResponseHeader upstream_response() {
  UpstreamResponseHeader r;
  r.result(bhttp::status::partial_content);
  r.reason("Partial Stuff");
  r.version(11);
  r.set(bhttp::field::content_type, "video/mp4");
  r.set(bhttp::field::connection, "keep-alive");
  r.set(bhttp::field::keep_alive, "timeout=60");
  r.set(bhttp::field::content_length, "10");
  r.set(bhttp::field::transfer_encoding, "chunked");
  r.set("X-StreamGate-Version", "v2");
  r.set("X-StreamGate-Track", "spoofed");
  return r;
}

TEST(ClientResponseHead, KeepsStatusReasonAndEndToEndFields) {
  ResponseHeadParts parts;
  parts.track = "canary";
  parts.request_id = "rid-2";
  parts.framing = BodyFraming::kLength;
  parts.length = 10;
  std::string out;
  append_client_response_head(out, upstream_response(), parts);
  const auto r = parse_response(out);
  EXPECT_EQ(r.head.result_int(), 206u);
  EXPECT_EQ(r.head.reason(), "Partial Stuff");
  EXPECT_EQ(r.head[bhttp::field::content_type], "video/mp4");
  EXPECT_EQ(r.head["X-StreamGate-Version"], "v2");
  EXPECT_EQ(r.head.count("X-StreamGate-Track"), 1u) << out;
  EXPECT_EQ(r.head["X-StreamGate-Track"], "canary");
  EXPECT_EQ(r.head["X-Request-Id"], "rid-2");
  EXPECT_EQ(r.head.count(bhttp::field::keep_alive), 0u) << out;
  EXPECT_EQ(r.head.count(bhttp::field::connection), 0u) << "HTTP/1.1 keep-alive is the default";
  EXPECT_EQ(r.head.count(bhttp::field::transfer_encoding), 0u) << out;
  EXPECT_EQ(r.length, std::optional<std::uint64_t>(10));
  EXPECT_TRUE(r.keep_alive);
}

TEST(ClientResponseHead, KeepsTheUpstreamRequestIdAndFillsAMissingReason) {
  auto up = upstream_response();
  up.reason("");
  up.result(bhttp::status::not_found);
  up.set("X-Request-Id", "from-upstream");
  ResponseHeadParts parts;
  parts.track = "stable";
  parts.request_id = "ours";
  parts.framing = BodyFraming::kChunked;
  parts.keep_alive = false;
  std::string out;
  append_client_response_head(out, up, parts);
  const auto r = parse_response(out);
  EXPECT_EQ(r.head.result_int(), 404u);
  EXPECT_EQ(r.head.reason(), "Not Found");
  EXPECT_EQ(r.head.count("X-Request-Id"), 1u) << out;
  EXPECT_EQ(r.head["X-Request-Id"], "from-upstream");
  EXPECT_TRUE(r.chunked);
  EXPECT_FALSE(r.keep_alive) << out;
  EXPECT_EQ(r.head[bhttp::field::connection], "close");
}

TEST(ClientResponseHead, SpeaksHttp10ToAnHttp10Client) {
  ResponseHeadParts parts;
  parts.version = 10;
  parts.track = "blue";
  parts.request_id = "r";
  parts.framing = BodyFraming::kLength;
  parts.length = 3;
  std::string out;
  append_client_response_head(out, upstream_response(), parts);
  EXPECT_EQ(out.rfind("HTTP/1.0 206 ", 0), 0u) << out;
  const auto r = parse_response(out);
  EXPECT_TRUE(r.keep_alive) << "an HTTP/1.0 keep-alive must be announced:\n" << out;
  parts.keep_alive = false;
  out.clear();
  append_client_response_head(out, upstream_response(), parts);
  EXPECT_FALSE(parse_response(out).keep_alive) << out;
}

TEST(ClientResponseHead, AddsNosniffUnlessTheUpstreamSentIt) {
  UpstreamResponseHeader bare;
  bare.result(bhttp::status::ok);
  std::string out;
  append_client_response_head(out, bare, ResponseHeadParts{});
  EXPECT_EQ(parse_response(out).head["X-Content-Type-Options"], "nosniff") << out;
  UpstreamResponseHeader own;
  own.result(bhttp::status::ok);
  own.set("X-Content-Type-Options", "nosniff");
  out.clear();
  append_client_response_head(out, own, ResponseHeadParts{});
  EXPECT_EQ(parse_response(out).head.count("X-Content-Type-Options"), 1u) << out;
}

TEST(ChunkSize, IsHexFollowedByCrlf) {
  std::string out;
  append_chunk_size(out, 0x1a2b);
  EXPECT_EQ(out, "1a2b\r\n");
  out.clear();
  append_chunk_size(out, 1);
  EXPECT_EQ(out, "1\r\n");
}

}  // namespace
}  // namespace sg::gateway
