// End-to-end tests of the local platform: `sgctl up` with real gateway and replica processes,
// rollouts driven by the real sgctl CLI, and a bounded loopback load running throughout
// (the issue's acceptance list). Timings use short windows (a few seconds) so the whole file
// runs in about two minutes; the defaults (60 s steps, 300 s delays) are the same code.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <cstdio>
#include <fstream>

#include "common/json_text.hpp"
#include "integration/load_generator.hpp"
#include "integration/sgctl_fixture.hpp"

namespace sg::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

LoadGenerator::Options load_options(std::uint16_t port) {
  LoadGenerator::Options o;
  o.port = port;
  o.target = "/api/v1/health";
  o.connections = 8;
  o.duration = 150s;  // an upper bound: each test stops its load itself
  o.max_requests = 5000000;
  return o;
}

// Waits until every response in a 1 s window carries `version` (at most `limit`).
bool all_traffic_on(LoadGenerator& load, const std::string& version, std::chrono::seconds limit) {
  const auto end = Clock::now() + limit;
  load.window();
  while (Clock::now() < end) {
    std::this_thread::sleep_for(1s);
    LoadResult w = load.window();
    if (w.requests > 0 && w.by_header[version] == w.requests) return true;
  }
  return false;
}

class SgctlTest : public SgctlFixture {};

TEST_F(SgctlTest, BlueGreenSwitchesWithoutErrorsAndRollsBackTheSameWay) {
  ASSERT_NO_FATAL_FAILURE(add_release("v1"));
  ASSERT_NO_FATAL_FAILURE(add_release("v2"));
  ASSERT_NO_FATAL_FAILURE(start_up("v1"));
  LoadGenerator load(load_options(port_));
  load.start();
  std::this_thread::sleep_for(1s);

  // The runbook's script (IMAGE TIMEOUT), with short windows.
  auto deploy =
      script("blue-green-deploy.sh", {"streamgate:v2", "60", "--verify", "2", "--ready-stability",
                                      "1", "--scale-down-delay", "2"});
  ASSERT_EQ(deploy.exit_code, 0) << deploy.output << up_log();
  EXPECT_TRUE(all_traffic_on(load, "v2", 10s)) << describe(load.window());

  // After the promotion completed (old colour scaled down), rollback = blue-green to v1.
  for (int i = 0; i < 100; ++i) {
    auto st = status_json();
    if (st.is_object() && st.at("rollout").is_null()) break;
    std::this_thread::sleep_for(200ms);
  }
  auto rollback = script("blue-green-rollback.sh", {});
  ASSERT_EQ(rollback.exit_code, 0) << rollback.output << up_log();
  EXPECT_TRUE(all_traffic_on(load, "v1", 10s)) << describe(load.window());

  load.stop();
  LoadResult total = load.finish();
  EXPECT_EQ(total.non_2xx, 0u) << describe(total);
  EXPECT_EQ(total.connection_errors, 0u) << describe(total);
  EXPECT_GT(total.by_header["v2"], 100u) << describe(total);

  auto history = sgctl({"history", "-o", "json"});
  ASSERT_EQ(history.exit_code, 0) << history.output;
  auto h = json::parse(history.output).as_array();
  ASSERT_GE(h.size(), 2u);
  EXPECT_EQ(h[1].at("to").as_string(), "v2");
  EXPECT_EQ(h[1].at("result").as_string(), "promoted");
  EXPECT_EQ(h[0].at("to").as_string(), "v1");
  EXPECT_EQ(h[0].at("strategy").as_string(), "blue-green");
  std::printf("blue-green v1 -> v2 -> v1 under load: %s\n", describe(total).c_str());
}

