#include "platform/engine/platform_metrics.hpp"

#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "platform/scrape_targets.hpp"

namespace sg::platform {
namespace {

// A canary rollout at step 2 (weight 10): green serves with one ready replica of two (the
// other crashed twice and backs off); the canary runs one replica.
PlatformStatus canary_in_progress() {
  PlatformStatus s;
  s.backend = "local";
  s.gateway = {"127.0.0.1:8080", "127.0.0.1:8081", 4242, true, 1.0, 20.0};
  s.active_colour = "green";
  s.weights = {{"green", 90}, {"canary", 10}};
  TrackView green;
  green.release = "v2";
  green.desired = 2;
  green.ready = 1;
  green.replicas = {{"green-v2-1", "green", "v2", "127.0.0.1:40001", 77, "ready", 0, 0, "", "/l/1",
                     3.0, 20.0, 12.5},
                    {"green-v2-2", "green", "v2", "", std::nullopt, "backoff", 2, 1,
                     "signal 9 (Killed)", "/l/2", std::nullopt, std::nullopt, std::nullopt}};
  s.tracks["green"] = green;
  TrackView canary;
  canary.release = "v3";
  canary.desired = 1;
  canary.ready = 1;
  canary.replicas = {{"canary-v3-1", "canary", "v3", "127.0.0.1:40003", 78, "ready", 0, 0, "",
                      "/l/3", 1.0, 10.0, 0.5}};
  s.tracks["canary"] = canary;
  RolloutView r;
  r.strategy = "canary";
  r.phase = "step";
  r.elapsed_s = 75;
  r.step = 2;
  s.rollout = r;
  return s;
}

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) {
    if (l == line) return true;
  }
  return false;
}

TEST(PlatformMetrics, DeploymentsUseKubeStateMetricsNamesPerTrack) {
  const std::string m = render_platform_metrics(canary_in_progress(), {}, {});
  for (
      const char* line : {
          R"(kube_deployment_spec_replicas{namespace="streamgate",deployment="streamgate-green"} 2)",
          R"(kube_deployment_status_replicas{namespace="streamgate",deployment="streamgate-green"} 2)",
          R"(kube_deployment_status_replicas_ready{namespace="streamgate",deployment="streamgate-green"} 1)",
          R"(kube_deployment_status_replicas_unavailable{namespace="streamgate",deployment="streamgate-green"} 1)",
          R"(kube_deployment_status_replicas_unavailable{namespace="streamgate",deployment="streamgate-canary"} 0)",
          R"(streamgate_track_info{namespace="streamgate",deployment="streamgate-canary",track="canary",release="v3"} 1)",
      }) {
    EXPECT_TRUE(has_line(m, line)) << "missing: " << line << "\nin:\n" << m;
  }
}

TEST(PlatformMetrics, ReplicasReportRestartsCrashLoopsCpuAndMemoryOnlyWhereKnown) {
  const std::string m = render_platform_metrics(canary_in_progress(), {}, {2.0, 4294967296.0});
  for (
      const char* line : {
          R"(kube_pod_container_status_restarts_total{namespace="streamgate",pod="green-v2-2",container="streamgate-server"} 2)",
          R"(kube_pod_container_status_waiting_reason{namespace="streamgate",pod="green-v2-2",container="streamgate-server",reason="CrashLoopBackOff"} 1)",
          R"(kube_pod_container_status_ready{namespace="streamgate",pod="green-v2-1",container="streamgate-server"} 1)",
          R"(container_cpu_usage_seconds_total{namespace="streamgate",pod="green-v2-1",container="streamgate-server"} 12.5)",
          R"(container_memory_working_set_bytes{namespace="streamgate",pod="green-v2-1",container="streamgate-server"} 20971520)",
          R"(kube_pod_container_resource_limits{namespace="streamgate",pod="canary-v3-1",container="streamgate-server",resource="cpu",unit="core"} 2)",
          R"(kube_pod_container_resource_limits{namespace="streamgate",pod="canary-v3-1",container="streamgate-server",resource="memory",unit="byte"} 4294967296)",
      }) {
    EXPECT_TRUE(has_line(m, line)) << "missing: " << line << "\nin:\n" << m;
  }
  // A replica without a process has no CPU or memory sample (not 0), and only the one
  // backing off is waiting.
  EXPECT_EQ(m.find(R"(container_cpu_usage_seconds_total{namespace="streamgate",pod="green-v2-2")"),
            std::string::npos);
  EXPECT_EQ(m.find(R"(waiting_reason{namespace="streamgate",pod="green-v2-1")"), std::string::npos);
}

