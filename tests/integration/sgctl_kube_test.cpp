// sgctl's kubernetes backend end to end, with the real kubectl 1.32, against the stand-in API
// server (tests/kube/fake-apiserver.cjs, a test fixture: not Kubernetes) in kubelet mode:
// every pod of our images is a real streamgate-server process on its own loopback address
// (127.0.X.Y:9090), ready when its /readyz answers, crash-looping when it exits. The
// namespace holds the rendered blue-green overlay (deploy/k8s/overlays/blue-green); our
// gateway runs here as a process; `sgctl --backend kubernetes up` drives it all, and the
// runbook scripts run unchanged with SG_BACKEND=kubernetes.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/http/blocking_client.hpp"
#include "common/run_command.hpp"
#include "integration/http_client.hpp"
#include "integration/load_generator.hpp"
#include "support/services.hpp"

namespace sg::test {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kAdminToken = "kube-test-gateway-admin-token-0123456789abcdef";

struct Done {
  int exit_code = -1;
  std::string output;
};

class SgctlKubeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!sg::run_command({.argv = {"kubectl", "version", "--client"}, .timeout = 20s})) {
      GTEST_SKIP() << "kubectl is not installed (scripts/install-deps documents it)";
    }
    write_kubelet_map();
    start_apiserver();
    write_kubeconfig();
    apply_overlay();
    start_gateway();
    state_ = dir_.path() / "state";
    start_up(state_);
  }

  void TearDown() override {
    if (up_) up_->terminate(10s);
    if (gateway_) gateway_->terminate(5s);
    if (apiserver_) apiserver_->terminate(15s);  // stops every pod process it started
  }

  // An image -> command map for the fixture's kubelet: the releases this test deploys.
  void write_kubelet_map() {
    const std::string storage = "sqlite:" + (dir_.path() / "shared.sqlite").string();
    fs::create_directories(dir_.path() / "media");
    auto server = [&](const std::string& release, json::array args) {
      return json::object{{"exec", SG_SERVER_BIN},
                          {"args", std::move(args)},
                          {"env", json::object{{"STREAMGATE_STORAGE", storage},
                                               {"STREAMGATE_CACHE", "memory"},
                                               {"STREAMGATE_MEDIA_DIR", (dir_.path() / "media").string()},
                                               {"STREAMGATE_API_TOKENS", "kube-test-api-token"},
                                               {"STREAMGATE_DRAIN_DELAY", "0"},
                                               {"STREAMGATE_GRACE_PERIOD", "2"},
                                               {"STREAMGATE_VERSION_LABEL", release}}}};
    };
    json::object map{{"streamgate:v0.1.0", server("v0.1.0", {})},
                     {"streamgate:v1.3.0", server("v1.3.0", {})},
                     {"streamgate:v1.3.1-bad", server("v1.3.1-bad", {"--chaos-error-rate", "0.2"})},
                     // Exits at once (an unknown flag): a release that crash-loops.
                     {"streamgate:v1.4.0-crash", server("v1.4.0-crash", {"--no-such-flag"})},
                     // The gateway Deployment's pods (same image, command streamgate-gateway),
                     // with a placeholder route until sgctl configures them.
                     {"command:streamgate-gateway",
                      json::object{{"exec", SG_GATEWAY_BIN},
                                   {"args", json::array{"--listen", "${POD_IP}:8080", "--admin-listen",
                                                        "${POD_IP}:8081", "--track", "blue=127.0.0.1:1",
                                                        "--weights", "blue=100", "--grace-period", "1"}},
                                   {"env", json::object{{"STREAMGATE_ADMIN_TOKEN", kAdminToken}}}}}};
    std::ofstream(dir_.path() / "kubelet.json") << json::serialize(map);
  }

  void start_apiserver() {
    SpawnOptions o;
    o.argv = {"node", std::string(SG_SOURCE_DIR) + "/tests/kube/fake-apiserver.cjs", "--port", "0",
              "--kubelet", (dir_.path() / "kubelet.json").string(), "--ready-delay-ms", "300",
              "--crash-backoff-ms", "500", "--max-grace-ms", "4000"};
    o.argv.insert(o.argv.end(), apiserver_extra_.begin(), apiserver_extra_.end());
    o.log_file = dir_.path() / "apiserver.log";
    auto child = ChildProcess::spawn(o);
    ASSERT_TRUE(child) << child.error().message;
    apiserver_.emplace(std::move(*child));
    for (int i = 0; i < 200; ++i) {
      std::ifstream in(o.log_file);
      std::string line;
      if (std::getline(in, line) && line.starts_with("listening http://")) {
        server_url_ = line.substr(std::string("listening ").size());
        return;
      }
      ASSERT_TRUE(apiserver_->running()) << tail_of(o.log_file);
      std::this_thread::sleep_for(50ms);
    }
    FAIL() << "fixture API server did not start: " << tail_of(o.log_file);
  }

  void write_kubeconfig() {
    kubeconfig_ = dir_.path() / "kubeconfig";
    std::ofstream(kubeconfig_) << "apiVersion: v1\nkind: Config\nclusters:\n- name: fixture\n  cluster:\n"
                                  "    server: " << server_url_
                               << "\nusers:\n- name: fixture\n  user: {}\ncontexts:\n- name: fixture\n"
                                  "  context: {cluster: fixture, user: fixture}\n"
                                  "- name: elsewhere\n  context: {cluster: fixture, user: fixture, namespace: default}\n"
                                  "current-context: elsewhere\n";
  }

  std::vector<std::pair<std::string, std::string>> env() const {
    return {{"KUBECONFIG", kubeconfig_.string()}, {"STREAMGATE_ADMIN_TOKEN", kAdminToken}};
  }

  // kubectl --context fixture -n streamgate ARGS; its stdout (the test fails on an error).
  std::string kubectl(std::vector<std::string> args, const std::string& input = {}) {
    std::vector<std::string> argv = {"kubectl", "--context", "fixture", "-n", "streamgate"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = sg::run_command({.argv = argv, .env = env(), .input = input, .timeout = 30s});
    EXPECT_TRUE(r) << r.error().message;
    if (!r) return {};
    EXPECT_EQ(r->exit_code, 0) << args.front() << ": " << r->err;
    return r->out;
  }

  std::string jsonpath(const std::string& object, const std::string& path) {
    return kubectl({"get", object, "-o", "jsonpath={" + path + "}"});
  }

  void apply_overlay() {
    auto rendered = sg::run_command(
        {.argv = {"kubectl", "kustomize", std::string(SG_SOURCE_DIR) + "/deploy/k8s/overlays/blue-green"},
         .env = env(),
         .timeout = 60s});
    ASSERT_TRUE(rendered && rendered->exit_code == 0) << (rendered ? rendered->err : rendered.error().message);
    kubectl({"apply", "-f", "-"}, rendered->out);
    kubectl({"rollout", "status", "deployment/streamgate-blue", "--timeout=60s"});
  }

  void start_gateway() {
    port_ = free_port();
    admin_port_ = free_port();
    // A placeholder route; sgctl replaces the whole config through the admin API.
    std::ofstream(dir_.path() / "gateway.yaml")
        << "listen: 127.0.0.1:" << port_ << "\nadmin: { listen: 127.0.0.1:" << admin_port_
        << " }\nthreads: 2\nhealth_check: { path: /readyz, interval_ms: 200, timeout_ms: 150, rise: 1, fall: 2 }\n"
           "tracks:\n  blue: { endpoints: [127.0.0.1:1] }\nroute:\n  weights: { blue: 100 }\n";
    SpawnOptions o;
    o.argv = {SG_GATEWAY_BIN, "--config", (dir_.path() / "gateway.yaml").string()};
    o.env = {{"STREAMGATE_ADMIN_TOKEN", kAdminToken}};
    o.log_file = dir_.path() / "gateway.log";
    auto child = ChildProcess::spawn(o);
    ASSERT_TRUE(child) << child.error().message;
    gateway_.emplace(std::move(*child));
    for (int i = 0; i < 200; ++i) {
      if (http_get(admin_port_, "/health").status == 200) return;
      std::this_thread::sleep_for(25ms);
    }
    FAIL() << "gateway not up: " << tail_of(o.log_file);
  }

  // `sgctl --backend kubernetes up` for state dir `state`, until the gateway serves the
  // active release through it.
  void start_up(const fs::path& state, const std::string& expect_version = "v0.1.0",
                bool gateway_pods = false) {
    SpawnOptions o;
    o.argv = {SG_SGCTL_BIN, "--state-dir", state.string(), "--backend", "kubernetes", "--context", "fixture",
              "-n", "streamgate", "up", "--tick-ms", "200"};
    if (!gateway_pods) {
      o.argv.insert(o.argv.end(), {"--gateway-admin", "127.0.0.1:" + std::to_string(admin_port_)});
    }
    o.env = env();
    o.log_file = dir_.path() / ("up-" + std::to_string(++ups_) + ".log");
    auto child = ChildProcess::spawn(o);
    ASSERT_TRUE(child) << child.error().message;
    up_.emplace(std::move(*child));
    up_log_ = o.log_file;
    for (int i = 0; i < 600; ++i) {
      auto r = gateway_pods ? http::blocking_call(pod_ips("app=streamgate-gateway").front() + ":8080",
                                                  {.target = "/api/v1/health", .timeout = 1000ms})
                            : http_get(port_, "/api/v1/health");
      if (r.status == 200 && (expect_version.empty() || r.header("X-StreamGate-Version") == expect_version) &&
          sgctl(state, {"status", "-o", "json"}).exit_code == 0) {
        return;
      }
      ASSERT_TRUE(up_->running()) << "sgctl up exited: " << tail_of(o.log_file, 4000);
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << "not serving " << expect_version << " through the gateway: " << tail_of(o.log_file, 4000);
  }

  Done sgctl(const fs::path& state, const std::vector<std::string>& args, std::chrono::seconds timeout = 120s) {
    std::vector<std::string> argv = {SG_SGCTL_BIN, "--state-dir", state.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = sg::run_command({.argv = argv, .env = env(), .timeout = timeout});
    if (!r) return {-1, r.error().message};
    return {r->exit_code, r->out + r->err};
  }

  // A runbook script with SG_BACKEND=kubernetes (and SGCTL, SG_STATE_DIR) in its environment.
  Done script(const std::string& name, const std::vector<std::string>& args, std::chrono::seconds timeout = 180s) {
    std::vector<std::string> argv = {"bash", std::string(SG_SOURCE_DIR) + "/scripts/" + name};
    argv.insert(argv.end(), args.begin(), args.end());
    auto e = env();
    e.insert(e.end(), {{"SGCTL", SG_SGCTL_BIN}, {"SG_STATE_DIR", state_.string()}, {"SG_BACKEND", "kubernetes"}});
    auto r = sg::run_command({.argv = argv, .env = e, .timeout = timeout});
    if (!r) return {-1, r.error().message};
    return {r->exit_code, r->out + r->err};
  }

  std::vector<std::string> pod_ips(const std::string& selector) {
    std::vector<std::string> ips;
    std::stringstream in(kubectl({"get", "pods", "-l", selector, "-o", "jsonpath={.items[*].status.podIP}"}));
    for (std::string ip; in >> ip;) ips.push_back(ip);
    if (ips.empty()) ips.push_back("127.0.0.1");  // none yet: an address that fails the check
    return ips;
  }

  json::value rollout_state() {
    const std::string data = jsonpath("configmap/streamgate-rollout-state", ".data.deployments\\.json");
    boost::system::error_code ec;
    auto v = json::parse(data, ec);
    return ec ? json::value() : v;
  }

  // The newest deployment's result in the cluster's state once it is no longer in progress
  // (at most 90 s).
  std::string final_result() {
    std::string result;
    for (int i = 0; i < 900 && (result.empty() || result == "in_progress"); ++i) {
      json::value records = rollout_state();
      if (records.is_array() && !records.as_array().empty()) {
        result = std::string(records.as_array()[0].at("result").as_string());
      }
      std::this_thread::sleep_for(100ms);
    }
    return result;
  }

  // `sgctl controller` with state dir DIR/NAME and log DIR/NAME.log.
  ChildProcess start_controller(const std::string& name, const std::string& lease_seconds) {
    SpawnOptions o;
    o.argv = {SG_SGCTL_BIN, "--state-dir", (dir_.path() / name).string(), "--backend", "kubernetes",
              "--context", "fixture", "-n", "streamgate", "controller", "--gateway-admin",
              "127.0.0.1:" + std::to_string(admin_port_), "--lease-seconds", lease_seconds, "--tick-ms", "200"};
    o.env = env();
    o.log_file = dir_.path() / (name + ".log");
    auto child = ChildProcess::spawn(o);
    EXPECT_TRUE(child) << child.error().message;
    return std::move(*child);
  }

  bool log_has(const std::string& name, const std::string& text) {
    return tail_of(dir_.path() / (name + ".log"), 200000).find(text) != std::string::npos;
  }

  std::string up_log() { return "\n--- sgctl up:\n" + tail_of(up_log_, 6000); }

  TempDir dir_{"sg-it-kube"};
  std::vector<std::string> apiserver_extra_;  // more fixture flags
  std::optional<ChildProcess> apiserver_;
  std::optional<ChildProcess> gateway_;
  std::optional<ChildProcess> up_;
  std::string server_url_;
  fs::path kubeconfig_;
  fs::path state_;
  fs::path up_log_;
  int ups_ = 0;
  std::uint16_t port_ = 0;
  std::uint16_t admin_port_ = 0;
};

TEST_F(SgctlKubeTest, BlueGreenThenRollbackThroughTheRunbookScripts) {
  auto deploy = script("blue-green-deploy.sh",
                       {"streamgate:v1.3.0", "60", "--verify", "3", "--ready-stability", "1",
                        "--scale-down-delay", "0", "--min-requests", "20", "--synthetic-rps", "300"});
  ASSERT_EQ(deploy.exit_code, 0) << deploy.output << up_log();
  EXPECT_EQ(jsonpath("service/streamgate-active", ".spec.selector.version"), "green");
  EXPECT_EQ(jsonpath("service/streamgate-preview", ".spec.selector.version"), "blue");
  EXPECT_EQ(jsonpath("deployment/streamgate-green", ".spec.template.spec.containers[0].image"),
            "streamgate:v1.3.0");
  EXPECT_EQ(http_get(port_, "/api/v1/health").header("X-StreamGate-Version"), "v1.3.0");
  // The old colour is scaled down by the engine once the new one is verified.
  for (int i = 0; i < 100 && jsonpath("deployment/streamgate-blue", ".spec.replicas") != "0"; ++i) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(jsonpath("deployment/streamgate-blue", ".spec.replicas"), "0");
  // The rollout's record is in the cluster, promoted.
  json::value records = rollout_state();
  ASSERT_TRUE(records.is_array() && !records.as_array().empty()) << records;
  EXPECT_EQ(records.as_array()[0].at("result"), "promoted") << records;
  EXPECT_EQ(records.as_array()[0].at("to_release"), "v1.3.0");

  auto rollback = script("blue-green-rollback.sh", {});
  ASSERT_EQ(rollback.exit_code, 0) << rollback.output << up_log();
  EXPECT_EQ(jsonpath("service/streamgate-active", ".spec.selector.version"), "blue");
  EXPECT_EQ(jsonpath("deployment/streamgate-blue", ".spec.template.spec.containers[0].image"),
            "streamgate:v0.1.0");
  EXPECT_EQ(http_get(port_, "/api/v1/health").header("X-StreamGate-Version"), "v0.1.0");
}

TEST_F(SgctlKubeTest, FailingCanaryIsRolledBackAndStableUnchanged) {
  LoadGenerator load({.port = port_, .connections = 2, .duration = 60s, .max_requests = 200000});
  load.start();
  auto deploy = script("canary-deploy.sh", {"streamgate:v1.3.1-bad", "60", "5", "--ready-stability", "1"});
  load.stop();
  EXPECT_EQ(deploy.exit_code, 1) << deploy.output << up_log();
  EXPECT_NE(deploy.output.find("rolled_back"), std::string::npos) << deploy.output;
  EXPECT_EQ(jsonpath("deployment/streamgate-canary", ".spec.replicas"), "0");
  EXPECT_EQ(jsonpath("service/streamgate-active", ".spec.selector.version"), "blue");
  EXPECT_EQ(jsonpath("deployment/streamgate-blue", ".spec.template.spec.containers[0].image"),
            "streamgate:v0.1.0");
  EXPECT_EQ(jsonpath("deployment/streamgate-blue", ".spec.replicas"), "2");
}

TEST_F(SgctlKubeTest, CrashLoopingCanaryFailsOnItsRestarts) {
  const auto t0 = Clock::now();
  auto deploy = script("canary-deploy.sh", {"streamgate:v1.4.0-crash", "60", "5", "--ready-stability", "1"});
  EXPECT_EQ(deploy.exit_code, 1) << deploy.output << up_log();
  EXPECT_LT(Clock::now() - t0, 50s) << "should fail on restarts, not on the 60 s timeout";
  EXPECT_NE(deploy.output.find("restart"), std::string::npos) << deploy.output;
  EXPECT_EQ(jsonpath("deployment/streamgate-canary", ".spec.replicas"), "0");
  EXPECT_EQ(http_get(port_, "/api/v1/health").header("X-StreamGate-Version"), "v0.1.0");
}

TEST_F(SgctlKubeTest, AnotherSgctlResumesTheRolloutFromTheCluster) {
  // A canary in progress when its control plane is killed; a new one, with an empty state
  // dir (another machine), restores the rollout from the ConfigMap and finishes it.
  std::thread deployer([this] {
    (void)sgctl(state_, {"deploy", "canary", "streamgate:v1.3.0", "--step-interval", "4", "--ready-stability",
                         "1", "--steps", "20,50,100", "--min-requests", "20", "--synthetic-rps", "300"},
                25s);  // killed then if still following: the rollout runs in the control plane
  });
  bool stepping = false;
  for (int i = 0; i < 600 && !stepping; ++i) {
    auto s = sgctl(state_, {"status", "-o", "json"});
    stepping = s.exit_code == 0 && s.output.find("\"canary\"") != std::string::npos &&
               jsonpath("deployment/streamgate-canary", ".status.readyReplicas") != "" &&
               rollout_state().is_array() && !rollout_state().as_array().empty() &&
               rollout_state().as_array()[0].at("result") == "in_progress";
    if (!stepping) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(stepping) << up_log();
  ASSERT_TRUE(up_->signal(SIGKILL));
  up_->wait_exit(5s);
  up_.reset();

  const fs::path other = dir_.path() / "state-elsewhere";
  start_up(other, "");
  const std::string result = final_result();
  EXPECT_EQ(result, "promoted") << up_log();
  auto history = sgctl(other, {"history", "-o", "json"});
  EXPECT_NE(history.output.find("promoted"), std::string::npos) << history.output;
  EXPECT_NE(tail_of(up_log_, 100000).find("resum"), std::string::npos) << up_log();
  EXPECT_EQ(http_get(port_, "/api/v1/health").header("X-StreamGate-Version"), "v1.3.0");
  deployer.join();  // its control plane went away: it ended with an error
}

// A controller killed (SIGKILL) mid-rollout cannot hand its Lease over: the other takes it
// once its resourceVersion stood still for a lease duration, and finishes the rollout.
TEST_F(SgctlKubeTest, ControllerKilledMidRolloutIsReplacedWhenItsLeaseExpires) {
  up_->terminate(10s);
  up_.reset();
  ChildProcess a = start_controller("a", "9");
  for (int i = 0; i < 300 && !log_has("a", "driving namespace"); ++i) std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(log_has("a", "driving namespace")) << tail_of(dir_.path() / "a.log");
  ChildProcess b = start_controller("b", "9");
  // The operator's deploy, through the runbook script with no control plane of its own and
  // no SG_CONTROL_ADDRESS: it reaches the Lease holder through ConfigMap
  // streamgate-control-requests and follows the rollout across the change of holder. Steps
  // of 4 s, shorter than the time nobody drives (the Lease expiring takes up to 12 s here):
  // the new holder credits that time back to the step (pause_clock), which otherwise ran out
  // before it measured enough (a rollback for want of traffic, seen 1 run in 5 before).
  Done deployed;
  std::thread deployer([&] {
    deployed = script("canary-deploy.sh", {"streamgate:v1.3.0", "90", "4", "--ready-stability", "1", "--steps",
                                           "20,50,100", "--min-requests", "20", "--synthetic-rps", "300"});
  });
  struct Join {
    std::thread& t;
    ~Join() {
      if (t.joinable()) t.join();
    }
  } join_deployer{deployer};
  bool stepping = false;
  for (int i = 0; i < 600 && !stepping; ++i) {
    json::value records = rollout_state();
    stepping = log_has("a", "[step]") && records.is_array() && !records.as_array().empty() &&
               records.as_array()[0].at("result") == "in_progress";
    if (!stepping) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(stepping) << tail_of(dir_.path() / "a.log", 6000);
  ASSERT_TRUE(a.signal(SIGKILL));
  a.wait_exit(5s);
  const auto killed = Clock::now();
  for (int i = 0; i < 600 && !log_has("b", "driving namespace"); ++i) std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(log_has("b", "driving namespace")) << tail_of(dir_.path() / "b.log", 4000);
  // Not before the lease could have expired (9 s after a's last renewal, which was at most a
  // third of that before the kill), and not much after.
  EXPECT_GT(Clock::now() - killed, 5s);
  EXPECT_LT(Clock::now() - killed, 40s);
  EXPECT_TRUE(jsonpath("lease/streamgate-controller", ".spec.holderIdentity").ends_with("/" + std::to_string(b.pid())));
  EXPECT_EQ(final_result(), "promoted") << tail_of(dir_.path() / "b.log", 6000);
  EXPECT_TRUE(log_has("b", "resuming deployment 1")) << tail_of(dir_.path() / "b.log", 4000);
  EXPECT_TRUE(log_has("b", "nobody drove it for about")) << tail_of(dir_.path() / "b.log", 4000);
  deployer.join();
  EXPECT_EQ(deployed.exit_code, 0) << deployed.output;
  EXPECT_NE(deployed.output.find("promoted"), std::string::npos) << deployed.output;
  EXPECT_TRUE(log_has("a", "through configmap streamgate-control-requests")) << tail_of(dir_.path() / "a.log", 4000);
  EXPECT_TRUE(log_has("b", "through configmap streamgate-control-requests")) << tail_of(dir_.path() / "b.log", 4000);
  b.terminate(20s);
}

// Without any control plane running, the runbook script's sgctl runs the engine itself for as
// long as the rollout takes (the gateways: the gateway Deployment's pods).
TEST_F(SgctlKubeTest, WithoutAControlPlaneTheCommandRunsTheEngine) {
  up_->terminate(10s);
  up_.reset();
  // Extra script arguments reach sgctl: the global --context may follow the command.
  auto deploy = script("canary-deploy.sh", {"streamgate:v1.3.0", "60", "3", "--steps", "50,100", "--ready-stability",
                                            "1", "--min-requests", "20", "--synthetic-rps", "300", "--context",
                                            "fixture"});
  ASSERT_EQ(deploy.exit_code, 0) << deploy.output;
  EXPECT_NE(deploy.output.find("running the engine in this command"), std::string::npos) << deploy.output;
  EXPECT_EQ(final_result(), "promoted");
  EXPECT_EQ(jsonpath("service/streamgate-active", ".spec.selector.version"), "green");
  for (const std::string& ip : pod_ips("app=streamgate-gateway")) {
    auto r = http::blocking_call(ip + ":8080", {.target = "/api/v1/health", .timeout = 1000ms});
    EXPECT_EQ(r.header("X-StreamGate-Version"), "v1.3.0") << ip;
  }
  auto e = env();
  e.insert(e.end(), {{"SG_BACKEND", "kubernetes"}});
  auto status = sg::run_command({.argv = {SG_SGCTL_BIN, "--state-dir", state_.string(), "--context", "fixture",
                                          "status"},
                                 .env = e,
                                 .timeout = 60s});
  ASSERT_TRUE(status);
  EXPECT_EQ(status->exit_code, 0) << status->out << status->err;
  EXPECT_NE(status->out.find("active: green (v1.3.0)"), std::string::npos) << status->out;
}

// Without --gateway-admin, sgctl configures every ready pod of the gateway Deployment (two
// here, real gateways in kubelet mode) at its pod IP and adds their counters up.
TEST_F(SgctlKubeTest, EveryGatewayReplicaIsConfigured) {
  up_->terminate(10s);
  up_.reset();
  start_up(state_, "v0.1.0", /*gateway_pods=*/true);
  const std::vector<std::string> gateways = pod_ips("app=streamgate-gateway");
  ASSERT_EQ(gateways.size(), 2u);
  auto deploy = script("blue-green-deploy.sh",
                       {"streamgate:v1.3.0", "60", "--verify", "3", "--ready-stability", "1",
                        "--scale-down-delay", "0", "--min-requests", "20", "--synthetic-rps", "300"});
  ASSERT_EQ(deploy.exit_code, 0) << deploy.output << up_log();
  for (const std::string& ip : gateways) {
    for (int i = 0; i < 20; ++i) {  // each gateway answers from green now
      auto r = http::blocking_call(ip + ":8080", {.target = "/api/v1/health", .timeout = 1000ms});
      EXPECT_EQ(r.status, 200) << ip;
      EXPECT_EQ(r.header("X-StreamGate-Version"), "v1.3.0") << ip;
    }
  }
  // The control plane lists both as its gateways.
  auto status = sgctl(state_, {"status", "-o", "json"});
  ASSERT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find(gateways[0] + ":8081"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find(gateways[1] + ":8081"), std::string::npos) << status.output;
}

// Two `sgctl controller`s on one namespace: the Lease holder drives, the other waits; the
// holder is stopped mid-rollout, hands the Lease over, and the other resumes the rollout from
// the cluster's state and promotes it.
TEST_F(SgctlKubeTest, ControllerHandsItsLeaseOverMidRollout) {
  up_->terminate(10s);  // the controllers drive instead
  up_.reset();
  auto holder = [&] { return jsonpath("lease/streamgate-controller", ".spec.holderIdentity"); };
  ChildProcess a = start_controller("a", "15");
  for (int i = 0; i < 300 && !log_has("a", "driving namespace"); ++i) std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(log_has("a", "driving namespace")) << tail_of(dir_.path() / "a.log");
  ChildProcess b = start_controller("b", "15");
  std::this_thread::sleep_for(3s);
  EXPECT_FALSE(log_has("b", "driving namespace")) << "both controllers drive";
  EXPECT_TRUE(holder().ends_with("/" + std::to_string(a.pid()))) << holder();
  // An `sgctl up` on the namespace a controller drives is refused, naming the holder.
  auto refused = sgctl(dir_.path() / "c", {"--backend", "kubernetes", "--context", "fixture", "up",
                                           "--gateway-admin", "127.0.0.1:" + std::to_string(admin_port_)},
                       30s);
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("holds lease streamgate-controller"), std::string::npos) << refused.output;
  // Bad input is one line naming it, before anything is touched.
  auto bad_ns = sgctl(dir_.path() / "d", {"--backend", "kubernetes", "-n", "Not_A_Namespace", "up"}, 30s);
  EXPECT_EQ(bad_ns.exit_code, 2) << bad_ns.output;
  EXPECT_NE(bad_ns.output.find("--namespace 'Not_A_Namespace'"), std::string::npos) << bad_ns.output;
  // A state dir of one namespace is not used for another (nor for the local platform).
  auto other_ns = sgctl(state_, {"--backend", "kubernetes", "--context", "fixture", "-n", "default", "up"}, 30s);
  EXPECT_EQ(other_ns.exit_code, 2) << other_ns.output;
  EXPECT_NE(other_ns.output.find("holds the state of kubernetes fixture/streamgate"), std::string::npos)
      << other_ns.output;
  // Through ConfigMap streamgate-control-requests the holder carries only GET and POST of
  // /control/v1/...: anything else is answered 400, and a request older than 10 minutes is
  // removed unanswered.
  {
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    const json::object data{
        {"req-badpath", json::serialize(json::object{{"method", "DELETE"}, {"path", "/etc/passwd"}, {"at_ms", now_ms}})},
        {"req-stale", json::serialize(json::object{
                          {"method", "GET"}, {"path", "/control/v1/status"}, {"at_ms", now_ms - 11 * 60 * 1000}})}};
    kubectl({"patch", "configmap/streamgate-control-requests", "--type", "merge", "-p",
             json::serialize(json::object{{"data", data}})});
    json::value answer;
    bool stale_gone = false;
    for (int i = 0; i < 100 && (answer.is_null() || !stale_gone); ++i) {
      std::this_thread::sleep_for(100ms);
      boost::system::error_code ec;
      const json::value cm = json::parse(kubectl({"get", "configmap/streamgate-control-requests", "-o", "json"}), ec);
      if (ec || !cm.is_object()) continue;
      const json::value* dv = cm.as_object().if_contains("data");
      const json::object* d = dv != nullptr ? dv->if_object() : nullptr;
      if (d == nullptr) continue;
      if (const json::value* r = d->if_contains("resp-badpath"); r != nullptr && r->is_string()) {
        answer = json::parse(r->as_string(), ec);
      }
      stale_gone = !d->contains("req-stale") && !d->contains("resp-stale");
    }
    ASSERT_TRUE(answer.is_object()) << "no answer to a bad request: " << tail_of(dir_.path() / "a.log", 3000);
    EXPECT_EQ(answer.at("status").to_number<int>(), 400) << answer;
    EXPECT_TRUE(stale_gone);
  }

  // The operator's sgctl reaches the controller's control API as through kubectl
  // port-forward: SG_CONTROL_ADDRESS and SG_CONTROL_TOKEN, no state dir of its own.
  std::string address, token;
  std::getline(std::ifstream(dir_.path() / "a" / "control-address"), address);
  std::getline(std::ifstream(dir_.path() / "a" / "control-token"), token);
  ASSERT_FALSE(address.empty() || token.empty());
  std::thread deployer([this, address, token] {
    auto e = env();
    e.insert(e.end(), {{"SG_CONTROL_ADDRESS", address}, {"SG_CONTROL_TOKEN", token}});
    (void)sg::run_command({.argv = {SG_SGCTL_BIN, "--state-dir", (dir_.path() / "operator").string(), "deploy",
                                    "canary", "streamgate:v1.3.0", "--step-interval", "4", "--ready-stability",
                                    "1", "--steps", "20,50,100", "--min-requests", "20", "--synthetic-rps", "300"},
                           .env = e,
                           .timeout = 25s});  // killed then if still following: the rollout runs in the controller
  });
  bool stepping = false;
  for (int i = 0; i < 600 && !stepping; ++i) {
    json::value records = rollout_state();
    stepping = tail_of(dir_.path() / "a.log", 200000).find("[step]") != std::string::npos &&
               records.is_array() && !records.as_array().empty() &&
               records.as_array()[0].at("result") == "in_progress";
    if (!stepping) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(stepping) << tail_of(dir_.path() / "a.log", 8000) << "\n--- b:\n" << tail_of(dir_.path() / "b.log", 3000);
  const auto handover = Clock::now();
  a.terminate(20s);  // SIGTERM: stops driving and releases the Lease
  for (int i = 0; i < 100 && !log_has("b", "driving namespace"); ++i) std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(log_has("b", "driving namespace")) << tail_of(dir_.path() / "b.log", 4000);
  EXPECT_LT(Clock::now() - handover, 20s) << "a released lease is taken at once, not after it expires";
  EXPECT_TRUE(holder().ends_with("/" + std::to_string(b.pid()))) << holder();
  EXPECT_EQ(jsonpath("lease/streamgate-controller", ".spec.leaseTransitions"), "1");
  const std::string result = final_result();
  EXPECT_EQ(result, "promoted") << tail_of(dir_.path() / "b.log", 6000);
  EXPECT_TRUE(log_has("b", "resuming deployment 1")) << tail_of(dir_.path() / "b.log", 4000);
  EXPECT_EQ(http_get(port_, "/api/v1/health").header("X-StreamGate-Version"), "v1.3.0");
  b.terminate(20s);
  deployer.join();  // its controller went away: it ended with an error
}

// Without our gateway (--routing replicas): users reach Service streamgate-live, which the
// fixture's stand-in kube-proxy spreads over its ready pods (connections, at random); sgctl
// labels the weighted tracks' pods into it and sizes the canary Deployment by the weight;
// per-track traffic comes from a real Prometheus scraping the server pods (file_sd written by
// the fixture with the labels the shipped kubernetes_sd relabelling gives).
class SgctlKubeNoGatewayTest : public SgctlKubeTest {
 protected:
  void SetUp() override {
    if (!sg::run_command({.argv = {"kubectl", "version", "--client"}, .timeout = 20s})) {
      GTEST_SKIP() << "kubectl is not installed (scripts/install-deps documents it)";
    }
    write_kubelet_map();
    const fs::path sd = dir_.path() / "pods-sd.json";
    apiserver_extra_ = {"--service-proxy", "--prometheus-sd", sd.string()};
    ASSERT_NO_FATAL_FAILURE(start_apiserver());
    write_kubeconfig();
    ASSERT_NO_FATAL_FAILURE(apply_overlay());
    kubectl({"scale", "deployment/streamgate-gateway", "--replicas=0"});  // no gateway at all
    ASSERT_NO_FATAL_FAILURE(start_prometheus(sd));
    live_ip_ = jsonpath("service/streamgate-live", ".spec.clusterIP");
    ASSERT_FALSE(live_ip_.empty());
    state_ = dir_.path() / "state";
    SpawnOptions o;
    o.argv = {SG_SGCTL_BIN, "--state-dir", state_.string(), "--backend", "kubernetes", "--context", "fixture",
              "-n", "streamgate", "--routing", "replicas", "--prometheus",
              "http://127.0.0.1:" + std::to_string(prom_port_), "up", "--tick-ms", "200"};
    o.env = {{"KUBECONFIG", kubeconfig_.string()}};  // no gateway token: none is needed
    o.log_file = dir_.path() / "up-1.log";
    auto child = ChildProcess::spawn(o);
    ASSERT_TRUE(child) << child.error().message;
    up_.emplace(std::move(*child));
    up_log_ = o.log_file;
    for (int i = 0; i < 600; ++i) {
      if (live_get().header("X-StreamGate-Version") == "v0.1.0" &&
          sgctl(state_, {"status", "-o", "json"}).exit_code == 0) {
        return;
      }
      ASSERT_TRUE(up_->running()) << "sgctl up exited: " << tail_of(o.log_file, 4000);
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << "streamgate-live does not serve v0.1.0: " << up_log() << tail_of(dir_.path() / "apiserver.log");
  }

  void TearDown() override {
    if (up_) up_->terminate(10s);
    if (prometheus_) prometheus_->terminate(10s);
    SgctlKubeTest::TearDown();
  }

  void start_prometheus(const fs::path& sd) {
    prom_port_ = free_port();
    const fs::path config = dir_.path() / "prometheus.yml";
    std::ofstream(config) << "global: { scrape_interval: 1s, evaluation_interval: 1s }\n"
                             "scrape_configs:\n"
                             "  - job_name: streamgate-server\n"
                             "    file_sd_configs: [{ files: ['" << sd.string() << "'], refresh_interval: 1s }]\n";
    auto child = sg::test::start_prometheus(config, dir_.path(), prom_port_);
    ASSERT_TRUE(child) << child.error().message;
    prometheus_.emplace(std::move(*child));
  }

  http::ClientReply live_get() {
    return http::blocking_call(live_ip_ + ":9090", {.target = "/api/v1/health", .timeout = 1000ms});
  }

  // Tracks (version labels) of the pods in streamgate-live, sorted.
  std::string live_tracks() {
    std::stringstream in(kubectl({"get", "pods", "-l", "streamgate.dev/live=true", "-o",
                                  "jsonpath={.items[*].metadata.labels.version}"}));
    std::vector<std::string> v;
    for (std::string t; in >> t;) v.push_back(t);
    std::sort(v.begin(), v.end());
    std::string out;
    for (const auto& t : v) out += (out.empty() ? "" : " ") + t;
    return out;
  }

  // Runs canary-deploy.sh on a thread while sampling the users' traffic through streamgate-live
  // (one connection per request, as kube-proxy splits connections): the largest share of
  // `release` in a 1 s window while the canary was in a step, and the most canary replicas.
  struct CanaryRun {
    Done done;
    double max_share = 0;
    std::vector<double> shares;  // of each 1 s window in a step
    LoadResult total;
    int max_canary_replicas = 0;
    bool label_selector = false;  // streamgate-live selected streamgate.dev/live=true at a look
  };
  CanaryRun run_canary(const std::string& release, const std::string& steps) {
    LoadGenerator load({.port = 9090, .connections = 3, .duration = 120s, .max_requests = 400000,
                        .host = live_ip_, .keep_alive = false});
    load.start();
    CanaryRun run;
    std::atomic<bool> finished{false};
    std::thread deploy([&] {
      run.done = script("canary-deploy.sh", {"streamgate:" + release, "60", "4", "--ready-stability", "1",
                                             "--steps", steps, "--min-requests", "100"});
      finished = true;
    });
    while (!finished) {
      load.window();
      std::this_thread::sleep_for(1s);
      const LoadResult w = load.window();
      const std::string replicas = jsonpath("deployment/streamgate-canary", ".spec.replicas");
      if (jsonpath("service/streamgate-live", ".spec.selector.streamgate\\.dev/live") == "true") run.label_selector = true;
      if (!replicas.empty()) run.max_canary_replicas = std::max(run.max_canary_replicas, std::stoi(replicas));
      // Only while green (the promoted colour) is not serving yet: a canary step.
      if (w.requests > 50 && jsonpath("service/streamgate-active", ".spec.selector.version") == "blue") {
        const auto it = w.by_header.find(release);
        const double share = it == w.by_header.end() ? 0 : static_cast<double>(it->second) / w.requests;
        if (live_tracks().find("canary") != std::string::npos) {
          run.max_share = std::max(run.max_share, share);
          run.shares.push_back(share);
        }
      }
    }
    deploy.join();
    load.stop();
    const LoadResult total = load.finish();
    run.total = total;
    EXPECT_EQ(total.connection_errors, 0u) << describe(total);
    std::cout << "replica-ratio canary " << release << ": exit " << run.done.exit_code << ", most canary replicas "
              << run.max_canary_replicas << ", largest canary share of a 1 s window " << run.max_share << "; "
              << describe(total) << "\n";
    return run;
  }

  std::optional<ChildProcess> prometheus_;
  std::uint16_t prom_port_ = 0;
  std::string live_ip_;
};

TEST_F(SgctlKubeNoGatewayTest, ReplicaRatioCanaryPromotesOnPrometheusTraffic) {
  // Steps 25, 50 and 100 next to 2 stable pods: 1 canary pod (33 % of the pods), then 2
  // (50 %), then all the traffic on 2 canary pods, the stable pods leaving only then.
  CanaryRun run = run_canary("v1.3.0", "25,50,100");
  ASSERT_EQ(run.done.exit_code, 0) << run.done.output << up_log();
  EXPECT_EQ(run.total.non_2xx, 0u) << describe(run.total);
  EXPECT_EQ(run.max_canary_replicas, 2);
  EXPECT_TRUE(std::any_of(run.shares.begin(), run.shares.end(), [](double s) { return s > 0.2 && s < 0.8; }))
      << "no window with the canary's share of the pods";
  EXPECT_GT(run.max_share, 0.95) << "the 100 % step never had all the traffic";
  EXPECT_TRUE(log_has("up-1", "replica ratio: 50 % asked, 50 % of the pods")) << up_log();
  EXPECT_TRUE(run.label_selector);
  // Promoted: green runs v1.3.0 and alone makes up streamgate-live.
  EXPECT_EQ(jsonpath("service/streamgate-active", ".spec.selector.version"), "green");
  EXPECT_EQ(jsonpath("deployment/streamgate-canary", ".spec.replicas"), "0");
  std::string tracks;
  for (int i = 0; i < 100; ++i) {
    tracks = live_tracks();
    if (tracks == "green green") break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(tracks, "green green");
  // Outside a canary streamgate-live selects the active colour, as streamgate-active does.
  EXPECT_EQ(jsonpath("service/streamgate-live", ".spec.selector.version"), "green");
  EXPECT_EQ(live_get().header("X-StreamGate-Version"), "v1.3.0");
}

TEST_F(SgctlKubeNoGatewayTest, ReplicaRatioCanaryWithErrorsIsRolledBack) {
  CanaryRun run = run_canary("v1.3.1-bad", "50");
  EXPECT_EQ(run.done.exit_code, 1) << run.done.output << up_log();
  EXPECT_NE(run.done.output.find("rolled_back"), std::string::npos) << run.done.output;
  EXPECT_GT(run.max_share, 0.0) << "the canary never took traffic";
  EXPECT_EQ(jsonpath("deployment/streamgate-canary", ".spec.replicas"), "0");
  EXPECT_EQ(jsonpath("service/streamgate-active", ".spec.selector.version"), "blue");
  EXPECT_TRUE(run.label_selector);
  EXPECT_EQ(jsonpath("service/streamgate-live", ".spec.selector.version"), "blue");
  std::string tracks;
  for (int i = 0; i < 50 && (tracks = live_tracks()) != "blue blue"; ++i) std::this_thread::sleep_for(100ms);
  EXPECT_EQ(tracks, "blue blue");
  EXPECT_EQ(live_get().header("X-StreamGate-Version"), "v0.1.0");
}

}  // namespace
}  // namespace sg::test