// While the old colour is kept warm, a rollback is an instant switch back: no request fails.
TEST_F(SgctlTest, RollbackWhileOldColourIsWarmIsInstantAndLossless) {
  ASSERT_NO_FATAL_FAILURE(add_release("v1"));
  ASSERT_NO_FATAL_FAILURE(add_release("v2"));
  ASSERT_NO_FATAL_FAILURE(start_up("v1"));
  LoadGenerator load(load_options(port_));
  load.start();
  std::this_thread::sleep_for(500ms);
  auto deploy = sgctl({"deploy", "blue-green", "v2", "--verify", "2", "--ready-stability", "1",
                       "--scale-down-delay", "60"});
  ASSERT_EQ(deploy.exit_code, 0) << deploy.output << up_log();
  EXPECT_TRUE(all_traffic_on(load, "v2", 10s)) << describe(load.window());
  const auto t0 = Clock::now();
  auto rollback = sgctl({"rollback"});
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_EQ(rollback.exit_code, 0) << rollback.output << up_log();
  EXPECT_LT(took, 5.0) << rollback.output;
  EXPECT_TRUE(all_traffic_on(load, "v1", 5s)) << describe(load.window());
  std::this_thread::sleep_for(1s);
  load.stop();
  LoadResult total = load.finish();
  EXPECT_EQ(total.non_2xx, 0u) << describe(total);
  EXPECT_EQ(total.connection_errors, 0u) << describe(total);
  auto history = sgctl({"history", "-o", "json"});
  const json::value h = json::parse(history.output);
  EXPECT_EQ(h.as_array()[0].at("result").as_string(), "rolled_back") << history.output;
}

TEST_F(SgctlTest, HealthyCanaryPromotesThroughEveryStep) {
  ASSERT_NO_FATAL_FAILURE(add_release("v1"));
  ASSERT_NO_FATAL_FAILURE(add_release("v2"));
  ASSERT_NO_FATAL_FAILURE(start_up("v1"));
  LoadGenerator load(load_options(port_));
  load.start();
  std::this_thread::sleep_for(1s);
  auto deploy = script("canary-deploy.sh", {"streamgate:v2", "60", "2", "--ready-stability", "1"});
  ASSERT_EQ(deploy.exit_code, 0) << deploy.output << up_log();
  for (const char* step : {"step 1/5 weight 5%", "step 2/5 weight 10%", "step 3/5 weight 25%",
                           "step 4/5 weight 50%", "step 5/5 weight 100%"}) {
    EXPECT_NE(deploy.output.find(step), std::string::npos) << step << " missing:\n"
                                                           << deploy.output;
  }
  EXPECT_TRUE(all_traffic_on(load, "v2", 10s)) << describe(load.window());
  load.stop();
  LoadResult total = load.finish();
  EXPECT_EQ(total.non_2xx, 0u) << describe(total);
  EXPECT_EQ(total.connection_errors, 0u) << describe(total);
  auto st = status_json();
  ASSERT_TRUE(st.is_object());
  EXPECT_EQ(st.at("active").at("release").as_string(), "v2") << json_text(st);
  EXPECT_EQ(st.at("weights").as_object().size(), 1u) << json_text(st);
  std::printf("healthy canary under load: %s\n", describe(total).c_str());
}

// A bad canary is rolled back by the judge: reports the time from the canary's first
// response to its last (weight 0) as the client saw it, and the share of failed requests.
class BadCanaryTest : public SgctlFixture,
                      public ::testing::WithParamInterface<std::vector<std::string>> {};

