#include "platform/model.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/json_text.hpp"

namespace sg::platform {
namespace {

namespace json = boost::json;

PlatformStatus sample_status() {
  PlatformStatus s;
  s.backend = "local";
  s.state_dir = "/tmp/state";
  s.gateway = {"127.0.0.1:8080", "127.0.0.1:8081", 4242, true, 12.5, 30.25};
  s.active_colour = "green";
  s.active_release = "v2";
  s.weights = {{"green", 95}, {"canary", 5}};
  TrackView green;
  green.release = "v2";
  green.desired = 2;
  green.ready = 1;
  green.weight = 95;
  green.desired_by = "operator";
  ReplicaView up{"green-v2-1", "green", "v2", "127.0.0.1:40001", 77, "ready", 0, 0, "", "/l/1",
                 3.0, 20.0, 1.25};
  ReplicaView down{"green-v2-2", "green", "v2", "127.0.0.1:40002", std::nullopt, "backoff", 2, 1,
                   "signal 9 (Killed)", "/l/2", std::nullopt, std::nullopt, std::nullopt};
  green.replicas = {up, down};
  green.traffic = TrafficView{10, 120.5, 0.001, 12};
  s.tracks["green"] = green;
  RolloutView r;
  r.id = 7;
  r.strategy = "canary";
  r.from = "v2";
  r.to = "v3";
  r.phase = "step";
  r.reason = "step 1/5 (5%): 40 of 50 requests";
  r.elapsed_s = 12;
  r.verdict = {"inconclusive", "40 of 50 requests", {{"requests", 40}}, {}};
  r.step = 1;
  r.steps = 5;
  r.canary_weight = 5;
  r.step_elapsed_s = 2;
  r.synthetic_rps = 16.5;
  r.synthetic_requests = 30;
  s.rollout = r;
  return s;
}

TEST(ModelJson, StatusRoundTripsAndAMissingProcessIsNullNotMinusOne) {
  const PlatformStatus s = sample_status();
  const json::value v = to_json(s);
  const auto& replicas = v.at("tracks").at("green").at("replicas").as_array();
  EXPECT_TRUE(replicas[1].at("pid").is_null()) << json_text(replicas[1]);
  EXPECT_TRUE(replicas[1].at("cpu_percent").is_null());
  auto back = status_from_json(v);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(json_text(to_json(*back)), json_text(v));
}

TEST(ModelJson, StatusWithAWrongTypeNamesTheField) {
  json::value v = to_json(sample_status());
  v.as_object()["tracks"].as_object()["green"].as_object()["ready"] = "one";
  auto bad = status_from_json(v);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("'ready' must be an integer"), std::string::npos)
      << bad.error().message;
  v = to_json(sample_status());
  v.as_object().erase("gateway");
  bad = status_from_json(v);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("'gateway' is missing"), std::string::npos)
      << bad.error().message;
}

TEST(ModelJson, DeploymentWithJournalRoundTrips) {
  DeploymentView d;
  d.id = 3;
  d.strategy = "blue-green";
  d.from = "v1";
  d.to = "v2";
  d.result = "promoted";
  d.reason = "promoted: green serves v2";
  d.started = "2026-12-05T10:00:00.000Z";
  d.finished = "2026-12-05T10:01:30.000Z";
  d.evidence = VerdictView{"pass",
                           "error rate 0.00% < 0.5% (SPRT, 1900 requests)",
                           {{"requests", 1900}, {"synthetic_requests", 1900}},
                           {}};
  d.journal = {{"2026-12-05T10:00:00.500Z", "waiting_ready", "starting v2", {"StartNewColour"}, {}},
               {"2026-12-05T10:01:00.000Z",
                "verifying",
                "crash",
                {},
                {"fail", "1 restart", {{"restarts", 1}}, {{"exit_reason", "exit 3"}}}}};
  const json::value v = to_json(d);
  auto back = deployment_from_json(v);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(json_text(to_json(*back)), json_text(v));
  ASSERT_EQ(back->journal.size(), 2u);
  ASSERT_EQ(back->journal[1].verdict.details.size(), 1u);
  EXPECT_EQ(back->journal[1].verdict.details[0].second, "exit 3");
}

}  // namespace
}  // namespace sg::platform
