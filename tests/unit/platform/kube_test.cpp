// The Kubernetes backend's pure parts: image names, pod status -> ReplicaInfo, running a
// command with input, time and output limits (how kubectl is driven), and the state store
// calls the cluster-state mirror uses. The backend against a (stand-in) API server with the
// real kubectl: tests/integration/sgctl_kube_test.cpp.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>

#include "common/run_command.hpp"
#include "platform/kube/kube_backend.hpp"
#include "platform/store/state_store.hpp"

namespace sg::platform {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

json::value pod(const std::string& extra_status, const std::string& version = "canary",
                const std::string& meta_extra = "") {
  return json::parse(R"({"metadata":{"name":"streamgate-canary-abc","labels":{"app":"streamgate","version":")" +
                     version + R"("})" + meta_extra +
                     R"(},"spec":{"containers":[{"name":"server","image":"registry.local:5000/streamgate:v2.0.1",
                       "ports":[{"name":"metrics","containerPort":9100},{"name":"http","containerPort":9090}]}]},
                       "status":{"podIP":"10.1.2.3")" +
                     extra_status + "}}");
}

TEST(KubeImage, SplitsRepositoryAndTagKeepingRegistryPorts) {
  EXPECT_EQ(split_image("streamgate:v1.3.0"), (std::pair<std::string, std::string>{"streamgate", "v1.3.0"}));
  EXPECT_EQ(split_image("registry.local:5000/streamgate:v2"),
            (std::pair<std::string, std::string>{"registry.local:5000/streamgate", "v2"}));
  EXPECT_EQ(split_image("registry.local:5000/streamgate"),
            (std::pair<std::string, std::string>{"registry.local:5000/streamgate", "latest"}));
  EXPECT_EQ(split_image("streamgate:v1@sha256:abcd"), (std::pair<std::string, std::string>{"streamgate", "v1"}));
}

TEST(KubePod, ReadyPodHasTrackReleaseAndHttpPortAddress) {
  auto r = replica_from_pod(pod(R"(,"conditions":[{"type":"Ready","status":"True"}],
      "containerStatuses":[{"name":"server","ready":true,"restartCount":0,"state":{"running":{}}}])"),
                            false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->track, "canary");
  EXPECT_EQ(r->release, "v2.0.1");
  EXPECT_EQ(r->address, "10.1.2.3:9090");
  EXPECT_EQ(r->phase, ReplicaPhase::kReady);
  EXPECT_EQ(r->restarts, 0);
  EXPECT_EQ(r->log, "pod/streamgate-canary-abc");
}

TEST(KubePod, CrashLoopIsBackoffWithRestartsAndLastExit) {
  auto r = replica_from_pod(pod(R"(,"conditions":[{"type":"Ready","status":"False"}],
      "containerStatuses":[{"name":"server","ready":false,"restartCount":4,
        "state":{"waiting":{"reason":"CrashLoopBackOff"}},
        "lastState":{"terminated":{"exitCode":1,"reason":"Error"}}}])"),
                            true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->phase, ReplicaPhase::kBackoff);
  EXPECT_EQ(r->restarts, 4);
  EXPECT_EQ(r->last_exit, "exit 1 (Error)");
}

TEST(KubePod, UnreadyAfterReadyTerminatingAndForeignPods) {
  const auto unready = pod(R"(,"conditions":[{"type":"Ready","status":"False"}])");
  EXPECT_EQ(replica_from_pod(unready, true)->phase, ReplicaPhase::kUnready);
  EXPECT_EQ(replica_from_pod(unready, false)->phase, ReplicaPhase::kStarting);
  const auto deleting = pod(R"(,"conditions":[{"type":"Ready","status":"True"}])", "blue",
                            R"(,"deletionTimestamp":"2026-12-06T07:00:00Z")");
  EXPECT_EQ(replica_from_pod(deleting, true)->phase, ReplicaPhase::kTerminating);
  EXPECT_FALSE(replica_from_pod(pod("", "stable"), false));  // not a track sgctl drives
  EXPECT_FALSE(replica_from_pod(json::parse(R"({"metadata":{"name":"postgres-0"}})"), false));
}

