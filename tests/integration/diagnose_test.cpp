// `sgctl diagnose` on a real local platform: each incident of the runbook made for real, and
// the classification, evidence, safe action and exit status checked through --output json.
// And `sgctl report` on the same kind of incident: the rollups count what the gateway served.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "integration/http_client.hpp"
#include "integration/paced_load.hpp"
#include "integration/sgctl_fixture.hpp"
#include "platform/store/rollup_store.hpp"
#include "platform/store/state_store.hpp"

namespace sg::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class DiagnoseTest : public SgctlFixture {
 protected:
  struct Result {
    int exit_code = -1;
    json::value report;
    std::string output;
  };
  Result diagnose(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"diagnose", "-o", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = sgctl(args, 60s);
    Result out{r.exit_code, nullptr, r.output};
    boost::system::error_code ec;
    // The JSON document is the last line of the output.
    const auto start = r.output.rfind("\n{");
    out.report =
        json::parse(start == std::string::npos ? r.output : r.output.substr(start + 1), ec);
    if (ec) out.report = nullptr;
    return out;
  }
  // Diagnoses until the incident is `incident` (at most `limit`); the last answer.
  Result diagnose_until(const std::string& incident, std::chrono::seconds limit) {
    const auto end = Clock::now() + limit;
    Result r;
    do {
      r = diagnose();
      if (r.report.is_object() && r.report.at("incident") == incident.c_str()) return r;
      std::this_thread::sleep_for(1s);
    } while (Clock::now() < end);
    return r;
  }
};

TEST_F(DiagnoseTest, AHealthyPlatformUnderLoadIsHealthyAndExitsZero) {
  ASSERT_NO_FATAL_FAILURE(add_release("v1"));
  ASSERT_NO_FATAL_FAILURE(start_up("v1"));
  PacedLoad load(port_, 2);
  std::this_thread::sleep_for(12s);  // the gateway's rates cover ~10 s
  auto r = diagnose();
  EXPECT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(r.report.is_object()) << r.output;
  EXPECT_EQ(r.report.at("incident"), "healthy") << r.output;
  EXPECT_EQ(r.report.at("healthy"), true);
}

TEST_F(DiagnoseTest, AReleaseFailingTwentyPercentIsAHighErrorRate) {
  ASSERT_NO_FATAL_FAILURE(add_release("v1-bad", {"--chaos-error-rate", "0.2"}));
  ASSERT_NO_FATAL_FAILURE(start_up("v1-bad"));
  PacedLoad load(port_, 2);
  auto r = diagnose_until("high_error_rate", 40s);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  ASSERT_TRUE(r.report.is_object()) << r.output;
  EXPECT_EQ(r.report.at("incident"), "high_error_rate") << r.output << up_log();
  EXPECT_NE(r.output.find("error rate"), std::string::npos) << r.output;
}

