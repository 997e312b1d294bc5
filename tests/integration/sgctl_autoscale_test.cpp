// Autoscaling on the real local platform (`sgctl up`, the real gateway and replicas), with
// bounded loopback load: a load step adds a replica that serves within 30 s (5 s sync
// period); after the load the count returns to the minimum only after the (shortened)
// stabilization window, the scale-down drains at the gateway first, and no request fails;
// during a canary at 25 %, load on the canary alone scales the canary track, not stable.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <set>

#include "common/json_text.hpp"
#include "integration/http_client.hpp"
#include "integration/load_generator.hpp"
#include "integration/sgctl_fixture.hpp"

namespace sg::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

class SgctlAutoscaleTest : public SgctlFixture {
 protected:
  std::string admin_token() {
    std::ifstream in(state_ / "gateway-admin-token");
    std::string token;
    std::getline(in, token);
    return token;
  }

  // Requests each endpoint of `track` answered in the gateway's last 10 s.
  std::map<std::string, std::int64_t> served(const std::string& track) {
    std::map<std::string, std::int64_t> out;
    auto r = http_get(admin_port_, "/admin/v1/stats?window=10",
                      {{"Authorization", "Bearer " + admin_token()}});
    boost::system::error_code ec;
    auto v = json::parse(r.body, ec);
    if (ec || !v.is_object()) return out;
    const auto* t = v.at("tracks").as_object().if_contains(track);
    if (t == nullptr) return out;
    for (const auto& [addr, e] : t->at("endpoints").as_object()) {
      out[std::string(addr)] = e.at("windows").at("10s").at("requests").to_number<std::int64_t>();
    }
    return out;
  }

  // The track's desired count and the autoscaler's record for it (null when none yet).
  std::pair<int, json::value> track_state(const std::string& track) {
    const json::value st = status_json();
    if (!st.is_object()) return {-1, nullptr};
    int desired = -1;
    if (const auto* t = st.at("tracks").as_object().if_contains(track)) {
      desired = static_cast<int>(t->at("desired").as_int64());
    }
    json::value hpa = nullptr;
    if (st.at("autoscaler").is_object()) {
      if (const auto* h = st.at("autoscaler").at("tracks").as_object().if_contains(track)) hpa = *h;
    }
    return {desired, hpa};
  }
};