TEST_P(BadCanaryTest, IsRolledBackWithinSecondsAndFewRequestsFail) {
  ASSERT_NO_FATAL_FAILURE(add_release("v1"));
  ASSERT_NO_FATAL_FAILURE(add_release("v2-bad", GetParam()));
  ASSERT_NO_FATAL_FAILURE(start_up("v1"));
  LoadGenerator::Options o = load_options(port_);
  o.connections = 16;
  LoadGenerator load(o);
  load.start();
  std::this_thread::sleep_for(2s);
  auto deploy = sgctl({"deploy", "canary", "v2-bad", "--step-interval", "60", "--ready-stability",
                       "1", "--timeout", "60"});
  EXPECT_EQ(deploy.exit_code, 1) << deploy.output << up_log();
  EXPECT_NE(deploy.output.find("rolled_back"), std::string::npos) << deploy.output;
  std::this_thread::sleep_for(2s);  // responses still in flight on the canary end
  load.stop();
  LoadResult total = load.finish();
  EXPECT_EQ(total.connection_errors, 0u) << describe(total);
  ASSERT_TRUE(total.header_span.count("v2-bad")) << describe(total);
  const auto [first, last] = total.header_span.at("v2-bad");
  const double exposure_s = std::chrono::duration<double>(last - first).count();
  const double failed_share = static_cast<double>(total.non_2xx) /
                              static_cast<double>(std::max<std::uint64_t>(1, total.requests));
  std::printf(
      "bad canary (%s): first canary response to weight 0: %.2f s; canary responses %llu; "
      "failed %llu of %llu requests (%.3f%%)\n",
      GetParam().back().c_str(), exposure_s,
      static_cast<unsigned long long>(total.by_header["v2-bad"]),
      static_cast<unsigned long long>(total.non_2xx),
      static_cast<unsigned long long>(total.requests), 100 * failed_share);
  RecordProperty("exposure_ms", static_cast<int>(exposure_s * 1000));
  EXPECT_LT(exposure_s, 15.0) << describe(total);
  EXPECT_LT(failed_share, 0.002) << describe(total);
  auto st = status_json();
  ASSERT_TRUE(st.is_object());
  EXPECT_EQ(st.at("active").at("release").as_string(), "v1");
}

INSTANTIATE_TEST_SUITE_P(Chaos, BadCanaryTest,
                         ::testing::Values(std::vector<std::string>{"--chaos-error-rate", "0.05"},
                                           std::vector<std::string>{"--chaos-latency-ms", "800"}));

TEST_F(SgctlTest, CommandsRejectBadInputWithExitTwo) {
  ASSERT_NO_FATAL_FAILURE(add_release("v1"));
  auto bad_exec = sgctl({"release", "add", "v9", "--exec", "/nonexistent/server"});
  EXPECT_EQ(bad_exec.exit_code, 2) << bad_exec.output;
  EXPECT_NE(bad_exec.output.find("/nonexistent/server"), std::string::npos) << bad_exec.output;
  auto bad_name = sgctl({"release", "add", "v 9", "--exec", SG_SERVER_BIN});
  EXPECT_EQ(bad_name.exit_code, 2) << bad_name.output;
  auto no_plane = sgctl({"deploy", "canary", "v1"});
  EXPECT_EQ(no_plane.exit_code, 2) << no_plane.output;
  EXPECT_NE(no_plane.output.find("sgctl up"), std::string::npos) << no_plane.output;
  auto usage = script("canary-deploy.sh", {"v1"});
  EXPECT_EQ(usage.exit_code, 2) << usage.output;
  // The control and admin APIs speak plain HTTP: not on a reachable address unless asked.
  auto exposed = sgctl({"up", "--control-listen", "0.0.0.0:0"}, std::chrono::seconds(15));
  EXPECT_EQ(exposed.exit_code, 2) << exposed.output;
  EXPECT_NE(exposed.output.find("not a loopback address"), std::string::npos) << exposed.output;
  // A secret in sgctl's environment must not reach the releases it starts.
  ::setenv("SG_TEST_OPERATOR_SECRET", "do-not-leak", 1);
  ASSERT_NO_FATAL_FAILURE(start_up("v1", 1));
  ::unsetenv("SG_TEST_OPERATOR_SECRET");
  {
    auto st = status_json();
    ASSERT_TRUE(st.is_object());
    const auto& reps = st.at("tracks").at("blue").at("replicas").as_array();
    ASSERT_EQ(reps.size(), 1u) << json_text(st);
    const auto pid = reps[0].at("pid").to_number<std::int64_t>();
    std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
    const std::string environ((std::istreambuf_iterator<char>(in)), {});
    EXPECT_NE(environ.find("STREAMGATE_STORAGE="), std::string::npos) << "what it needs is given";
    EXPECT_EQ(environ.find("SG_TEST_OPERATOR_SECRET"), std::string::npos)
        << "the replica inherited sgctl's whole environment";
  }
  // A control token others can read is refused, with the fix.
  const auto token_file = state_ / "control-token";
  ASSERT_EQ(::chmod(token_file.c_str(), 0644), 0);
  auto wide = sgctl({"status"});
  ASSERT_EQ(::chmod(token_file.c_str(), 0600), 0);
  EXPECT_NE(wide.exit_code, 0) << wide.output;
  EXPECT_NE(wide.output.find("chmod 600"), std::string::npos) << wide.output;
  auto unknown = sgctl({"deploy", "blue-green", "streamgate:v404"});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
  EXPECT_NE(unknown.output.find("sgctl release add v404"), std::string::npos) << unknown.output;
  auto same = sgctl({"deploy", "blue-green", "v1"});
  EXPECT_EQ(same.exit_code, 2) << same.output;
  auto steps = sgctl({"deploy", "canary", "v1", "--steps", "50,10"});
  EXPECT_EQ(steps.exit_code, 2) << steps.output;
  auto nothing = script("blue-green-rollback.sh", {});
  EXPECT_EQ(nothing.exit_code, 2) << nothing.output;
  EXPECT_NE(nothing.output.find("nothing to roll back"), std::string::npos) << nothing.output;
}