TEST_F(DiagnoseTest, ReportCountsEveryRequestAndFindsTheIncidentInTheRollups) {
  ASSERT_NO_FATAL_FAILURE(add_release("v1-bad", {"--chaos-error-rate", "0.2"}));
  ASSERT_NO_FATAL_FAILURE(start_up("v1-bad", 2, true, {"--rollup-seconds", "1"}));
  auto report_now = [&] {
    auto r = sgctl({"report", "daily", "-o", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    boost::system::error_code ec;
    json::value v = json::parse(r.output, ec);
    EXPECT_FALSE(ec) << r.output;
    return ec ? json::value(json::object{{"traffic", json::object{{"requests", 0}, {"errors", 0}}}})
              : v;
  };
  // What start_up's own health checks left in the rollups, once their periods closed.
  std::this_thread::sleep_for(3s);
  const json::value before = report_now();
  // 240 requests at ~60/s (1 s rollups: above the report's 1 request/s floor).
  int sent = 0, failed = 0;
  const auto start = Clock::now();
  for (; sent < 240; ++sent) {
    auto r = http_get(port_, "/api/v1/health");
    ASSERT_NE(r.status, 0) << r.error;
    if (r.status >= 500) ++failed;
    std::this_thread::sleep_until(start + (sent + 1) * 16ms);
  }
  ASSERT_GT(failed, 10);
  std::this_thread::sleep_for(3500ms);  // the last period closes
  const json::value report = report_now();
  auto count = [](const json::value& v, const char* what) {
    return v.at("traffic").at(what).to_number<int>();
  };
  EXPECT_EQ(count(report, "requests") - count(before, "requests"), sent)
      << json::serialize(report) << up_log();
  EXPECT_EQ(count(report, "errors") - count(before, "errors"), failed) << json::serialize(report);
  EXPECT_GT(report.at("resources").at("replica_hours").to_number<double>(), 0);
  const auto& incidents = report.at("incidents").at("list").as_array();
  ASSERT_FALSE(incidents.empty()) << json::serialize(report);
  EXPECT_EQ(incidents.back().at("causes").as_array()[0], "high_error_rate");
  EXPECT_EQ(incidents.back().at("severity"), "critical");  // ~20 % failed
  bool error_check_failed = false;
  for (const auto& c : report.at("checks").as_array()) {
    if (c.at("name") == "error_rate") error_check_failed = c.at("status") == "failed";
  }
  EXPECT_TRUE(error_check_failed) << json::serialize(report);
  auto md = sgctl({"report", "weekly", "-o", "markdown"});
  EXPECT_EQ(md.exit_code, 0) << md.output;
  EXPECT_NE(md.output.find("## Incidents"), std::string::npos) << md.output;
  EXPECT_NE(md.output.find("| high_error_rate"), std::string::npos) << md.output;
  auto bad = sgctl({"report", "yearly"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("daily, weekly or monthly"), std::string::npos) << bad.output;
}

// A known history and series written into a state dir, and `sgctl report` read back: the
// figures are what the seed implies (no platform runs).
TEST_F(DiagnoseTest, ReportFiguresFromASeededHistoryAndSeries) {
  constexpr std::int64_t kMinute = 60'000, kDay = 24 * 60 * kMinute;
  const std::int64_t now = platform::unix_ms_now();
  const std::int64_t base = now - now % kMinute - 100 * kMinute;
  {
    auto store = platform::StateStore::open(state_);
    ASSERT_TRUE(store) << store.error().message;
    auto add = [&](std::int64_t started, const char* result, std::int64_t took_s) {
      platform::DeploymentRecord d;
      d.strategy = "canary";
      d.from_release = "v1";
      d.to_release = "v2";
      d.result = result;
      d.started_ms = started;
      d.finished_ms = started + took_s * 1000;
      d.options = d.state = d.evidence = "{}";
      d.journal = "[]";
      ASSERT_TRUE((*store)->insert_deployment(d));
    };
    add(now - 40 * kDay, "promoted", 60);   // outside every period
    add(now - 20 * kDay, "promoted", 100);  // monthly only
    add(now - 10 * kDay, "rolled_back", 200);
    add(now - 2 * kDay, "promoted", 300);  // weekly and monthly
    add(now - kDay / 2, "promoted", 400);  // all three
    auto rollups = platform::RollupStore::open(state_);
    ASSERT_TRUE(rollups) << rollups.error().message;
    for (int m = 0; m < 100; ++m) {
      platform::TrackRollup t;
      t.start_ms = base + m * kMinute;
      t.track = "blue";
      t.release = "v2";
      t.requests = 600;
      t.errors = (m >= 40 && m < 43) ? 60 : 0;  // a 3-minute incident at 10 %
      t.latency_bounds = {0.05, 0.25};
      t.latency_counts = {600, 0, 0};
      t.desired = t.ready = t.running = 2;
      t.autoscaled = true;
      t.autoscaler_desired = m == 70 ? 3 : 2;  // one minute short of a replica
      t.scale_ups = m == 70 ? 1 : 0;
      t.scale_downs = m == 80 ? 1 : 0;
      std::vector<platform::ReplicaRollup> replicas;
      for (const char* name : {"blue-v2-1", "blue-v2-2"}) {
        platform::ReplicaRollup r;
        r.start_ms = t.start_ms;
        r.replica = name;
        r.track = "blue";
        r.release = "v2";
        r.cpu_seconds = 12;  // 0.2 cores
        r.memory_bytes = 64.0 * 1048576;
        r.ready = true;
        replicas.push_back(r);
      }
      ASSERT_TRUE((*rollups)->add({t}, replicas, t.start_ms));
    }
  }
  auto run = [&](const char* kind) {
    auto r = sgctl({"report", kind, "-o", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    boost::system::error_code ec;
    json::value v = json::parse(r.output, ec);
    EXPECT_FALSE(ec) << r.output;
    return ec ? json::value(json::object{}) : v;
  };
  const json::value daily = run("daily");
  ASSERT_TRUE(daily.as_object().contains("traffic"));
  EXPECT_EQ(daily.at("traffic").at("requests").to_number<int>(), 60'000);
  EXPECT_EQ(daily.at("traffic").at("errors").to_number<int>(), 180);
  EXPECT_DOUBLE_EQ(daily.at("traffic").at("peak_rps").to_number<double>(), 10.0);
  EXPECT_DOUBLE_EQ(daily.at("recorded_s").to_number<double>(), 6000);
  EXPECT_EQ(daily.at("deployments").at("started").to_number<int>(), 1);
  const auto& incidents = daily.at("incidents");
  EXPECT_EQ(incidents.at("count").to_number<int>(), 1);
  EXPECT_DOUBLE_EQ(incidents.at("max_resolve_s").to_number<double>(), 180);
  EXPECT_EQ(incidents.at("list").as_array()[0].at("severity"), "critical");
  EXPECT_NEAR(daily.at("resources").at("replica_hours").to_number<double>(), 200.0 / 60, 1e-9);
  EXPECT_NEAR(daily.at("resources").at("avg_cpu_cores").to_number<double>(), 0.2, 1e-9);
  EXPECT_DOUBLE_EQ(daily.at("scaling").at("accuracy").to_number<double>(), 0.99);
  EXPECT_EQ(daily.at("scaling").at("scale_ups").to_number<int>(), 1);
  EXPECT_EQ(daily.at("scaling").at("scale_downs").to_number<int>(), 1);
  const json::value weekly = run("weekly");
  EXPECT_EQ(weekly.at("deployments").at("started").to_number<int>(), 2);
  const json::value monthly = run("monthly");
  const auto& d = monthly.at("deployments");
  EXPECT_EQ(d.at("started").to_number<int>(), 4);
  EXPECT_EQ(d.at("promoted").to_number<int>(), 3);
  EXPECT_EQ(d.at("rolled_back").to_number<int>(), 1);
  EXPECT_DOUBLE_EQ(d.at("success_rate").to_number<double>(), 0.75);
  EXPECT_DOUBLE_EQ(d.at("mean_duration_s").to_number<double>(), 250);
  EXPECT_NEAR(d.at("rollbacks_per_week").to_number<double>(), 7.0 / 30, 1e-9);
}

TEST_F(DiagnoseTest, AReleaseAnswering800MsLateIsHighLatency) {
  ASSERT_NO_FATAL_FAILURE(add_release("v1-slow", {"--chaos-latency-ms", "800"}));
  ASSERT_NO_FATAL_FAILURE(start_up("v1-slow"));
  PacedLoad load(port_, 4);  // ~1 request/s each at 800 ms
  auto r = diagnose_until("high_latency", 40s);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  ASSERT_TRUE(r.report.is_object()) << r.output;
  EXPECT_EQ(r.report.at("incident"), "high_latency") << r.output << up_log();
}

TEST_F(DiagnoseTest, AReplicaThatCrashLoopsIsAPodCrashWithItsExitReason) {
  // Each replica process ends after 3 s (timeout's exit status 124) and is restarted.
  auto re = sgctl({"release", "add", "v1-crashy", "--exec", "/bin/sh", "--", "-c",
                   std::string("exec timeout 3 ") + SG_SERVER_BIN});
  ASSERT_EQ(re.exit_code, 0) << re.output;
  ASSERT_NO_FATAL_FAILURE(start_up("v1-crashy", 2, true, {"--restart-backoff", "2"}));
  auto r = diagnose_until("pod_crash", 60s);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  ASSERT_TRUE(r.report.is_object()) << r.output;
  EXPECT_EQ(r.report.at("incident"), "pod_crash") << r.output << up_log();
  EXPECT_NE(r.output.find("exit 124"), std::string::npos) << r.output;
}

TEST_F(DiagnoseTest, AReleaseThatNeverGetsReadyIsADeploymentFailureAndApplyAborts) {
  ASSERT_NO_FATAL_FAILURE(add_release("v1"));
  auto re = sgctl({"release", "add", "v2-never", "--exec", "/bin/sleep", "--", "600"});
  ASSERT_EQ(re.exit_code, 0) << re.output;
  ASSERT_NO_FATAL_FAILURE(start_up("v1"));
  auto deploy = sgctl_async({"deploy", "blue-green", "streamgate:v2-never", "--timeout", "300"},
                            "deploy.log");
  auto r = diagnose_until("deployment_failure", 100s);
  ASSERT_TRUE(r.report.is_object()) << r.output;
  EXPECT_EQ(r.report.at("incident"), "deployment_failure") << r.output << up_log();
  EXPECT_EQ(r.report.at("safe_action"), "abort") << r.output;
  auto applied = diagnose({"--apply"});
  EXPECT_EQ(applied.exit_code, 1) << applied.output;
  ASSERT_TRUE(applied.report.is_object()) << applied.output;
  EXPECT_EQ(applied.report.at("applied").at("ok"), true) << applied.output;
  const auto status = deploy.wait_exit(60s);
  ASSERT_TRUE(status.has_value()) << "the deploy did not end after the abort";
  auto events = sgctl({"events", "--tail", "50"});
  EXPECT_NE(events.output.find("diagnose  applied abort"), std::string::npos) << events.output;
  // v1 still serves.
  EXPECT_EQ(http_get(port_, "/api/v1/health").header("X-StreamGate-Version"), "v1");
}

TEST_F(DiagnoseTest, AStoppedRedisIsADependencyDown) {
  RedisInstance redis;
  ASSERT_TRUE(redis.start()) << "redis-server";
  ASSERT_NO_FATAL_FAILURE(add_release("v1"));
  ASSERT_NO_FATAL_FAILURE(start_up("v1", 2, true, {"--cache", redis.url()}));
  auto before = diagnose();
  EXPECT_EQ(before.report.at("incident"), "healthy") << before.output;
  redis.stop();
  auto r = diagnose_until("dependency_down", 30s);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  ASSERT_TRUE(r.report.is_object()) << r.output;
  EXPECT_EQ(r.report.at("incident"), "dependency_down") << r.output;
  EXPECT_NE(r.output.find("redis"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace sg::test