TEST_F(SgctlAutoscaleTest, LoadStepAddsAServingReplicaAndTheWindowHoldsTheScaleDown) {
  // Each /api/ request takes 20 ms, so a connection sends at most ~50 req/s: one connection is
  // light load (< 25 req/s per replica), eight are a step (~200 per replica).
  ASSERT_NO_FATAL_FAILURE(add_release("v1", {"--chaos-latency-ms", "20"}));
  ASSERT_NO_FATAL_FAILURE(start_up("v1"));
  auto on = sgctl({"autoscale", "--min", "2", "--max", "3", "--rps", "40", "--sync-period", "5",
                   "--scale-down-window", "30"});
  ASSERT_EQ(on.exit_code, 0) << on.output;

  LoadGenerator::Options light_o;
  light_o.port = port_;
  light_o.connections = 1;
  light_o.duration = 150s;
  LoadGenerator light(light_o);
  light.start();
  std::this_thread::sleep_for(6s);  // one evaluation at light load: stays at 2
  EXPECT_EQ(track_state("blue").first, 2);
  const std::set<std::string> before = [&] {
    std::set<std::string> s;
    for (const auto& [addr, n] : served("blue")) s.insert(addr);
    return s;
  }();
  ASSERT_EQ(before.size(), 2u);

  LoadGenerator::Options step_o = light_o;
  step_o.connections = 7;
  step_o.duration = 60s;
  LoadGenerator step(step_o);
  const auto t0 = Clock::now();
  step.start();
  double scaled_at = -1, serving_at = -1;
  std::string added;
  while (since(t0) < 45 && serving_at < 0) {
    if (scaled_at < 0 && track_state("blue").first == 3) scaled_at = since(t0);
    for (const auto& [addr, n] : served("blue")) {
      if (before.count(addr) == 0 && n > 0) {
        added = addr;
        serving_at = since(t0);
      }
    }
    std::this_thread::sleep_for(250ms);
  }
  ASSERT_GE(serving_at, 0) << "no third replica served within 45 s\n" << up_log();
  EXPECT_LE(serving_at, 30.0) << "scale-up to serving took longer than the runbook's 30 s";
  std::this_thread::sleep_for(3s);
  step.stop();
  const LoadResult step_total = step.finish();
  const auto stopped = Clock::now();

  // The load fell: the metric soon asks for 2, the window holds 3 for 30 s after the last
  // recommendation of 3 (taken at most one sync period before the stop).
  bool held_by_window = false;
  double back_at = -1;
  while (since(stopped) < 75) {
    const auto [desired, hpa] = track_state("blue");
    if (desired == 2) {
      back_at = since(stopped);
      break;
    }
    if (hpa.is_object() && hpa.at("last_decision").is_object()) {
      const auto& d = hpa.at("last_decision");
      if (d.at("metric_replicas").is_int64() && d.at("metric_replicas").as_int64() == 2 &&
          d.at("desired_replicas").as_int64() == 3) {
        held_by_window = true;
      }
    }
    std::this_thread::sleep_for(500ms);
  }
  ASSERT_GE(back_at, 0) << "still 3 replicas 75 s after the load\n" << up_log();
  EXPECT_GE(back_at, 30.0 - 5.0 - 1.0) << "scaled down before the 30 s window";
  EXPECT_TRUE(held_by_window) << "never saw the window hold a lower recommendation";
  // The replica that went is drained at the gateway, then stopped, while the light load
  // continues; both events, in that order.
  int draining = -1, stopped_ev = -1, rescale_up = -1, rescale_down = -1;
  std::string events_text;
  const auto drained = Clock::now();
  while (since(drained) < 40 && stopped_ev < 0) {
    auto events = sgctl({"events", "--tail", "500", "-o", "json"});
    events_text = events.output;
    const json::value ev = json::parse(events.output);
    const auto& list = ev.as_array();
    draining = stopped_ev = rescale_up = rescale_down = -1;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string kind(list[i].at("kind").as_string());
      const std::string msg(list[i].at("message").as_string());
      const int at = static_cast<int>(i);
      if (msg.find(" " + added + " ") != std::string::npos ||
          (msg.size() >= added.size() && msg.ends_with(added))) {
        if (kind == "replica_draining" && draining < 0) draining = at;
        if (kind == "replica_stopped" && stopped_ev < 0) stopped_ev = at;
      }
      if (kind == "autoscaler" && msg.find("New size: 3") != std::string::npos) rescale_up = at;
      if (kind == "autoscaler" && msg.find("New size: 2") != std::string::npos) rescale_down = at;
    }
    if (stopped_ev < 0) std::this_thread::sleep_for(1s);
  }
  light.stop();
  const LoadResult light_total = light.finish();

  EXPECT_EQ(step_total.non_2xx + step_total.connection_errors, 0u) << describe(step_total);
  EXPECT_EQ(light_total.non_2xx + light_total.connection_errors, 0u) << describe(light_total);
  EXPECT_GE(rescale_up, 0) << events_text;
  EXPECT_GT(rescale_down, rescale_up) << events_text;
  EXPECT_GE(draining, 0) << "no drain of " << added << "\n" << events_text;
  EXPECT_GT(stopped_ev, draining) << "not stopped after draining\n" << events_text;
  auto hpa = sgctl({"get", "hpa"});
  EXPECT_EQ(hpa.exit_code, 0);
  EXPECT_NE(hpa.output.find("ScalingActive True"), std::string::npos) << hpa.output;
  std::printf("autoscale: decision at %.1f s, new replica serving at %.1f s after the step; "
              "back to 2 at %.1f s after the load (window 30 s); step %s; light %s\n",
              scaled_at, serving_at, back_at, describe(step_total).c_str(),
              describe(light_total).c_str());
}

