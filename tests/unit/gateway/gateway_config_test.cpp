#include "gateway/core/gateway_config.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

namespace sg::gateway {
namespace {

// The example from the gateway issue.
constexpr const char* kIssueExample = R"(
listen: 127.0.0.1:8080
admin: { listen: 127.0.0.1:8081, token_env: STREAMGATE_ADMIN_TOKEN }
tracks:
  stable: { endpoints: [127.0.0.1:9101, 127.0.0.1:9102] }
  canary: { endpoints: [127.0.0.1:9201] }
route: { weights: { stable: 95, canary: 5 } }
)";

constexpr const char* kFullYaml = R"(
listen: 0.0.0.0:80
admin:
  listen: "[::1]:9000"
  token_env: GW_TOKEN
threads: 4
cpu_affinity: auto
tracks:
  blue:
    endpoints: [10.0.0.1:8000, "backend.local:8001"]
    balance: round_robin
  green:
    endpoints: []
route:
  weights: { blue: 100, green: 0 }
  sticky: { cookie: sg_viewer }
health_check: { path: /healthz, interval_ms: 2000, timeout_ms: 300, rise: 3, fall: 1 }
outlier: { consecutive_failures: 3, base_ejection_ms: 5000, max_ejection_ms: 60000 }
timeouts: { connect_ms: 250, first_byte_ms: 15000, idle_ms: 30000, header_ms: 5000 }
limits: { header_bytes: 8192, max_connections: 500 }
retries: { enabled: false }
)";

GatewayConfig parse_ok(const std::string& yaml) {
  auto c = parse_gateway_config_yaml(yaml);
  EXPECT_TRUE(c.is_ok()) << (c ? "" : c.error().message);
  return c ? c.value() : GatewayConfig{};
}

TEST(GatewayConfig, IssueExampleParsesWithDefaults) {
  const GatewayConfig c = parse_ok(kIssueExample);
  EXPECT_EQ(c.listen, "127.0.0.1:8080");
  EXPECT_EQ(c.admin_listen, "127.0.0.1:8081");
  EXPECT_EQ(c.admin_token_env, "STREAMGATE_ADMIN_TOKEN");
  ASSERT_EQ(c.tracks.size(), 2u);
  EXPECT_EQ(c.tracks.at("stable").endpoints,
            (std::vector<std::string>{"127.0.0.1:9101", "127.0.0.1:9102"}));
  EXPECT_EQ(c.tracks.at("canary").endpoints, (std::vector<std::string>{"127.0.0.1:9201"}));
  EXPECT_EQ(c.tracks.at("canary").balance, Balance::kLeastOutstanding);
  EXPECT_EQ(c.route.weights, (std::vector<TrackWeight>{{"stable", 95}, {"canary", 5}}));
  EXPECT_FALSE(c.route.sticky.has_value());
  EXPECT_EQ(c.threads, 0);
  EXPECT_EQ(c.cpu_affinity, CpuAffinity::kNone);
  EXPECT_EQ(c.health_check, HealthCheckConfig{});
  EXPECT_EQ(c.health_check.path, "/ready");
  EXPECT_EQ(c.outlier.max_ejection_ms, 300000);
  EXPECT_EQ(c.timeouts.first_byte_ms, 30000);
  EXPECT_EQ(c.limits.header_bytes, 16384);
  EXPECT_TRUE(c.retries.enabled);
}

TEST(GatewayConfig, EveryOptionalSectionIsRead) {
  const GatewayConfig c = parse_ok(kFullYaml);
  EXPECT_EQ(c.listen, "0.0.0.0:80");
  EXPECT_EQ(c.admin_listen, "[::1]:9000");
  EXPECT_EQ(c.admin_token_env, "GW_TOKEN");
  EXPECT_EQ(c.threads, 4);
  EXPECT_EQ(c.cpu_affinity, CpuAffinity::kAuto);
  EXPECT_EQ(c.tracks.at("blue").balance, Balance::kRoundRobin);
  EXPECT_TRUE(c.tracks.at("green").endpoints.empty());
  EXPECT_EQ(c.route.weights, (std::vector<TrackWeight>{{"blue", 100}, {"green", 0}}));
  ASSERT_TRUE(c.route.sticky.has_value());
  EXPECT_EQ(*c.route.sticky, (StickyConfig{StickyConfig::Source::kCookie, "sg_viewer"}));
  EXPECT_EQ(c.health_check, (HealthCheckConfig{"/healthz", 2000, 300, 3, 1}));
  EXPECT_EQ(c.outlier, (OutlierConfig{3, 5000, 60000}));
  EXPECT_EQ(c.timeouts, (TimeoutsConfig{250, 15000, 30000, 5000}));
  EXPECT_EQ(c.limits, (LimitsConfig{8192, 500}));
  EXPECT_FALSE(c.retries.enabled);
}

