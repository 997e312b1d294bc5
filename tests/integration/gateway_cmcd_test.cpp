// streamgate-gateway counts the CMCD data (CTA-5004) viewers send, per track, on /metrics.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "integration/gateway_fixture.hpp"
#include "integration/http_client.hpp"

namespace sg::test {
namespace {

using GatewayCmcdTest = GatewayFixture;

// The value of `name{route="default",track="TRACK"}` in a Prometheus exposition; 0 when the
// series is absent (a counter never incremented is not rendered).
double sample(const std::string& exposition, const std::string& name, const std::string& track) {
  const std::string prefix = name + "{route=\"default\",track=\"" + track + "\"} ";
  const auto at = exposition.find(prefix);
  if (at == std::string::npos) return 0;
  return std::strtod(exposition.c_str() + at + prefix.size(), nullptr);
}

struct Kind {
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  bool cmcd;
  bool malformed;
};

TEST_F(GatewayCmcdTest, CountsCmcdAndMalformedCmcdOnTheTrackThatAnswered) {
  ASSERT_NO_FATAL_FAILURE(start_replicas("v-stable", 1));
  ASSERT_NO_FATAL_FAILURE(start_replicas("v-canary", 1));
  ASSERT_NO_FATAL_FAILURE(start_gateway("tracks:\n  stable: { endpoints: [" +
                                        endpoints("v-stable") + "] }\n  canary: { endpoints: [" +
                                        endpoints("v-canary") +
                                        "] }\nroute: { weights: { stable: 50, canary: 50 } }\n"));
  const std::vector<Kind> kinds = {
      {"/health", {}, false, false},
      {"/health?CMCD=bl%3D21300%2Cbs%2Csid%3D%22viewer-1%22", {}, true, false},
      {"/health",
       {{"CMCD-Request", "bl=100,su"}, {"CMCD-Session", "sid=\"viewer-2\""}},
       true,
       false},
      {"/health?CMCD=bl%3D%22unterminated", {}, true, true},   // a syntax error
      {"/health", {{"CMCD-Status", "bs=maybe"}}, true, true},  // a token where a Boolean goes
      {"/health?cmcd=bl%3D1", {{"X-CMCD-Request", "bl=1"}}, false, false},  // not CMCD names
  };
  std::map<std::string, int> cmcd;
  std::map<std::string, int> malformed;
  for (int i = 0; i < 120; ++i) {
    const Kind& k = kinds[i % kinds.size()];
    const auto r = http_get(port_, k.target, k.headers);
    // Malformed CMCD is never the viewer's problem: the request is served as usual.
    ASSERT_EQ(r.status, 200) << k.target << ": " << r.body << r.error;
    const std::string track = r.header("X-StreamGate-Track");
    cmcd[track] += k.cmcd;
    malformed[track] += k.malformed;
  }
  ASSERT_GT(cmcd["stable"], 0);
  ASSERT_GT(cmcd["canary"], 0);
  const std::string metrics = http_get(admin_port_, "/metrics").body;
  for (const std::string track : {"stable", "canary"}) {
    EXPECT_EQ(sample(metrics, "streamgate_gateway_cmcd_requests_total", track), cmcd[track])
        << track << "\n"
        << metrics;
    EXPECT_EQ(sample(metrics, "streamgate_gateway_cmcd_malformed_total", track), malformed[track])
        << track;
  }
  EXPECT_EQ(cmcd["stable"] + cmcd["canary"], 80);  // 4 of every 6 requests carried CMCD
  EXPECT_EQ(malformed["stable"] + malformed["canary"], 40);
}

}  // namespace
}  // namespace sg::test