TEST(PlatformMetrics, RolloutPhaseCanaryWeightAndFinishedDeploymentsByResult) {
  const std::string m = render_platform_metrics(
      canary_in_progress(),
      {{"blue-green", "promoted", 3}, {"canary", "rolled_back", 2}, {"canary", "in_progress", 1}},
      {});
  for (
      const char* line : {
          R"(streamgate_canary_weight{namespace="streamgate"} 10)",
          R"(streamgate_rollout_in_progress{namespace="streamgate"} 1)",
          R"(streamgate_rollout_phase{namespace="streamgate",strategy="canary",phase="step"} 1)",
          R"(streamgate_rollout_elapsed_seconds{namespace="streamgate",strategy="canary"} 75)",
          R"(streamgate_rollout_step{namespace="streamgate",strategy="canary"} 2)",
          R"(streamgate_rollouts_total{namespace="streamgate",strategy="blue-green",result="promoted"} 3)",
          R"(streamgate_rollouts_total{namespace="streamgate",strategy="canary",result="rolled_back"} 2)",
          R"(streamgate_rollouts_total{namespace="streamgate",strategy="canary",result="failed"} 0)",
      }) {
    EXPECT_TRUE(has_line(m, line)) << "missing: " << line << "\nin:\n" << m;
  }
  EXPECT_EQ(m.find(R"(result="in_progress")"), std::string::npos) << m;
}

// The text format wants every family's lines in one group: no name may come back after
// another family's lines.
TEST(PlatformMetrics, EachFamilyIsOneGroupWithItsTypeFirst) {
  const std::string m = render_platform_metrics(canary_in_progress(), {}, {2.0, 1e9});
  std::istringstream in(m);
  std::string line, current;
  std::set<std::string> done;
  while (std::getline(in, line)) {
    std::string name;
    if (line.starts_with("# TYPE ") || line.starts_with("# HELP ")) {
      name = line.substr(7, line.find(' ', 7) - 7);
    } else {
      name = line.substr(0, line.find_first_of("{ "));
    }
    if (name != current) {
      EXPECT_EQ(done.count(name), 0u) << name << " appears in two groups:\n" << m;
      if (!current.empty()) done.insert(current);
      current = name;
      EXPECT_TRUE(line.starts_with("# ")) << "a family starts without HELP/TYPE: " << line;
    }
  }
  EXPECT_GT(done.size(), 15u) << m;
}

TEST(PlatformMetrics, NoRolloutMeansWeightZeroAndNoPhase) {
  PlatformStatus s = canary_in_progress();
  s.rollout.reset();
  s.weights = {{"green", 100}};
  const std::string m = render_platform_metrics(s, {}, {});
  EXPECT_TRUE(has_line(m, R"(streamgate_canary_weight{namespace="streamgate"} 0)")) << m;
  EXPECT_TRUE(has_line(m, R"(streamgate_rollout_in_progress{namespace="streamgate"} 0)")) << m;
  EXPECT_EQ(m.find("streamgate_rollout_phase{"), std::string::npos) << m;
}

