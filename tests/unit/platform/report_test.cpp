// sgctl report's figures (platform/report.hpp) from hand-made rollups and deployments:
// incidents and their merging, severity, scaling accuracy, deployment success, checks,
// trends, buckets and the renderings.
#include "platform/report.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sg::platform {
namespace {

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kEnd = 1'800'000'000'000 + 24 * 60 * kMinute;  // whole minutes
constexpr std::int64_t kStart = kEnd - 24 * 60 * kMinute;

// One minute of `track` with `requests`, `errors`, all under 100 ms or all above 1 s.
TrackRollup minute(std::int64_t start, std::uint64_t requests, std::uint64_t errors,
                   bool slow = false) {
  TrackRollup t;
  t.start_ms = start;
  t.track = "blue";
  t.release = "v1";
  t.requests = requests;
  t.errors = errors;
  t.latency_bounds = {0.1, 1.0};
  t.latency_counts = slow ? std::vector<std::uint64_t>{0, 0, requests}
                          : std::vector<std::uint64_t>{requests, 0, 0};
  t.desired = 2;
  t.ready = 2;
  t.running = 2;
  return t;
}

ReplicaRollup replica(std::int64_t start, const std::string& name, int restarts = 0) {
  ReplicaRollup r;
  r.start_ms = start;
  r.replica = name;
  r.track = "blue";
  r.release = "v1";
  r.cpu_seconds = 6;  // 0.1 cores
  r.memory_bytes = 100e6;
  r.restarts = restarts;
  r.ready = true;
  return r;
}

ReportInput healthy_day() {
  ReportInput in;
  in.kind = ReportKind::kDaily;
  in.end_ms = kEnd;
  for (int m = 0; m < 120; ++m) {
    const std::int64_t start = kStart + m * kMinute;
    in.tracks.push_back(minute(start, 600, 0));
    in.replicas.push_back(replica(start, "blue-v1-1"));
    in.replicas.push_back(replica(start, "blue-v1-2"));
  }
  return in;
}

const ReportCheck& check(const Report& r, const std::string& name) {
  for (const auto& c : r.checks) {
    if (c.name == name) return c;
  }
  static const ReportCheck none;
  ADD_FAILURE() << "no check " << name;
  return none;
}

TEST(Report, AHealthyDayHasNoIncidentAndEveryCheckOk) {
  const Report r = build_report(healthy_day());
  EXPECT_TRUE(r.incidents.empty());
  EXPECT_EQ(r.traffic.requests, 72'000u);
  EXPECT_DOUBLE_EQ(r.traffic.avg_rps, 10.0);
  EXPECT_DOUBLE_EQ(r.traffic.peak_rps, 10.0);
  EXPECT_DOUBLE_EQ(r.recorded_s, 7200);
  EXPECT_DOUBLE_EQ(r.resources.replica_hours, 4.0);
  EXPECT_DOUBLE_EQ(r.resources.avg_replicas, 2.0);
  EXPECT_NEAR(*r.resources.avg_cpu_cores, 0.1, 1e-9);
  EXPECT_NEAR(*r.replica_hours_per_million_requests, 4.0 / 0.072, 1e-9);
  EXPECT_EQ(check(r, "error_rate").status, "ok");
  EXPECT_EQ(check(r, "latency_p95").status, "ok");
  EXPECT_EQ(check(r, "pod_restarts").status, "ok");
  EXPECT_EQ(check(r, "scaling_accuracy").status, "no_data");
  EXPECT_EQ(check(r, "deployments").status, "no_data");
  ASSERT_EQ(r.buckets.size(), 2u) << "two whole UTC hours";
  EXPECT_EQ(r.buckets[0].start_ms % (60 * kMinute), 0);
}

TEST(Report, ErrorMinutesOneHealthyMinuteApartAreOneIncidentAndTwoApartAreTwo) {
  ReportInput in = healthy_day();
  auto at = [&](int m) -> TrackRollup& { return in.tracks[static_cast<std::size_t>(m)]; };
  at(10) = minute(kStart + 10 * kMinute, 600, 60);        // 10 %: critical
  at(12) = minute(kStart + 12 * kMinute, 600, 60);        // one healthy minute between: same
  at(20) = minute(kStart + 20 * kMinute, 600, 12, true);  // 2 % and slow: warning
  at(21) = minute(kStart + 21 * kMinute, 600, 0, true);
  const Report r = build_report(in);
  ASSERT_EQ(r.incidents.size(), 2u);
  EXPECT_EQ(r.incidents[0].start_ms, kStart + 10 * kMinute);
  EXPECT_EQ(r.incidents[0].end_ms, kStart + 13 * kMinute);
  EXPECT_EQ(r.incidents[0].severity, "critical");
  EXPECT_EQ(r.incidents[0].causes, (std::vector<std::string>{"high_error_rate"}));
  EXPECT_EQ(r.incidents[1].severity, "warning");
  EXPECT_EQ(r.incidents[1].causes, (std::vector<std::string>{"high_error_rate", "high_latency"}));
  EXPECT_DOUBLE_EQ(*r.mean_resolve_s, 150);
  EXPECT_DOUBLE_EQ(*r.max_resolve_s, 180);
  EXPECT_FALSE(r.incidents[1].ongoing);
  EXPECT_EQ(check(r, "error_rate").status, "ok") << "132 of 72,000 is below 1 %";
}

TEST(Report, ThinTrafficDoesNotMakeAnIncidentButACrashDoes) {
  ReportInput in = healthy_day();
  in.tracks[30] = minute(kStart + 30 * kMinute, 30, 15);  // 50 % of 30: below 1 request/s
  in.replicas[2 * 119] = replica(kStart + 119 * kMinute, "blue-v1-1", 4);
  const Report r = build_report(in);
  ASSERT_EQ(r.incidents.size(), 1u);
  EXPECT_EQ(r.incidents[0].causes, (std::vector<std::string>{"pod_crash"}));
  EXPECT_EQ(r.incidents[0].severity, "critical");
  EXPECT_TRUE(r.incidents[0].ongoing) << "its minute is the last recorded";
  EXPECT_EQ(check(r, "pod_restarts").status, "failed");
  EXPECT_EQ(check(r, "incidents").status, "failed");
}

TEST(Report, ScalingAccuracyIsTheShareOfAutoscaledTimeAtTheDesiredReplicas) {
  ReportInput in = healthy_day();
  for (int m = 0; m < 100; ++m) {
    auto& t = in.tracks[static_cast<std::size_t>(m)];
    t.autoscaled = true;
    t.autoscaler_desired = m < 3 ? 3 : 2;  // 3 minutes short of a wanted third replica
  }
  in.tracks[0].scale_ups = 1;
  in.tracks[3].scale_downs = 1;
  const Report r = build_report(in);
  EXPECT_DOUBLE_EQ(r.autoscaled_s, 6000);
  EXPECT_DOUBLE_EQ(*r.scaling_accuracy, 0.97);
  EXPECT_EQ(r.scale_ups, 1);
  EXPECT_EQ(r.scale_downs, 1);
  EXPECT_EQ(check(r, "scaling_accuracy").status, "ok");
  in.tracks[3].autoscaler_desired = 3;
  in.tracks[4].autoscaler_desired = 3;
  EXPECT_EQ(check(build_report(in), "scaling_accuracy").status, "failed") << "95 % is not > 95 %";
}

TEST(Report, DeploymentsOfThePeriodGiveSuccessRateAndRollbacks) {
  ReportInput in = healthy_day();
  auto dep = [](std::int64_t id, std::int64_t start, const char* result) {
    DeploymentRecord d;
    d.id = id;
    d.strategy = "canary";
    d.from_release = "v1";
    d.to_release = "v2";
    d.result = result;
    d.started_ms = start;
    d.finished_ms = std::string(result) == "in_progress" ? 0 : start + 120'000;
    return d;
  };
  in.deployments = {dep(1, kStart - 10 * kMinute, "promoted"),  // before the period
                    dep(2, kStart + kMinute, "promoted"), dep(3, kStart + 5 * kMinute, "promoted"),
                    dep(4, kStart + 9 * kMinute, "rolled_back"),
                    dep(5, kStart + 20 * kMinute, "in_progress")};
  const Report r = build_report(in);
  ASSERT_EQ(r.deployments.size(), 4u);
  EXPECT_EQ(r.deployments.front().id, 5) << "newest first";
  EXPECT_EQ(r.promoted, 2);
  EXPECT_EQ(r.rolled_back, 1);
  EXPECT_EQ(r.in_progress, 1);
  EXPECT_DOUBLE_EQ(*r.success_rate, 2.0 / 3);
  EXPECT_DOUBLE_EQ(*r.rollbacks_per_week, 7.0);
  EXPECT_DOUBLE_EQ(*r.mean_deploy_s, 120);
  EXPECT_EQ(check(r, "deployments").status, "ok");
}

TEST(Report, TrendsCompareTheSecondHalfWithTheFirst) {
  ReportInput in;
  in.kind = ReportKind::kDaily;
  in.end_ms = kEnd;
  for (int h = 0; h < 24; ++h) {
    const std::int64_t start = kStart + h * 60 * kMinute;
    in.tracks.push_back(minute(start, h < 12 ? 600 : 1200, 0));
    in.replicas.push_back(replica(start, "blue-v1-1"));
  }
  const Report r = build_report(in);
  ASSERT_FALSE(r.trends.empty());
  EXPECT_EQ(r.trends[0].metric, "request_rate");
  EXPECT_EQ(r.trends[0].direction, "up");
  EXPECT_DOUBLE_EQ(*r.trends[0].second_half / *r.trends[0].first_half, 2.0);
  EXPECT_EQ(r.trends[3].metric, "cpu_cores");
  EXPECT_EQ(r.trends[3].direction, "flat");
  EXPECT_EQ(r.buckets.size(), 24u);
}

TEST(Report, JsonMarkdownAndTextCarryTheSameFigures) {
  ReportInput in = healthy_day();
  in.tracks[10] = minute(kStart + 10 * kMinute, 600, 60);
  const Report r = build_report(in);
  const auto j = to_json(r);
  EXPECT_EQ(j.at("report"), "daily");
  EXPECT_EQ(j.at("traffic").at("requests").to_number<std::uint64_t>(), 72'000u);
  EXPECT_EQ(j.at("incidents").at("count").to_number<int>(), 1);
  EXPECT_TRUE(j.at("scaling").at("accuracy").is_null());
  const std::string md = to_markdown(r);
  EXPECT_NE(md.find("# StreamGate Daily report"), std::string::npos) << md;
  EXPECT_NE(md.find("| error_rate "), std::string::npos) << md;
  EXPECT_NE(md.find("|---"), std::string::npos) << md;
  const std::string text = to_text(r);
  EXPECT_NE(text.find("high_error_rate"), std::string::npos) << text;
  EXPECT_EQ(text.find('|'), std::string::npos) << text;
  EXPECT_FALSE(parse_report_kind("yearly"));
  EXPECT_EQ(*parse_report_kind("monthly"), ReportKind::kMonthly);
}

TEST(Report, NoRollupsSaySoInsteadOfZeros) {
  ReportInput in;
  in.kind = ReportKind::kWeekly;
  in.end_ms = kEnd;
  const Report r = build_report(in);
  EXPECT_EQ(check(r, "error_rate").status, "no_data");
  EXPECT_FALSE(r.traffic.error_rate.has_value());
  EXPECT_NE(to_text(r).find("no data"), std::string::npos);
}

}  // namespace
}  // namespace sg::platform