TEST(GatewayConfig, JsonRoundTripIsExact) {
  for (const char* yaml : {kIssueExample, kFullYaml}) {
    const GatewayConfig c = parse_ok(yaml);
    const std::string text = gateway_config_to_json_text(c);
    auto back = parse_gateway_config_json(text);
    ASSERT_TRUE(back.is_ok()) << back.error().message << "\n" << text;
    EXPECT_EQ(*back, c) << text;
    EXPECT_EQ(gateway_config_to_json_text(*back), text);
  }
}

TEST(GatewayConfig, YamlAndJsonGiveEqualConfigs) {
  const std::string json = R"({
    "listen": "0.0.0.0:80",
    "admin": {"listen": "[::1]:9000", "token_env": "GW_TOKEN"},
    "threads": 4,
    "cpu_affinity": "auto",
    "tracks": {
      "green": {"endpoints": []},
      "blue": {"endpoints": ["10.0.0.1:8000", "backend.local:8001"], "balance": "round_robin"}
    },
    "route": {"weights": {"blue": 100, "green": 0}, "sticky": {"cookie": "sg_viewer"}},
    "health_check": {"path": "/healthz", "interval_ms": 2000, "timeout_ms": 300, "rise": 3,
                     "fall": 1},
    "outlier": {"consecutive_failures": 3, "base_ejection_ms": 5000, "max_ejection_ms": 60000},
    "timeouts": {"connect_ms": 250, "first_byte_ms": 15000, "idle_ms": 30000, "header_ms": 5000},
    "limits": {"header_bytes": 8192, "max_connections": 500},
    "retries": {"enabled": false}
  })";
  auto from_json = parse_gateway_config_json(json);
  ASSERT_TRUE(from_json.is_ok()) << from_json.error().message;
  EXPECT_EQ(*from_json, parse_ok(kFullYaml));
}

TEST(GatewayConfig, SerializedJsonHasEveryKey) {
  const auto json = gateway_config_to_json(parse_ok(kIssueExample));
  const auto& o = json.as_object();
  for (const char* key : {"listen", "admin", "threads", "cpu_affinity", "tracks", "route",
                          "health_check", "outlier", "timeouts", "limits", "retries"}) {
    EXPECT_TRUE(o.contains(key)) << key;
  }
  EXPECT_EQ(o.at("route").at("weights").at("canary").as_int64(), 5);
  EXPECT_FALSE(o.at("route").as_object().contains("sticky"));
  EXPECT_EQ(o.at("tracks").at("stable").at("balance").as_string(), "least_outstanding");
  EXPECT_EQ(o.at("cpu_affinity").as_string(), "none");
}

// The issue example with `replace` substituted for `find` (the first occurrence).
std::string edited(std::string find, std::string replace) {
  std::string text = kIssueExample;
  const auto at = text.find(find);
  EXPECT_NE(at, std::string::npos) << find;
  if (at != std::string::npos) text.replace(at, find.size(), replace);
  return text;
}

struct BadCase {
  std::string yaml;
  std::string message;  // the error message must contain this
};

void expect_rejected(const std::vector<BadCase>& cases) {
  for (const auto& c : cases) {
    auto result = parse_gateway_config_yaml(c.yaml);
    ASSERT_FALSE(result.is_ok()) << "accepted, want '" << c.message << "':\n" << c.yaml;
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(result.error().message.find(c.message), std::string::npos)
        << "got '" << result.error().message << "', want '" << c.message << "'";
  }
}