TEST(KubeTraffic, GatewayReplicasCountersAddUp) {
  TrackTraffic a, b;
  auto sample = [](std::uint64_t requests, std::uint64_t errors, std::vector<std::uint64_t> counts) {
    control::TrafficSample t;
    t.requests = requests;
    t.errors = errors;
    t.bounds = {0.1, 1};
    t.counts = std::move(counts);
    return t;
  };
  a.tracks["blue"] = sample(10, 1, {8, 1, 1});
  a.tracks["blue"].streaming.segments = 4;
  a.tracks["blue"].streaming.segment_errors = 1;
  a.tracks["blue"].streaming.ttfb_bounds = {0.3};
  a.tracks["blue"].streaming.ttfb_counts = {3, 1};
  a.tracks["blue"].streaming.session_minutes = 2;
  a.tracks["blue"].streaming.throughput_kbps_sum = 1000;
  b.tracks["blue"] = sample(5, 0, {5, 0, 0});
  b.tracks["canary"] = sample(3, 3, {0, 0, 3});
  b.tracks["blue"].streaming.segments = 6;
  b.tracks["blue"].streaming.ttfb_bounds = {0.3};
  b.tracks["blue"].streaming.ttfb_counts = {6, 0};
  b.tracks["blue"].streaming.session_minutes = 1;
  b.tracks["blue"].streaming.throughput_kbps_sum = 500;
  TrackTraffic sum;
  add_traffic(sum, a);
  add_traffic(sum, b);
  const auto& blue = sum.tracks.at("blue");
  EXPECT_EQ(blue.requests, 15u);
  EXPECT_EQ(blue.errors, 1u);
  EXPECT_EQ(blue.counts, (std::vector<std::uint64_t>{13, 1, 1}));
  EXPECT_EQ(blue.streaming.segments, 10u);
  EXPECT_EQ(blue.streaming.segment_errors, 1u);
  EXPECT_EQ(blue.streaming.ttfb_counts, (std::vector<std::uint64_t>{9, 1}));
  EXPECT_EQ(blue.streaming.session_minutes, 3u);
  EXPECT_DOUBLE_EQ(blue.streaming.throughput_kbps_sum, 1500);
  EXPECT_EQ(sum.tracks.at("canary").errors, 3u);
}

TEST(RunCommand, PassesInputAndReturnsOutputAndExitCode) {
  auto r = run_command({.argv = {"/bin/sh", "-c", "cat; echo err >&2; exit 3"}, .input = "hello\n"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "hello\n");
  EXPECT_EQ(r->err, "err\n");
}

TEST(RunCommand, ChildIgnoringItsInputDoesNotKillUs) {
  std::string big(1 << 20, 'x');  // more than a pipe holds
  auto r = run_command({.argv = {"/bin/true"}, .input = big});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->exit_code, 0);
}

TEST(RunCommand, TimeoutKillsTheChildAndOutputIsCapped) {
  const auto start = std::chrono::steady_clock::now();
  auto slow = run_command({.argv = {"/bin/sleep", "30"}, .timeout = 300ms});
  ASSERT_FALSE(slow);
  EXPECT_EQ(slow.error().code, ErrorCode::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  auto loud = run_command({.argv = {"/bin/sh", "-c", "yes | head -c 100000"}, .max_output = 1000});
  ASSERT_FALSE(loud);
  EXPECT_EQ(loud.error().code, ErrorCode::kInvalidArgument);
  // A child that closes its output and goes on running is killed at the deadline too.
  const auto quiet_start = std::chrono::steady_clock::now();
  auto quiet = run_command({.argv = {"/bin/sh", "-c", "exec >&- 2>&-; sleep 30"}, .timeout = 300ms});
  ASSERT_FALSE(quiet);
  EXPECT_EQ(quiet.error().code, ErrorCode::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - quiet_start, 10s);
  auto missing = run_command({.argv = {"/nonexistent/kubectl"}});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("/nonexistent/kubectl"), std::string::npos);
}

TEST(StateStoreMirror, ListsSettingsAndPutsDeploymentsWithTheirIds) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("sg-kube-store-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  {
    auto store = StateStore::open(dir);
    ASSERT_TRUE(store) << store.error().message;
    ASSERT_TRUE((*store)->set_setting("b", "2"));
    ASSERT_TRUE((*store)->set_setting("a", "1"));
    auto all = (*store)->settings();
    ASSERT_TRUE(all);
    EXPECT_EQ(*all, (std::vector<std::pair<std::string, std::string>>{{"a", "1"}, {"b", "2"}}));
    DeploymentRecord d;
    d.id = 41;
    d.strategy = "canary";
    d.to_release = "v2";
    d.result = "in_progress";
    ASSERT_TRUE((*store)->put_deployment(d));
    d.result = "promoted";
    ASSERT_TRUE((*store)->put_deployment(d));  // replaces
    auto got = (*store)->deployment(41);
    ASSERT_TRUE(got && *got);
    EXPECT_EQ((*got)->result, "promoted");
    auto next = (*store)->insert_deployment(d);
    ASSERT_TRUE(next);
    EXPECT_EQ(*next, 42);  // ids go on after a restored one
    d.id = 0;
    EXPECT_FALSE((*store)->put_deployment(d));
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sg::platform