// A replica killed with SIGKILL is restarted after the back-off and counted; the gateway's
// retries and ejection keep every GET answered meanwhile.
TEST_F(SgctlTest, CrashedReplicaIsRestartedAndCounted) {
  ASSERT_NO_FATAL_FAILURE(add_release("v1"));
  ASSERT_NO_FATAL_FAILURE(start_up("v1", 2, true, {"--restart-backoff", "1"}));
  LoadGenerator load(load_options(port_));
  load.start();
  std::this_thread::sleep_for(500ms);
  auto st = status_json();
  ASSERT_TRUE(st.is_object());
  const auto& reps = st.at("tracks").at("blue").at("replicas").as_array();
  ASSERT_EQ(reps.size(), 2u) << json_text(st);
  const auto victim = static_cast<pid_t>(reps[0].at("pid").to_number<std::int64_t>());
  const std::string address(reps[0].at("address").as_string());
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  bool restarted = false;
  for (int i = 0; i < 100 && !restarted; ++i) {
    std::this_thread::sleep_for(200ms);
    auto now = status_json();
    if (!now.is_object()) continue;
    int ready = 0;
    bool counted = false;
    for (const auto& r : now.at("tracks").at("blue").at("replicas").as_array()) {
      ready += r.at("phase").as_string() == "ready" ? 1 : 0;
      counted = counted || r.at("restarts").to_number<int>() == 1;
    }
    restarted = counted && ready == 2;
  }
  EXPECT_TRUE(restarted) << json_text(status_json()) << up_log();
  std::this_thread::sleep_for(500ms);
  load.stop();
  LoadResult total = load.finish();
  EXPECT_EQ(total.non_2xx, 0u) << describe(total);
  EXPECT_EQ(total.connection_errors, 0u) << describe(total);
  auto events = sgctl({"events", "--tail", "50"});
  EXPECT_NE(events.output.find("exited unexpectedly (signal 9"), std::string::npos)
      << events.output;
}

TEST_F(SgctlTest, ReleaseThatNeverBecomesReadyTimesOutAndGetsNoTraffic) {
  ASSERT_NO_FATAL_FAILURE(add_release("v1"));
  // An executable that runs but never listens.
  auto add = sgctl({"release", "add", "v2-never", "--exec", "/bin/sleep", "--", "600"});
  ASSERT_EQ(add.exit_code, 0) << add.output;
  ASSERT_NO_FATAL_FAILURE(start_up("v1"));
  LoadGenerator load(load_options(port_));
  load.start();
  const auto t0 = Clock::now();
  auto deploy =
      sgctl({"deploy", "blue-green", "v2-never", "--timeout", "3", "--ready-stability", "1"});
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_EQ(deploy.exit_code, 1) << deploy.output;
  EXPECT_NE(deploy.output.find("failed"), std::string::npos) << deploy.output;
  EXPECT_LT(took, 15.0);
  load.stop();
  LoadResult total = load.finish();
  EXPECT_EQ(total.non_2xx, 0u) << describe(total);
  EXPECT_EQ(total.connection_errors, 0u) << describe(total);
  EXPECT_EQ(total.by_header.size(), 1u) << describe(total);  // v1 only
  // Its replicas are stopped.
  for (int i = 0; i < 50; ++i) {
    auto st = status_json();
    if (st.is_object() && !st.at("tracks").as_object().contains("green")) break;
    if (st.is_object() && st.at("tracks").at("green").at("replicas").as_array().empty()) break;
    std::this_thread::sleep_for(200ms);
  }
  auto st = status_json();
  ASSERT_TRUE(st.is_object());
  if (st.at("tracks").as_object().contains("green")) {
    EXPECT_TRUE(st.at("tracks").at("green").at("replicas").as_array().empty()) << json_text(st);
  }
}