TEST(GatewayConfig, RejectsBadWeightsNamingTheKeyAndTheRule) {
  expect_rejected({
      {edited("canary: 5", "canary: 10"), "route.weights: weights must sum to 100, got 105"},
      {edited("canary: 5", "canary: 0"), "route.weights: weights must sum to 100, got 95"},
      {edited("canary: 5", "canary: -5, purple: 10"),
       "route.weights.canary: must be 0..100, got -5"},
      {edited("canary: 5", "canary: 4, purple: 1"),
       "route.weights.purple: track 'purple' is not defined in tracks"},
      {edited("canary: 5", "canary: 5.5"),
       "route.weights.canary: must be an integer, got string '5.5'"},
      {edited("canary: 5", "canary: \"5\""), "route.weights.canary: must be an integer"},
      {edited("{ weights: { stable: 95, canary: 5 } }", "{ weights: {} }"),
       "route.weights: at least one track weight is required"},
      {edited("route: { weights: { stable: 95, canary: 5 } }", "route: {}"),
       "route.weights: is required"},
      {edited("route: { weights: { stable: 95, canary: 5 } }", ""), "route: is required"},
      {edited("canary: 5", "canary: 5, stable: 0"), "route.weights.stable: the key is given twice"},
      {edited("[127.0.0.1:9201]", "[]"),
       "route.weights.canary: track has weight 5 but no endpoints"},
  });
}

TEST(GatewayConfig, RejectsBadTracksAndEndpoints) {
  expect_rejected({
      {edited("127.0.0.1:9201", "127.0.0.1:0"),
       "tracks.canary.endpoints[0]: '127.0.0.1:0' must be HOST:PORT with port 1..65535"},
      {edited("127.0.0.1:9201", "127.0.0.1:65536"), "tracks.canary.endpoints[0]"},
      {edited("127.0.0.1:9201", "127.0.0.1"), "must be HOST:PORT"},
      {edited("127.0.0.1:9201", ":9201"), "must be HOST:PORT"},
      {edited("127.0.0.1:9201", "\"bad host:80\""), "must be HOST:PORT"},
      {edited("127.0.0.1:9201", "\"[zz::1]:80\""), "must be HOST:PORT"},
      {edited("127.0.0.1:9201", "9201"), "tracks.canary.endpoints[0]: must be a string"},
      {edited("127.0.0.1:9102", "127.0.0.1:9101"),
       "tracks.stable.endpoints[1]: '127.0.0.1:9101' is listed twice"},
      {edited("canary: { endpoints", "Canary: { endpoints"),
       "tracks.Canary: track name must match [a-z0-9-]{1,32}"},
      {edited("canary: { endpoints", std::string(33, 'c') + ": { endpoints"),
       "track name must match"},
      {edited("canary: { endpoints: [127.0.0.1:9201] }", "canary: {}"),
       "tracks.canary.endpoints: is required"},
      {edited("canary: { endpoints: [127.0.0.1:9201] }", "canary: [127.0.0.1:9201]"),
       "tracks.canary: must be a mapping with endpoints"},
      {edited("[127.0.0.1:9201]", "[127.0.0.1:9201], balance: random"),
       "tracks.canary.balance: must be least_outstanding or round_robin, got 'random'"},
      {edited("[127.0.0.1:9201]", "[127.0.0.1:9201], weight: 5"),
       "tracks.canary.weight: unknown key (expected one of: balance, endpoints)"},
  });
}

TEST(GatewayConfig, ANonLoopbackAdminListenNeedsTheInsecureFlag) {
  const GatewayConfig c = parse_ok(edited("listen: 127.0.0.1:8081",
                                          "listen: 0.0.0.0:8081, insecure_listen: true"));
  EXPECT_EQ(c.admin_listen, "0.0.0.0:8081");
  EXPECT_TRUE(c.admin_insecure_listen);
  auto back = parse_gateway_config_json(gateway_config_to_json_text(c));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(back->admin_insecure_listen) << "the flag survives the admin API's JSON form";
}