TEST(PlatformMetrics, EachAutoscaledTrackIsAnHpaWithKubeStateMetricsNames) {
  PlatformStatus s = canary_in_progress();
  EXPECT_EQ(render_platform_metrics(s, {}, {}).find("kube_horizontalpodautoscaler_spec_min_"
                                                    "replicas{"),
            std::string::npos)
      << "no autoscaler, no HPA samples";
  AutoscalerView a;
  HpaTrackView green;
  green.release = "v2";
  green.min_replicas = 2;
  green.max_replicas = 10;
  green.current_replicas = 2;
  green.desired_replicas = 4;
  green.metrics = {{"cpu", 70, 140.0, 175.0, 4, 2, 0, 0, 0, ""},
                   {"rps", 20, std::nullopt, std::nullopt, std::nullopt, 0, 0, 2, 0, "no data"}};
  green.conditions = {{"AbleToScale", true, "SucceededRescale", ""},
                      {"ScalingLimited", false, "DesiredWithinRange", ""}};
  a.tracks["green"] = green;
  s.autoscaler = a;
  const std::string m = render_platform_metrics(s, {}, {});
  const std::string hpa = R"(namespace="streamgate",horizontalpodautoscaler="streamgate-hpa-green")";
  for (const std::string& line : {
           "kube_horizontalpodautoscaler_info{" + hpa +
               R"(,scaletargetref_kind="Deployment",scaletargetref_name="streamgate-green"} 1)",
           "kube_horizontalpodautoscaler_spec_min_replicas{" + hpa + "} 2",
           "kube_horizontalpodautoscaler_spec_max_replicas{" + hpa + "} 10",
           "kube_horizontalpodautoscaler_status_current_replicas{" + hpa + "} 2",
           "kube_horizontalpodautoscaler_status_desired_replicas{" + hpa + "} 4",
           "kube_horizontalpodautoscaler_spec_target_metric{" + hpa +
               R"(,metric_name="cpu",metric_target_type="utilization"} 70)",
           "kube_horizontalpodautoscaler_status_target_metric{" + hpa +
               R"(,metric_name="cpu",metric_target_type="utilization"} 140)",
           "kube_horizontalpodautoscaler_spec_target_metric{" + hpa +
               R"(,metric_name="rps",metric_target_type="average"} 20)",
           "kube_horizontalpodautoscaler_status_condition{" + hpa +
               R"(,condition="AbleToScale",status="true"} 1)",
           "kube_horizontalpodautoscaler_status_condition{" + hpa +
               R"(,condition="AbleToScale",status="false"} 0)",
           "kube_horizontalpodautoscaler_status_condition{" + hpa +
               R"(,condition="ScalingLimited",status="false"} 1)",
       }) {
    EXPECT_TRUE(has_line(m, line)) << line << "\n" << m;
  }
  EXPECT_EQ(m.find(R"(metric_name="rps",metric_target_type="average"} 0)"), std::string::npos)
      << "an unknown current value is left out, not 0:\n"
      << m;
}

TEST(ScrapeTargets, ReplicasWithAnAddressAreServerTargetsWithTrackAndRelease) {
  const auto files = scrape_target_files(canary_in_progress(), "127.0.0.1:39999");
  EXPECT_EQ(files.at("control.json"),
            R"([{"targets":["127.0.0.1:39999"],"labels":{"namespace":"streamgate"}}])"
            "\n");
  EXPECT_EQ(
      files.at("gateway.json"),
      R"([{"targets":["127.0.0.1:8081"],"labels":{"pod":"streamgate-gateway","namespace":"streamgate"}}])"
      "\n");
  const std::string& servers = files.at("servers.json");
  EXPECT_NE(
      servers.find(
          R"({"targets":["127.0.0.1:40003"],"labels":{"pod":"canary-v3-1","deployment":"streamgate-canary","track":"canary","release":"v3","namespace":"streamgate"}})"),
      std::string::npos)
      << servers;
  EXPECT_EQ(servers.find("green-v2-2"), std::string::npos) << "a replica without an address";
}

}  // namespace
}  // namespace sg::platform