TEST_F(SgctlAutoscaleTest, LoadOnTheCanaryScalesTheCanaryNotStable) {
  ASSERT_NO_FATAL_FAILURE(add_release("v1"));
  ASSERT_NO_FATAL_FAILURE(add_release("v2"));
  ASSERT_NO_FATAL_FAILURE(start_up("v1"));
  auto on = sgctl({"autoscale", "--min", "2", "--max", "4", "--cpu", "50", "--cpu-request",
                   "50m", "--sync-period", "5", "--scale-down-window", "600"});
  ASSERT_EQ(on.exit_code, 0) << on.output;
  auto deploy = sgctl_async({"deploy", "canary", "v2", "--steps", "25,100", "--step-interval",
                             "600", "--synthetic-rps", "5"},
                            "deploy.log");
  std::string canary;
  const auto t0 = Clock::now();
  while (since(t0) < 60 && canary.empty()) {
    const json::value st = status_json();
    if (st.is_object() && st.at("weights").as_object().contains("canary")) {
      for (const auto& r : st.at("tracks").at("canary").at("replicas").as_array()) {
        if (r.at("phase").as_string() == "ready") canary = std::string(r.at("address").as_string());
      }
    }
    std::this_thread::sleep_for(500ms);
  }
  ASSERT_FALSE(canary.empty()) << "the canary did not reach 25 %\n" << up_log();
  // Evaluated once without load, the canary keeps the rollout's single replica: the spec's
  // minimum (2) is stable's, the canary's floor is what its claim and weight need.
  const auto idle = Clock::now();
  while (since(idle) < 15 && !track_state("canary").second.is_object()) {
    std::this_thread::sleep_for(500ms);
  }
  EXPECT_EQ(track_state("canary").first, 1);
  // Load on the canary's replica alone (straight to it, not through the gateway): its CPU
  // rises far above 50 % of 50m; stable's stays near zero.
  LoadGenerator::Options o;
  o.port = static_cast<std::uint16_t>(std::stoi(canary.substr(canary.rfind(':') + 1)));
  o.target = "/api/v1/content?limit=20";
  o.connections = 3;
  o.duration = 60s;
  LoadGenerator load(o);
  load.start();
  const auto t1 = Clock::now();
  int canary_desired = 1;
  while (since(t1) < 45 && canary_desired < 2) {
    canary_desired = track_state("canary").first;
    std::this_thread::sleep_for(500ms);
  }
  const auto [blue_desired, blue_hpa] = track_state("blue");
  const auto [c_desired, canary_hpa] = track_state("canary");
  load.stop();
  const LoadResult total = load.finish();
  EXPECT_GE(canary_desired, 2) << json_text(canary_hpa) << "\n" << up_log();
  EXPECT_EQ(blue_desired, 2) << json_text(blue_hpa);
  ASSERT_TRUE(canary_hpa.is_object());
  ASSERT_TRUE(blue_hpa.is_object());
  const double canary_cpu = canary_hpa.at("metrics").at(0).at("current").to_number<double>();
  const double blue_cpu = blue_hpa.at("metrics").at(0).at("current").to_number<double>();
  EXPECT_GT(canary_cpu, 50.0);
  EXPECT_LT(blue_cpu, 50.0);
  EXPECT_EQ(total.non_2xx + total.connection_errors, 0u) << describe(total);
  std::printf("canary under load: canary desired %d (cpu %.0f%% of 50m), stable desired %d "
              "(cpu %.0f%%) after %.1f s; %s\n",
              c_desired, canary_cpu, blue_desired, blue_cpu, since(t1), describe(total).c_str());
  auto abort = sgctl({"abort"});
  EXPECT_EQ(abort.exit_code, 0) << abort.output;
  (void)deploy.wait_exit(60s);
}

TEST_F(SgctlAutoscaleTest, BadInputIsOneLineAndExitTwo) {
  ASSERT_NO_FATAL_FAILURE(add_release("v1"));
  ASSERT_NO_FATAL_FAILURE(start_up("v1"));
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"autoscale", "--min", "5", "--max", "3"}, "--max must be 5..50 (at least --min), got 3"},
      {{"autoscale", "--cpu", "0"}, "--cpu must be 1..1000 (percent of the CPU request), got 0"},
      {{"autoscale", "--cpu-request", "lots"},
       "--cpu-request must be a CPU quantity like 250m, 0.5 or 1, got 'lots'"},
      {{"autoscale", "--sync-period", "0"}, "--sync-period must be 1..600 seconds, got 0"},
      {{"autoscale", "--scale-down-window", "4000"},
       "behavior.scaleDown.stabilizationWindowSeconds must be 0..3600, got 4000"},
      {{"autoscale", "--behavior", "/nonexistent.json"}, "--behavior /nonexistent.json: cannot read it"},
  };
  for (const auto& [args, message] : cases) {
    auto r = sgctl(args);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_EQ(r.output, "sgctl: " + message + "\n");
  }
  const auto file = dir_.path() / "behavior.json";
  std::ofstream(file) << R"({"scaleDown": {"selectPolicy": "Sometimes"}})";
  auto r = sgctl({"autoscale", "--behavior", file.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.output, "sgctl: --behavior " + file.string() +
                          ": behavior.scaleDown.selectPolicy must be Max, Min or Disabled, got "
                          "\"Sometimes\"\n");
  EXPECT_FALSE(status_json().at("autoscaler").is_object()) << "nothing was turned on";
  // A write without the token is refused by the control API.
  std::ifstream addr_in(state_ / "control-address");
  std::string addr;
  std::getline(addr_in, addr);
  const auto port = static_cast<std::uint16_t>(std::stoi(addr.substr(addr.rfind(':') + 1)));
  auto unauth = http_call(port, {boost::beast::http::verb::post, "/control/v1/autoscale",
                                 R"({"min_replicas":2,"max_replicas":3})", {}});
  EXPECT_EQ(unauth.status, 401);
  // Off, with nothing on, is fine and says so.
  r = sgctl({"get", "hpa"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("autoscaling is off"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace sg::test