TEST(GatewayConfig, RejectsBadListenersAndUnknownKeys) {
  expect_rejected({
      {edited("listen: 127.0.0.1:8080", "listen: localhost"),
       "listen: 'localhost' must be HOST:PORT with port 0..65535"},
      {edited("listen: 127.0.0.1:8081", "listen: 127.0.0.1:99999"),
       "admin.listen: '127.0.0.1:99999'"},
      {edited("listen: 127.0.0.1:8081", "listen: 0.0.0.0:8081"),
       "admin.listen: '0.0.0.0:8081' is not a loopback address and the admin API has no TLS"},
      {edited("listen: 127.0.0.1:8081", "listen: 10.1.2.3:8081"),
       "admin.listen: '10.1.2.3:8081' is not a loopback address"},
      {edited("token_env: STREAMGATE_ADMIN_TOKEN", "token_env: 1TOKEN"),
       "admin.token_env: '1TOKEN' must be an environment variable name"},
      {edited("token_env: STREAMGATE_ADMIN_TOKEN", "token: x"), "admin.token: unknown key"},
      {std::string(kIssueExample) + "threads: 300\n", "threads: must be 0..256, got 300"},
      {std::string(kIssueExample) + "threads: many\n",
       "threads: must be an integer, got string 'many'"},
      {std::string(kIssueExample) + "threads: 99999999999\n",
       "threads: 99999999999 is out of range"},
      {std::string(kIssueExample) + "cpu_affinity: pinned\n",
       "cpu_affinity: must be none or auto, got 'pinned'"},
      {std::string(kIssueExample) + "cpu_affinity: 2\n", "cpu_affinity: must be a string"},
      {std::string(kIssueExample) + "listn: 127.0.0.1:1\n", "listn: unknown key"},
      {std::string(kIssueExample) + "retries: { enabled: yes }\n",
       "retries.enabled: must be true or false, got string 'yes'"},
      {std::string(kIssueExample) + "retries: true\n", "retries: must be a mapping, got true"},
      {"", "config: the top level must be a mapping, got null"},
      {"- a\n- b\n", "config: the top level must be a mapping, got a list"},
      {"listen: [unclosed\n", "config: invalid YAML at line"},
  });
}

TEST(GatewayConfig, RejectsBadStickyHealthOutlierTimeoutsAndLimits) {
  const std::string base = kIssueExample;
  const std::string route = "route: { weights: { stable: 95, canary: 5 }";
  expect_rejected({
      {edited(route, route + ", sticky: { header: X-Id, cookie: id }"),
       "route.sticky: give exactly one of header or cookie"},
      {edited(route, route + ", sticky: {}"), "route.sticky: give exactly one of header or cookie"},
      {edited(route, route + ", sticky: { header: \"X Id\" }"),
       "route.sticky.header: 'X Id' must be an HTTP token"},
      {edited(route, route + ", sticky: { cookie: \"\" }"), "route.sticky.cookie: '' must be"},
      {edited(route, route + ", sticky: { query: id }"), "route.sticky.query: unknown key"},
      {edited(route, route + ", sticky: { header: X-Id, key_env: \"1BAD\" }"),
       "route.sticky.key_env: '1BAD' must be an environment variable name"},
      {base + "trusted_proxies: [10.0.0.0/8, 10.0.0.0/33]\n",
       "trusted_proxies[1]: '10.0.0.0/33' must be an IP address or ADDRESS/BITS"},
      {base + "trusted_proxies: proxy\n", "trusted_proxies: must be a list of CIDRs"},
      {base + "health_check: { path: ready }\n", "health_check.path: 'ready' must start with '/'"},
      {base + "health_check: { interval_ms: 50 }\n",
       "health_check.interval_ms: must be 100..3600000, got 50"},
      {base + "health_check: { interval_ms: 1000, timeout_ms: 2000 }\n",
       "health_check.timeout_ms: must be 1..1000, got 2000 (at most interval_ms)"},
      {base + "health_check: { rise: 0 }\n", "health_check.rise: must be 1..100, got 0"},
      {base + "health_check: { fall: 101 }\n", "health_check.fall: must be 1..100, got 101"},
      {base + "outlier: { consecutive_failures: 0 }\n",
       "outlier.consecutive_failures: must be 1..1000, got 0"},
      {base + "outlier: { base_ejection_ms: 20000, max_ejection_ms: 10000 }\n",
       "outlier.max_ejection_ms: must be 20000..3600000, got 10000"},
      {base + "timeouts: { connect_ms: 0 }\n", "timeouts.connect_ms: must be 1..3600000, got 0"},
      {base + "timeouts: { first_byte_ms: -1 }\n", "timeouts.first_byte_ms: must be 1..3600000"},
      {base + "timeouts: { idle_ms: 3600001 }\n", "timeouts.idle_ms: must be 1..3600000"},
      {base + "timeouts: { header_ms: 0 }\n", "timeouts.header_ms: must be 1..3600000"},
      {base + "timeouts: { read_ms: 5 }\n", "timeouts.read_ms: unknown key"},
      {base + "limits: { header_bytes: 100 }\n",
       "limits.header_bytes: must be 1024..1048576, got 100"},
      {base + "limits: { max_connections: 0 }\n", "limits.max_connections: must be 1..1000000"},
  });
}

