// The Kubernetes backend's pure parts: image names, pod status -> ReplicaInfo, running a
// command with input, time and output limits (how kubectl is driven), and the state store
// calls the cluster-state mirror uses. The backend against a (stand-in) API server with the
// real kubectl: tests/integration/sgctl_kube_test.cpp.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>

#include "common/http/url.hpp"
#include "common/run_command.hpp"
#include "platform/kube/kube_backend.hpp"
#include "platform/prom_traffic.hpp"
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

// Without our gateway the canary's share is its share of the ready pods: the replica count
// nearest the weight, never below the engine's own canary replicas, 0 without weight.
TEST(KubeReplicaRatio, CanaryReplicasApproximateTheWeight) {
  EXPECT_EQ(canary_replicas_for_weight(4, 0, 1), 0);
  EXPECT_EQ(canary_replicas_for_weight(4, 10, 1), 1);   // 4 * 10/90 = 0.44 -> at least 1 (20 %)
  EXPECT_EQ(canary_replicas_for_weight(4, 25, 1), 1);   // 1.33 -> 1 (20 %)
  EXPECT_EQ(canary_replicas_for_weight(4, 50, 1), 4);   // 50 %
  EXPECT_EQ(canary_replicas_for_weight(9, 10, 1), 1);   // exactly 10 %
  EXPECT_EQ(canary_replicas_for_weight(2, 50, 3), 3);   // the engine's count is a floor
  EXPECT_EQ(canary_replicas_for_weight(0, 20, 1), 1);   // no stable replicas desired: 1
  EXPECT_EQ(canary_replicas_for_weight(2, 100, 1), 2);  // all the traffic: as many as stable
  EXPECT_EQ(canary_replicas_for_weight(1, 59, 1), 2);   // 67 % is nearer 59 % than 50 %
  EXPECT_EQ(canary_replicas_for_weight(1, 99, 1), 9);   // 90 % at most below 100
}

TEST(PromTraffic, ParsesAVectorAndRejectsErrorsAndOtherShapes) {
  auto v = parse_prom_vector(
      R"({"status":"success","data":{"resultType":"vector","result":[)"
      R"({"metric":{"track":"blue"},"value":[1700000000.1,"120"]},)"
      R"({"metric":{"track":"canary"},"value":[1700000000.1,"7.0000001"]}]}})");
  ASSERT_TRUE(v) << v.error().message;
  ASSERT_EQ(v->size(), 2u);
  EXPECT_EQ((*v)[0].labels.at("track"), "blue");
  EXPECT_DOUBLE_EQ((*v)[0].value, 120);
  auto bad = parse_prom_vector(R"({"status":"error","errorType":"bad_data","error":"parse error at char 5"})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("parse error at char 5"), std::string::npos);
  auto matrix = parse_prom_vector(R"({"status":"success","data":{"resultType":"matrix","result":[]}})");
  ASSERT_FALSE(matrix);
  EXPECT_NE(matrix.error().message.find("instant vector"), std::string::npos);
  EXPECT_FALSE(parse_prom_vector("<html>"));
}

TEST(PromTraffic, BuildsPerTrackCountersAndAHistogramFromCumulativeBuckets) {
  const auto sample = [](std::map<std::string, std::string> labels, double v) { return PromSample{std::move(labels), v}; };
  const TrackTraffic t = prom_track_traffic(
      {sample({{"track", "blue"}}, 100), sample({{"track", "canary"}}, 20), sample({}, 5)},
      {sample({{"track", "canary"}}, 3)},
      {sample({{"track", "canary"}, {"le", "+Inf"}}, 20), sample({{"track", "canary"}, {"le", "0.1"}}, 15),
       sample({{"track", "canary"}, {"le", "0.5"}}, 19)});
  ASSERT_EQ(t.tracks.size(), 2u);  // the series without a track label is left out
  EXPECT_EQ(t.tracks.at("blue").requests, 100u);
  EXPECT_EQ(t.tracks.at("blue").errors, 0u);
  const control::TrafficSample& c = t.tracks.at("canary");
  EXPECT_EQ(c.requests, 20u);
  EXPECT_EQ(c.errors, 3u);
  EXPECT_EQ(c.bounds, (std::vector<double>{0.1, 0.5}));
  EXPECT_EQ(c.counts, (std::vector<std::uint64_t>{15, 4, 1}));
}

// Per-series counters stay monotone: a reset counts from zero, a series that goes away keeps
// what it counted, a new one counts everything it has.
TEST(PromTraffic, AccumulatedSeriesSurviveResetsAndPodsGoingAway) {
  SeriesAccumulator acc;
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(2);
  const auto sum = [](const std::vector<PromSample>& v, const std::string& track) {
    double n = 0;
    for (const auto& s : v) n += s.labels.at("track") == track ? s.value : 0;
    return n;
  };
  auto r = acc.add({{{{"track", "canary"}, {"pod", "a"}}, 10}, {{{"track", "blue"}, {"pod", "b"}}, 100}}, t0);
  EXPECT_EQ(sum(r, "canary"), 10);
  EXPECT_EQ(sum(r, "blue"), 100);
  r = acc.add({{{{"track", "canary"}, {"pod", "a"}}, 3},  // restarted
               {{{"track", "blue"}, {"pod", "b"}}, 150},
               {{{"track", "canary"}, {"pod", "c"}}, 5}},  // new
              t0 + std::chrono::seconds(1));
  EXPECT_EQ(sum(r, "canary"), 18);
  EXPECT_EQ(sum(r, "blue"), 150);
  r = acc.add({{{{"track", "canary"}, {"pod", "c"}}, 7}, {{{"track", "blue"}, {"pod", "b"}}, 160}},
              t0 + std::chrono::seconds(2));  // pod a deleted
  EXPECT_EQ(sum(r, "canary"), 20);
  r = acc.add({{{{"track", "blue"}, {"pod", "b"}}, 170}}, t0 + std::chrono::hours(2));
  EXPECT_EQ(sum(r, "canary"), 0);  // forgotten after an hour unseen
  EXPECT_EQ(sum(r, "blue"), 170);
}

TEST(PromTraffic, OptionsNeedAPlainHttpUrlAndOneLineQueries) {
  PromTrafficOptions o = default_prom_queries("streamgate");
  EXPECT_NE(o.requests_query.find(R"(namespace="streamgate")"), std::string::npos);
  EXPECT_NE(o.errors_query.find(R"(code=~"5..")"), std::string::npos);
  EXPECT_NE(o.latency_query.find("by (track, pod, le)"), std::string::npos);
  o.url = "http://127.0.0.1:9090";
  EXPECT_EQ(validate_prom_options(o), "");
  o.url = "http://prometheus.monitoring:9090/prom/";
  EXPECT_EQ(validate_prom_options(o), "");
  o.url = "https://prometheus:9090";
  EXPECT_NE(validate_prom_options(o).find("--prometheus"), std::string::npos);
  o.url = "http://127.0.0.1:9090";
  o.errors_query = "x\ny";
  EXPECT_NE(validate_prom_options(o).find("--prom-errors"), std::string::npos);
  EXPECT_EQ(http::percent_encode("sum by (track) (x{a=~\"5..\"})"),
            "sum%20by%20%28track%29%20%28x%7Ba%3D~%225..%22%7D%29");
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
