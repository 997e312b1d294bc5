#include "control/diagnosis.hpp"

#include <gtest/gtest.h>

namespace sg::control {
namespace {

// Two ready replicas of v1 on blue, all traffic, 50 req/s, no errors, 12 ms.
DiagnosisInput healthy_platform() {
  DiagnosisInput in;
  TrackObservation blue{"blue", "v1", 2, 2, 100, 50, 0, 12, {}};
  blue.replicas = {{"blue-v1-1", "v1", "ready", 0, "", 0.1},
                   {"blue-v1-2", "v1", "ready", 0, "", 0.1}};
  in.tracks = {blue};
  in.dependencies = {{"blue-v1-1", "storage", "sqlite", "ok", ""},
                     {"blue-v1-1", "cache", "memory", "ok", ""}};
  in.last_deployment = DeploymentObservation{"blue-green", "v1", "promoted", "verified", 86400};
  return in;
}

std::string describe(const Diagnosis& d) {
  std::string s = std::string(incident_name(d.incident)) + ": " + d.summary + "\n";
  for (const auto& e : d.evidence) s += "  " + e + "\n";
  return s + "  -> " + d.recommendation + " [" + safe_action_name(d.action) + "]";
}

TEST(Diagnosis, AHealthyPlatformIsHealthyWithItsNumbersAsEvidence) {
  const Diagnosis d = diagnose(healthy_platform());
  EXPECT_EQ(d.incident, Incident::kHealthy) << describe(d);
  EXPECT_EQ(d.action, SafeAction::kNone);
  ASSERT_EQ(d.evidence.size(), 1u);
  EXPECT_NE(d.evidence[0].find("50.0 req/s"), std::string::npos) << describe(d);
}

TEST(Diagnosis, TwoPercentErrorsOfANewReleaseIsHighErrorRateAndRollsBack) {
  DiagnosisInput in = healthy_platform();
  in.tracks[0].error_rate = 0.02;
  in.last_deployment = DeploymentObservation{"blue-green", "v1", "promoted", "verified", 120};
  in.error_log_lines = {R"({"level":"error","msg":"chaos"})"};
  const Diagnosis d = diagnose(in);
  EXPECT_EQ(d.incident, Incident::kHighErrorRate) << describe(d);
  EXPECT_EQ(d.action, SafeAction::kRollback) << describe(d);
  EXPECT_NE(d.summary.find("2.00 %"), std::string::npos) << describe(d);
  EXPECT_NE(describe(d).find("log: "), std::string::npos);
}

TEST(Diagnosis, ErrorsOfAnOldReleaseAreNotRolledBackAutomatically) {
  DiagnosisInput in = healthy_platform();
  in.tracks[0].error_rate = 0.05;
  const Diagnosis d = diagnose(in);
  EXPECT_EQ(d.incident, Incident::kHighErrorRate) << describe(d);
  EXPECT_EQ(d.action, SafeAction::kNone) << describe(d);
}

TEST(Diagnosis, OnePercentAndLessOrTooLittleTrafficIsNotAnIncident) {
  DiagnosisInput in = healthy_platform();
  in.tracks[0].error_rate = 0.01;
  EXPECT_EQ(diagnose(in).incident, Incident::kHealthy);
  in.tracks[0].error_rate = 0.5;
  in.tracks[0].rps = 0.5;
  EXPECT_EQ(diagnose(in).incident, Incident::kHealthy) << describe(diagnose(in));
}

TEST(Diagnosis, P95At480MsIsHealthyAt800MsHighLatencyScaledWhenCpuBound) {
  DiagnosisInput in = healthy_platform();
  in.tracks[0].p95_ms = 480;
  EXPECT_EQ(diagnose(in).incident, Incident::kHealthy);
  in.tracks[0].p95_ms = 800;
  Diagnosis d = diagnose(in);
  EXPECT_EQ(d.incident, Incident::kHighLatency) << describe(d);
  EXPECT_EQ(d.action, SafeAction::kNone) << "not CPU-bound: " << describe(d);
  for (auto& r : in.tracks[0].replicas) r.cpu_cores = 0.95;
  d = diagnose(in);
  EXPECT_EQ(d.action, SafeAction::kScale) << describe(d);
  EXPECT_EQ(d.scale_to, 3) << describe(d);
}

TEST(Diagnosis, AReplicaInBackOffIsAPodCrashAndANewReleaseIsRolledBack) {
  DiagnosisInput in = healthy_platform();
  in.tracks[0].replicas[1] = {"blue-v1-2", "v1", "backoff", 3, "exit 124", std::nullopt};
  in.tracks[0].error_rate = 0.2;  // the crash also fails requests: the cause comes first
  in.recent_exits = 3;
  in.recent_exit = "replica blue/v1 exited unexpectedly (exit 124)";
  Diagnosis d = diagnose(in);
  EXPECT_EQ(d.incident, Incident::kPodCrash) << describe(d);
  EXPECT_NE(d.summary.find("exit 124"), std::string::npos) << describe(d);
  EXPECT_EQ(d.action, SafeAction::kNone) << "an old release: " << describe(d);
  in.last_deployment = DeploymentObservation{"canary", "v1", "promoted", "", 60};
  EXPECT_EQ(diagnose(in).action, SafeAction::kRollback);
}

TEST(Diagnosis, OneRecoveredExitIsNotACrashLoop) {
  DiagnosisInput in = healthy_platform();
  in.tracks[0].replicas[1].restarts = 1;
  in.recent_exits = 1;
  EXPECT_EQ(diagnose(in).incident, Incident::kHealthy);
}

TEST(Diagnosis, ARolloutWaitingForReplicasThatNeverGetReadyIsADeploymentFailureToAbort) {
  DiagnosisInput in = healthy_platform();
  TrackObservation green{"green", "v2", 2, 0, 0, 0, 0, 0, {}};
  green.replicas = {{"green-v2-1", "v2", "starting", 0, "", 0.0}};
  in.tracks.push_back(green);
  in.rollout_in_progress = true;
  in.rollout_phase = "wait_ready";
  in.rollout_elapsed_s = 30;
  in.last_deployment = DeploymentObservation{"blue-green", "v2", "in_progress", "", 30};
  EXPECT_EQ(diagnose(in).incident, Incident::kHealthy) << "30 s is a normal start";
  in.rollout_elapsed_s = 90;
  const Diagnosis d = diagnose(in);
  EXPECT_EQ(d.incident, Incident::kDeploymentFailure) << describe(d);
  EXPECT_EQ(d.action, SafeAction::kAbort) << describe(d);
}

TEST(Diagnosis, ARecentRollbackIsADeploymentFailureAndAnOldOneIsNot) {
  DiagnosisInput in = healthy_platform();
  in.last_deployment =
      DeploymentObservation{"blue-green", "v2", "rolled_back", "not ready within 300 s", 100};
  Diagnosis d = diagnose(in);
  EXPECT_EQ(d.incident, Incident::kDeploymentFailure) << describe(d);
  EXPECT_NE(describe(d).find("not ready within 300 s"), std::string::npos);
  in.last_deployment->age_s = 3600;
  EXPECT_EQ(diagnose(in).incident, Incident::kHealthy);
}

TEST(Diagnosis, AStoppedRedisIsDependencyDownBeforeItsSymptoms) {
  DiagnosisInput in = healthy_platform();
  in.dependencies[1] = {"blue-v1-1", "cache", "redis", "degraded", "connect: Connection refused"};
  in.tracks[0].p95_ms = 900;
  const Diagnosis d = diagnose(in);
  EXPECT_EQ(d.incident, Incident::kDependencyDown) << describe(d);
  EXPECT_NE(d.summary.find("cache (redis) is degraded"), std::string::npos) << describe(d);
  EXPECT_NE(d.recommendation.find("redis"), std::string::npos) << describe(d);
}

TEST(Diagnosis, FewerReadyThanDesiredWithoutARolloutIsScalingNotWorking) {
  DiagnosisInput in = healthy_platform();
  in.tracks[0].desired = 4;
  const Diagnosis d = diagnose(in);
  EXPECT_EQ(d.incident, Incident::kScalingNotWorking) << describe(d);
  EXPECT_NE(d.summary.find("2 ready of 4"), std::string::npos) << describe(d);
}

}  // namespace
}  // namespace sg::control