TEST(GatewayConfig, JsonErrorsNameTheKeyToo) {
  struct Case {
    std::string json;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"{", "config: invalid JSON"},
      {"[]", "config: the top level must be a mapping, got a list"},
      {R"({"tracks": {"a": {"endpoints": ["h:1"]}}, "route": {"weights": {"a": 100.0}}})",
       "route.weights.a: must be an integer, got number 100.0"},
      {R"({"tracks": {"a": {"endpoints": ["h:1"]}}, "route": {"weights": {"a": 100}},
          "retries": {"enabled": 1}})",
       "retries.enabled: must be true or false, got 1"},
      {R"({"tracks": {"a": {"endpoints": "h:1"}}, "route": {"weights": {"a": 100}}})",
       "tracks.a.endpoints: must be a list, got string 'h:1'"},
  };
  for (const auto& c : cases) {
    auto result = parse_gateway_config_json(c.json);
    ASSERT_FALSE(result.is_ok()) << c.json;
    EXPECT_NE(result.error().message.find(c.message), std::string::npos)
        << "got '" << result.error().message << "', want '" << c.message << "'";
  }
}

TEST(GatewayConfig, ValidateChecksConfigsBuiltInCode) {
  GatewayConfig c = parse_ok(kIssueExample);
  EXPECT_TRUE(validate_gateway_config(c).is_ok());
  c.route.weights = {{"stable", 0}, {"canary", 100}};
  EXPECT_TRUE(validate_gateway_config(c).is_ok());
  c.tracks.erase("canary");
  const Status s = validate_gateway_config(c);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.error().message, "route.weights.canary: track 'canary' is not defined in tracks");
}

TEST(GatewayConfig, HostPortAcceptsNamesIpv4AndBracketedIpv6) {
  EXPECT_TRUE(is_host_port("127.0.0.1:1", 1));
  EXPECT_TRUE(is_host_port("my-svc.ns.svc.cluster.local:65535", 1));
  EXPECT_TRUE(is_host_port("[::1]:8080", 1));
  EXPECT_TRUE(is_host_port("0.0.0.0:0", 0));
  EXPECT_FALSE(is_host_port("0.0.0.0:0", 1));
  EXPECT_FALSE(is_host_port("::1:8080", 1)) << "IPv6 needs brackets";
  EXPECT_FALSE(is_host_port("[]:80", 1));
  EXPECT_FALSE(is_host_port("host:+80", 1));
  EXPECT_FALSE(is_host_port("host:080000", 1));
  EXPECT_FALSE(is_host_port("host:", 1));
  EXPECT_FALSE(is_host_port("host", 1));
}

TEST(GatewayConfig, TrustedProxiesAndTheStickyKeyVariableRoundTrip) {
  auto c = parse_gateway_config_yaml(std::string(kIssueExample) +
                                     "trusted_proxies: [10.0.0.0/8, \"::1\", 192.0.2.7]\n");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->trusted_proxies, (std::vector<std::string>{"10.0.0.0/8", "::1", "192.0.2.7"}));
  c->route.sticky = StickyConfig{StickyConfig::Source::kHeader, "X-Viewer-Id", "MY_KEY"};
  auto back = parse_gateway_config_json(gateway_config_to_json_text(*c));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, *c);
}

TEST(IpNetwork, ContainsByPrefixForBothFamilies) {
  auto net = parse_ip_network("10.1.0.0/16");
  ASSERT_TRUE(net);
  auto ip = [](const char* a) { return boost::asio::ip::make_address(a); };
  EXPECT_TRUE(net->contains(ip("10.1.200.3")));
  EXPECT_FALSE(net->contains(ip("10.2.0.1")));
  EXPECT_TRUE(net->contains(ip("::ffff:10.1.0.9"))) << "IPv4-mapped";
  EXPECT_FALSE(net->contains(ip("::1")));
  auto one = parse_ip_network("::1");
  ASSERT_TRUE(one);
  EXPECT_TRUE(one->contains(ip("::1")));
  EXPECT_FALSE(one->contains(ip("::2")));
  EXPECT_TRUE(parse_ip_network("0.0.0.0/0")->contains(ip("8.8.8.8")));
  EXPECT_FALSE(parse_ip_network("10.0.0.0/"));
  EXPECT_FALSE(parse_ip_network("host.example"));
}

}  // namespace
}  // namespace sg::gateway