// A download slower than the whole rollout, in flight on the old colour when it is scaled
// down: it completes, and the old replica stops only after it ended.
TEST_F(SgctlTest, InFlightDownloadOnOldColourCompletes) {
  ASSERT_NO_FATAL_FAILURE(add_release("v1"));
  ASSERT_NO_FATAL_FAILURE(add_release("v2"));
  ASSERT_NO_FATAL_FAILURE(start_up("v1", 1));
  std::string token;
  std::ifstream(state_ / "api-token") >> token;
  const std::pair<std::string, std::string> auth{"Authorization", "Bearer " + token};
  auto created = http_call(port_, {boost::beast::http::verb::post,
                                   "/api/v1/content",
                                   R"({"title":"long video"})",
                                   {auth, {"Content-Type", "application/json"}}});
  ASSERT_EQ(created.status, 201) << created.body << created.error;
  const std::string id(json::parse(created.body).at("id").as_string());
  constexpr std::size_t kSize = 24u << 20;
  std::string media(kSize, '\0');
  for (std::size_t i = 0; i < kSize; ++i) media[i] = static_cast<char>((i * 131) >> 7);
  auto put = http_call(port_, {boost::beast::http::verb::put,
                               "/api/v1/content/" + id + "/media",
                               media,
                               {auth, {"Content-Type", "video/mp4"}}});
  ASSERT_EQ(put.status, 200) << put.body << put.error;

  // A slow reader: small receive buffer, 64 KiB every 15 ms (about 4 MiB/s: ~6 s).
  std::atomic<bool> done{false};
  std::size_t received = 0;
  std::string version;
  std::chrono::system_clock::time_point finished_at;
  std::thread reader([&] {
    namespace asio = boost::asio;
    asio::io_context io;
    asio::ip::tcp::socket sock(io);
    sock.open(asio::ip::tcp::v4());
    int rcvbuf = 64 * 1024;
    ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sock.connect({asio::ip::make_address("127.0.0.1"), port_});
    const std::string req = "GET /api/v1/content/" + id + "/media HTTP/1.1\r\nHost: t\r\n\r\n";
    asio::write(sock, asio::buffer(req));
    std::string head;
    std::vector<char> buf(64 * 1024);
    boost::system::error_code ec;
    std::size_t body = 0;
    bool in_body = false;
    while (!ec) {
      const std::size_t n = sock.read_some(asio::buffer(buf), ec);
      if (!in_body) {
        head.append(buf.data(), n);
        const auto end = head.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        in_body = true;
        body = head.size() - end - 4;
        const auto v = head.find("X-StreamGate-Version: ");
        if (v != std::string::npos) version = head.substr(v + 22, head.find("\r\n", v) - v - 22);
      } else {
        body += n;
      }
      if (body >= kSize) break;
      std::this_thread::sleep_for(15ms);
    }
    received = body;
    finished_at = std::chrono::system_clock::now();
    done = true;
  });
  // Light load, so the new colour has traffic to be verified with.
  LoadGenerator::Options lo = load_options(port_);
  lo.connections = 2;
  LoadGenerator load(lo);
  load.start();
  std::this_thread::sleep_for(500ms);
  auto deploy = sgctl({"deploy", "blue-green", "v2", "--verify", "1", "--ready-stability", "1",
                       "--scale-down-delay", "0"});
  reader.join();
  load.stop();
  LoadResult total = load.finish();
  EXPECT_EQ(total.non_2xx, 0u) << describe(total);
  EXPECT_EQ(total.connection_errors, 0u) << describe(total);
  EXPECT_EQ(received, kSize) << "download cut short; " << up_log();
  EXPECT_EQ(version, "v1");
  EXPECT_EQ(deploy.exit_code, 0) << deploy.output << up_log();
  // The v1 replica's drain began while the download still had seconds to go, and it stopped
  // only when the download was (all but the bytes already in loopback buffers) done: it
  // waited for the request, not for a timer.
  const auto ms = [](std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  };
  const std::string ended = platform::iso8601_utc(ms(finished_at));
  const std::string ended_less_1s = platform::iso8601_utc(ms(finished_at) - 1000);
  std::string draining, stopped;
  for (int i = 0; i < 100 && stopped.empty(); ++i) {
    auto ev = sgctl({"events", "--tail", "200", "-o", "json"});
    const json::value events = json::parse(ev.output);
    for (const auto& e : events.as_array()) {
      if (std::string(e.at("message").as_string()).find("blue/v1") == std::string::npos) continue;
      if (e.at("kind").as_string() == "replica_draining") draining = e.at("ts").as_string();
      if (e.at("kind").as_string() == "replica_stopped") stopped = e.at("ts").as_string();
    }
    if (stopped.empty()) std::this_thread::sleep_for(200ms);
  }
  ASSERT_FALSE(stopped.empty()) << "blue/v1 never stopped: " << up_log();
  EXPECT_LT(draining, ended_less_1s) << "drain began " << draining << ", download ended " << ended;
  EXPECT_GE(stopped, ended_less_1s) << "stopped " << stopped << ", download ended " << ended;
}

