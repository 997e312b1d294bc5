// streamgate-gateway as a real process in front of real streamgate-server replicas.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <csignal>
#include <fstream>
#include <iostream>
#include <set>
#include <thread>

#include "integration/gateway_fixture.hpp"
#include "integration/http_client.hpp"
#include "integration/load_generator.hpp"
#include "integration/server_process.hpp"

namespace sg::test {
namespace {

namespace json = boost::json;
using boost::beast::http::verb;
using GatewayTest = GatewayFixture;

TEST_F(GatewayTest, NinetyFiveFiveSplitIsExactPerHundredRequests) {
  ASSERT_NO_FATAL_FAILURE(start_replicas("v-stable", 2));
  ASSERT_NO_FATAL_FAILURE(start_replicas("v-canary", 1));
  ASSERT_NO_FATAL_FAILURE(start_gateway("tracks:\n  stable: { endpoints: [" +
                                        endpoints("v-stable") + "] }\n  canary: { endpoints: [" +
                                        endpoints("v-canary") +
                                        "] }\nroute: { weights: { stable: 95, canary: 5 } }\n"));
  std::map<std::string, int> per_track;
  for (int i = 0; i < 300; ++i) {
    auto r = http_get(port_, "/api/v1/health");
    ASSERT_EQ(r.status, 200) << r.body << r.error;
    const std::string track = r.header("X-StreamGate-Track");
    EXPECT_EQ(r.header("X-StreamGate-Version"), track == "canary" ? "v-canary" : "v-stable");
    ++per_track[track];
  }
  EXPECT_EQ(per_track["canary"], 15) << "stable " << per_track["stable"];
  EXPECT_EQ(per_track["stable"], 285);
}

TEST_F(GatewayTest, StickyViewerStaysOnOneTrack) {
  ASSERT_NO_FATAL_FAILURE(start_replicas("v-stable", 1));
  ASSERT_NO_FATAL_FAILURE(start_replicas("v-canary", 1));
  ASSERT_NO_FATAL_FAILURE(start_gateway(
      "tracks:\n  stable: { endpoints: [" + endpoints("v-stable") +
      "] }\n  canary: { endpoints: [" + endpoints("v-canary") +
      "] }\nroute: { weights: { stable: 50, canary: 50 }, sticky: { header: X-Viewer-Id } }\n"));
  std::map<std::string, int> viewers_per_track;
  for (int viewer = 0; viewer < 40; ++viewer) {
    std::set<std::string> seen;
    for (int i = 0; i < 10; ++i) {
      auto r = http_get(port_, "/health", {{"X-Viewer-Id", "viewer-" + std::to_string(viewer)}});
      ASSERT_EQ(r.status, 200);
      seen.insert(r.header("X-StreamGate-Track"));
    }
    EXPECT_EQ(seen.size(), 1u) << "viewer " << viewer << " moved between tracks";
    ++viewers_per_track[*seen.begin()];
  }
  EXPECT_GT(viewers_per_track["canary"], 5) << "50/50 stickiness put too few viewers on canary";
  EXPECT_GT(viewers_per_track["stable"], 5);
}

TEST_F(GatewayTest, BlueGreenSwitchUnderLoadLosesNothing) {
  ASSERT_NO_FATAL_FAILURE(start_replicas("v-blue", 2));
  ASSERT_NO_FATAL_FAILURE(start_replicas("v-green", 2));
  ASSERT_NO_FATAL_FAILURE(start_gateway("tracks:\n  blue: { endpoints: [" + endpoints("v-blue") +
                                        "] }\n  green: { endpoints: [" + endpoints("v-green") +
                                        "] }\nroute: { weights: { blue: 100, green: 0 } }\n"));
  LoadGenerator load({port_, "/api/v1/health", 8, std::chrono::milliseconds(6000), 2000000});
  load.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  auto switched = admin(verb::put, "/admin/v1/route", R"({"weights":{"blue":0,"green":100}})");
  ASSERT_EQ(switched.status, 200) << switched.body;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  load.window();  // forget what was in flight around the switch
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto after = load.window();
  auto total = load.finish();
  EXPECT_GT(total.requests, 1000u);
  EXPECT_EQ(total.non_2xx, 0u) << "statuses: " << total.by_status.size();
  EXPECT_EQ(total.connection_errors, 0u) << (total.errors.empty() ? "" : total.errors.front());
  std::cout << "[ load     ] " << total.requests << " GETs across the switch, " << total.non_2xx
            << " non-2xx, " << total.connection_errors << " connection errors\n";
  EXPECT_GT(after.requests, 100u);
  EXPECT_EQ(after.by_header["v-green"], after.requests)
      << "blue still served " << after.by_header["v-blue"];
}

TEST_F(GatewayTest, KillingAReplicaUnderLoadFailsNoGet) {
  ASSERT_NO_FATAL_FAILURE(start_replicas("v-stable", 3));
  ASSERT_NO_FATAL_FAILURE(start_gateway("tracks:\n  stable: { endpoints: [" +
                                        endpoints("v-stable") +
                                        "] }\nroute: { weights: { stable: 100 } }\n"));
  LoadGenerator load({port_, "/api/v1/health", 8, std::chrono::milliseconds(5000), 2000000});
  load.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_TRUE(replicas_["v-stable"][1]->process().signal(SIGKILL));
  auto total = load.finish();
  EXPECT_GT(total.requests, 1000u);
  EXPECT_EQ(total.non_2xx, 0u) << "statuses seen: " << total.by_status.rbegin()->first;
  EXPECT_EQ(total.connection_errors, 0u) << (total.errors.empty() ? "" : total.errors.front());
  std::cout << "[ load     ] " << total.requests << " GETs, " << total.non_2xx << " non-2xx, "
            << total.connection_errors << " connection errors around a SIGKILL\n";
  // The active health check has taken the dead replica out of rotation.
  const std::string dead = "127.0.0.1:" + std::to_string(replicas_["v-stable"][1]->port());
  auto m = http_get(admin_port_, "/metrics");
  EXPECT_NE(m.body.find("streamgate_gateway_upstream_healthy{track=\"stable\",endpoint=\"" + dead +
                        "\"} 0"),
            std::string::npos)
      << m.body;
}

TEST_F(GatewayTest, DrainingAnEndpointStopsNewRequestsAndReportsDrained) {
  ASSERT_NO_FATAL_FAILURE(start_replicas("v-stable", 2));
  ASSERT_NO_FATAL_FAILURE(start_gateway("tracks:\n  stable: { endpoints: [" +
                                        endpoints("v-stable") +
                                        "] }\nroute: { weights: { stable: 100 } }\n"));
  const std::string drained_ep = "127.0.0.1:" + std::to_string(replicas_["v-stable"][0]->port());
  auto d = admin(verb::post, "/admin/v1/endpoints/" + drained_ep + "/drain");
  ASSERT_EQ(d.status, 202) << d.body;
  bool drained = false;
  for (int i = 0; i < 100 && !drained; ++i) {
    auto s = admin(verb::get, "/admin/v1/endpoints/" + drained_ep);
    ASSERT_EQ(s.status, 200) << s.body;
    drained = json::parse(s.body).at("drained").as_bool();
    if (!drained) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(drained);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(http_get(port_, "/health").status, 200);
  auto stats = json::parse(admin(verb::get, "/admin/v1/stats?window=10").body);
  auto eps = stats.at("tracks").at("stable").at("endpoints").as_object();
  EXPECT_EQ(eps.at(drained_ep).at("windows").at("10s").at("requests").as_int64(), 0);
}

TEST_F(GatewayTest, MalformedRequestsAreRejectedWithJsonErrors) {
  ASSERT_NO_FATAL_FAILURE(start_replicas("v-stable", 1));
  ASSERT_NO_FATAL_FAILURE(start_gateway("tracks:\n  stable: { endpoints: [" +
                                        endpoints("v-stable") +
                                        "] }\nroute: { weights: { stable: 100 } }\n"));
  auto both = raw_exchange(port_,
                           "POST /api/v1/content HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_NE(both.find("HTTP/1.1 400"), std::string::npos) << both;
  auto dup = raw_exchange(
      port_, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab");
  EXPECT_NE(dup.find("HTTP/1.1 400"), std::string::npos) << dup;
  auto bad_byte = raw_exchange(
      port_, std::string("GET /health HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01") + "b\r\n\r\n");
  EXPECT_NE(bad_byte.find("HTTP/1.1 400"), std::string::npos) << bad_byte;
  auto big =
      raw_exchange(port_, "GET / HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  EXPECT_NE(big.find("HTTP/1.1 431"), std::string::npos) << big.substr(0, 200);
  EXPECT_NE(big.find("\"error\""), std::string::npos);
  EXPECT_EQ(http_get(admin_port_, "/admin/v1/config").status, 401);
}

}  // namespace
}  // namespace sg::test

namespace sg::test {
namespace {

// After serving keep-alive traffic (so upstream connections sit in the pools), SIGTERM
// stops the gateway with exit status 0 (pooled sockets must go before their io_contexts).
TEST_F(GatewayTest, StopsCleanlyOnSigtermWithPooledConnections) {
  ASSERT_NO_FATAL_FAILURE(start_replicas("v-stable", 2));
  ASSERT_NO_FATAL_FAILURE(start_gateway("tracks:\n  stable: { endpoints: [" +
                                        endpoints("v-stable") +
                                        "] }\nroute: { weights: { stable: 100 } }\n"));
  LoadGenerator load({port_, "/health", 4, std::chrono::milliseconds(1000), 2000000});
  load.start();
  EXPECT_EQ(load.finish().non_2xx, 0u);
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(gateway_->signal(SIGTERM));
    auto status = gateway_->wait_exit(std::chrono::seconds(30));
    ASSERT_TRUE(status) << "gateway did not exit";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << "wait status " << *status << "\n"
        << tail_of(log_file());
    if (round < 2) {
      ASSERT_NO_FATAL_FAILURE(start_gateway("tracks:\n  stable: { endpoints: [" +
                                            endpoints("v-stable") +
                                            "] }\nroute: { weights: { stable: 100 } }\n"));
      LoadGenerator again({port_, "/health", 4, std::chrono::milliseconds(500), 2000000});
      again.start();
      again.finish();
    }
  }
}

}  // namespace
}  // namespace sg::test
