// CorsPolicy: preflights and the fields a cross-origin browser page gets, per origin list.
#include "server/cors.hpp"

#include <gtest/gtest.h>

namespace sg::server {
namespace {

namespace bhttp = http::bhttp;

http::RequestHeader preflight(std::string origin, std::string method, std::string headers = {}) {
  http::RequestHeader h;
  h.method(bhttp::verb::options);
  h.target("/api/v1/content/x/media");
  h.set(bhttp::field::origin, origin);
  h.set(bhttp::field::access_control_request_method, method);
  if (!headers.empty()) h.set(bhttp::field::access_control_request_headers, headers);
  return h;
}

http::RequestHeader request(bhttp::verb method, std::string origin) {
  http::RequestHeader h;
  h.method(method);
  h.target("/api/v1/content/x/media");
  if (!origin.empty()) h.set(bhttp::field::origin, origin);
  return h;
}

const CorsPolicy kPlayer({"https://player.example"}, {});

TEST(Cors, APlayerOriginsPreflightForARangedReadIsAllowed) {
  auto r = kPlayer.options(preflight("https://player.example", "GET", "range, if-range"),
                           "GET, HEAD, PUT");
  EXPECT_EQ(r.msg.result_int(), 204u);
  EXPECT_EQ(r.msg[bhttp::field::access_control_allow_origin], "https://player.example");
  EXPECT_EQ(r.msg[bhttp::field::access_control_allow_methods], "GET, HEAD");
  EXPECT_NE(r.msg[bhttp::field::access_control_allow_headers].find("If-Range"), std::string::npos);
  EXPECT_NE(r.msg[bhttp::field::vary].find("Origin"), std::string::npos);
}

TEST(Cors, WritesAreNeverSharedWithoutAWriteOrigin) {
  auto put = kPlayer.options(preflight("https://player.example", "PUT", "authorization"),
                             "GET, HEAD, PUT");
  EXPECT_EQ(put.msg.result_int(), 403u);
  EXPECT_EQ(put.msg.count(bhttp::field::access_control_allow_origin), 0u);
  const CorsPolicy any({"*"}, {});
  EXPECT_EQ(
      any.options(preflight("https://evil.example", "PUT"), "GET, HEAD, PUT").msg.result_int(),
      403u);
  auto res = http::Response{};
  any.decorate(request(bhttp::verb::put, "https://evil.example"), res);
  EXPECT_EQ(res.msg.count(bhttp::field::access_control_allow_origin), 0u);
}

TEST(Cors, AConfiguredWriteOriginMayPreflightAWriteWithItsToken) {
  const CorsPolicy admin({}, {"https://admin.example"});
  auto r = admin.options(preflight("https://admin.example", "PUT", "authorization, content-type"),
                         "GET, HEAD, PUT");
  EXPECT_EQ(r.msg.result_int(), 204u);
  EXPECT_EQ(r.msg[bhttp::field::access_control_allow_methods], "GET, HEAD, PUT");
  EXPECT_EQ(
      admin.options(preflight("https://other.example", "PUT"), "GET, HEAD, PUT").msg.result_int(),
      403u);
}

TEST(Cors, UnknownOriginsMethodsAndHeadersAreRefused) {
  EXPECT_EQ(
      kPlayer.options(preflight("https://other.example", "GET"), "GET, HEAD").msg.result_int(),
      403u);
  EXPECT_EQ(
      kPlayer.options(preflight("https://player.example", "DELETE"), "GET, HEAD").msg.result_int(),
      403u);
  EXPECT_EQ(kPlayer.options(preflight("https://player.example", "GET", "x-secret"), "GET, HEAD")
                .msg.result_int(),
            403u);
}

TEST(Cors, ReadsFromAnAllowedOriginExposeWhatAPlayerNeeds) {
  http::Response res;
  kPlayer.decorate(request(bhttp::verb::get, "https://player.example"), res);
  EXPECT_EQ(res.msg[bhttp::field::access_control_allow_origin], "https://player.example");
  const std::string exposed(res.msg[bhttp::field::access_control_expose_headers]);
  for (const char* f : {"Content-Range", "Accept-Ranges", "ETag", "X-Request-Id"}) {
    EXPECT_NE(exposed.find(f), std::string::npos) << f;
  }
  http::Response other;
  kPlayer.decorate(request(bhttp::verb::get, "https://other.example"), other);
  EXPECT_EQ(other.msg.count(bhttp::field::access_control_allow_origin), 0u);
  EXPECT_EQ(other.msg[bhttp::field::vary], "Origin") << "caches must key on Origin";
  http::Response none;
  CorsPolicy().decorate(request(bhttp::verb::get, "https://player.example"), none);
  EXPECT_EQ(none.msg.count(bhttp::field::vary), 0u) << "no CORS configured: nothing added";
}

TEST(Cors, PlainOptionsListsTheMethods) {
  auto r = kPlayer.options(request(bhttp::verb::options, ""), "GET, HEAD");
  EXPECT_EQ(r.msg.result_int(), 204u);
  EXPECT_EQ(r.msg[bhttp::field::allow], "GET, HEAD, OPTIONS");
}

TEST(Cors, OriginsAreValidatedAsBrowsersSendThem) {
  EXPECT_TRUE(valid_origin("https://player.example"));
  EXPECT_TRUE(valid_origin("http://127.0.0.1:8080"));
  EXPECT_TRUE(valid_origin("null"));
  EXPECT_FALSE(valid_origin("player.example"));
  EXPECT_FALSE(valid_origin("https://player.example/"));
  EXPECT_FALSE(valid_origin("ftp://x"));
}

}  // namespace
}  // namespace sg::server
