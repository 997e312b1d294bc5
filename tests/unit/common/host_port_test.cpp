#include "common/host_port.hpp"

#include <gtest/gtest.h>

namespace sg {
namespace {

TEST(HostPort, AcceptsIpv4Ipv6AndNames) {
  auto v4 = parse_host_port("127.0.0.1:8080");
  ASSERT_TRUE(v4) << v4.error().message;
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 8080);
  auto v6 = parse_host_port("[::1]:9090");
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->text(), "[::1]:9090");
  auto name = parse_host_port("my-svc.ns.svc.cluster.local:65535");
  ASSERT_TRUE(name) << name.error().message;
  EXPECT_EQ(name->host, "my-svc.ns.svc.cluster.local");
  EXPECT_EQ(name->port, 65535);
}

TEST(HostPort, PortZeroOnlyWhenAllowed) {
  EXPECT_FALSE(parse_host_port("0.0.0.0:0"));
  EXPECT_TRUE(parse_host_port("0.0.0.0:0", {.allow_port_zero = true}));
}

TEST(HostPort, RefusalsQuoteTheTextAndSayWhy) {
  const struct {
    const char* text;
    const char* says;
  } cases[] = {
      {"localhost", "'localhost' is not HOST:PORT"},
      {":80", "is not HOST:PORT"},
      {"host:", "has no valid port (1..65535)"},
      {"host:+80", "has no valid port"},
      {"host:080000", "has no valid port"},
      {"host:65536", "has no valid port"},
      {"host:8o", "has no valid port"},
      {"::1:8080", "needs brackets"},
      {"[127.0.0.1]:80", "brackets around an IPv4"},
      {"[]:80", "unclosed"},
      {"[zz::1]:80", "no valid IPv6"},
      {"bad host:80", "invalid character"},
  };
  for (const auto& c : cases) {
    auto r = parse_host_port(c.text);
    ASSERT_FALSE(r) << c.text;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find(c.says), std::string::npos)
        << c.text << " -> " << r.error().message;
  }
}

TEST(HostPort, IpLiteralRuleRefusesNames) {
  auto r = parse_host_port("localhost:8080", {.require_ip_literal = true});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("IP address"), std::string::npos) << r.error().message;
  EXPECT_TRUE(parse_host_port("127.0.0.1:8080", {.require_ip_literal = true}));
}

TEST(HostPort, LoopbackHostsAreOnlyThoseOthersCannotReach) {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "::1", "localhost"}) {
    EXPECT_TRUE(is_loopback_host(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "db.internal", "", "127.0.0"}) {
    EXPECT_FALSE(is_loopback_host(host)) << host;
  }
}

}  // namespace
}  // namespace sg