// The control plane is killed with SIGKILL mid-canary: the gateway keeps serving with its
// last routes, and a new `sgctl up` resumes the rollout to an end.
TEST_F(SgctlTest, ControlPlaneKilledMidCanaryResumesWithoutDroppingTraffic) {
  ASSERT_NO_FATAL_FAILURE(add_release("v1"));
  ASSERT_NO_FATAL_FAILURE(add_release("v2"));
  ASSERT_NO_FATAL_FAILURE(start_up("v1"));
  LoadGenerator load(load_options(port_));
  load.start();
  std::this_thread::sleep_for(1s);
  ChildProcess deploy = sgctl_async({"deploy", "canary", "v2", "--step-interval", "3",
                                     "--ready-stability", "1", "--timeout", "60"},
                                    "deploy.log");
  // Wait for the canary to take traffic, then kill the control plane.
  bool in_step = false;
  for (int i = 0; i < 150 && !in_step; ++i) {
    auto st = status_json();
    in_step = st.is_object() && st.at("rollout").is_object() &&
              st.at("rollout").at("phase").as_string() == "step";
    if (!in_step) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(in_step) << up_log();
  stop_up(SIGKILL);
  std::this_thread::sleep_for(3s);  // the control plane is down; traffic goes on
  LoadResult while_down = load.window();
  EXPECT_GT(while_down.requests, 100u);
  EXPECT_EQ(while_down.connection_errors, 0u) << describe(while_down);

  // The restarted control plane adopts the gateway and replicas and resumes the rollout,
  // which may well end before start_up returns.
  ASSERT_NO_FATAL_FAILURE(start_up("v1", 2, false));
  auto status = deploy.wait_exit(120s);
  ASSERT_TRUE(status.has_value()) << tail_of(dir_.path() / "deploy.log");
  ASSERT_TRUE(WIFEXITED(*status));
  const int code = WEXITSTATUS(*status);
  EXPECT_TRUE(code == 0 || code == 1) << tail_of(dir_.path() / "deploy.log");
  load.stop();
  LoadResult total = load.finish();
  EXPECT_EQ(total.non_2xx, 0u) << describe(total);
  EXPECT_EQ(total.connection_errors, 0u) << describe(total);
  auto st = status_json();
  ASSERT_TRUE(st.is_object());
  EXPECT_TRUE(st.at("rollout").is_null()) << json_text(st);
  EXPECT_EQ(st.at("active").at("release").as_string(), code == 0 ? "v2" : "v1");
  std::printf("canary across a control-plane SIGKILL: exit %d; %s\n", code,
              describe(total).c_str());
}

}  // namespace
}  // namespace sg::test
