// A gtest fixture that runs the real local control plane (`sgctl up`) in a temporary state
// directory, with the real streamgate-gateway and streamgate-server replicas it starts, and
// runs other sgctl commands against it.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/process.hpp"
#include "integration/http_client.hpp"
#include "platform/local/process_records.hpp"
#include "platform/store/state_store.hpp"
#include "support/services.hpp"

namespace sg::test {

struct CommandResult {
  int exit_code = -1;  // -1: did not finish in time
  std::string output;  // stdout and stderr
};

class SgctlFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = dir_.path() / "state";
    port_ = free_port();
    admin_port_ = free_port();
  }

  void TearDown() override {
    stop_up(SIGTERM);
    // Whatever a killed control plane left behind (the gateway and replicas run in their own
    // sessions): only the processes it recorded, by PID and start time.
    auto records = platform::ProcessRecords::open(state_);
    if (!records) return;
    std::vector<std::pair<pid_t, std::uint64_t>> leftovers;
    if (auto reps = (*records)->replicas()) {
      for (const auto& r : *reps) leftovers.emplace_back(static_cast<pid_t>(r.pid), r.start_ticks);
    }
    if (auto g = (*records)->gateway(); g && *g) {
      leftovers.emplace_back(static_cast<pid_t>((*g)->pid), (*g)->start_ticks);
    }
    for (const auto& [pid, ticks] : leftovers) {
      if (same_process_alive(pid, ticks)) ::kill(pid, SIGKILL);
    }
  }

  std::string bin() const { return SG_SGCTL_BIN; }

  // Runs argv (with `env` added) to its end, or `timeout`; returns its exit code and output.
  CommandResult run(std::vector<std::string> argv,
                    std::vector<std::pair<std::string, std::string>> env,
                    std::chrono::seconds timeout) {
    SpawnOptions o;
    o.argv = std::move(argv);
    o.env = std::move(env);
    o.log_file = dir_.path() / ("command-" + std::to_string(++commands_) + ".log");
    auto child = ChildProcess::spawn(o);
    if (!child) return {-1, child.error().message};
    auto status = child->wait_exit(timeout);
    CommandResult r;
    r.output = tail_of(o.log_file, 20000);
    if (status && WIFEXITED(*status)) r.exit_code = WEXITSTATUS(*status);
    return r;
  }

  // Runs `sgctl --state-dir STATE ARGS...`.
  CommandResult sgctl(const std::vector<std::string>& args,
                      std::chrono::seconds timeout = std::chrono::seconds(120)) {
    std::vector<std::string> argv = {bin(), "--state-dir", state_.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(std::move(argv), {}, timeout);
  }

  // Runs a runbook script (scripts/NAME) with SGCTL and SG_STATE_DIR pointing here.
  CommandResult script(const std::string& name, const std::vector<std::string>& args,
                       std::chrono::seconds timeout = std::chrono::seconds(120)) {
    std::vector<std::string> argv = {"bash", std::string(SG_SOURCE_DIR) + "/scripts/" + name};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(std::move(argv), {{"SGCTL", bin()}, {"SG_STATE_DIR", state_.string()}}, timeout);
  }

  // Starts a command without waiting (for a deploy that the test interrupts).
  ChildProcess sgctl_async(const std::vector<std::string>& args, const std::string& log_name) {
    SpawnOptions o;
    o.argv = {bin(), "--state-dir", state_.string()};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.log_file = dir_.path() / log_name;
    auto child = ChildProcess::spawn(o);
    EXPECT_TRUE(child) << child.error().message;
    return std::move(*child);
  }

  void add_release(const std::string& name, const std::vector<std::string>& args = {}) {
    std::vector<std::string> cmd = {"release", "add", name, "--exec", SG_SERVER_BIN};
    if (!args.empty()) {
      cmd.push_back("--");
      cmd.insert(cmd.end(), args.begin(), args.end());
    }
    auto r = sgctl(cmd);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  // Starts `sgctl up` serving `release` with `replicas` replicas and waits until the gateway
  // answers (with that version, when `expect_release` is set) and the control API is up.
  void start_up(const std::string& release, int replicas = 2, bool expect_release = true,
                const std::vector<std::string>& extra = {}) {
    SpawnOptions o;
    o.argv = {bin(),
              "--state-dir",
              state_.string(),
              "up",
              "--listen",
              "127.0.0.1:" + std::to_string(port_),
              "--admin-listen",
              "127.0.0.1:" + std::to_string(admin_port_),
              "--release",
              release,
              "--replicas",
              std::to_string(replicas),
              "--grace-period",
              "10",
              "--drain-timeout",
              "20",
              "--tick-ms",
              "200",
              "--gateway-threads",
              "2"};
    o.argv.insert(o.argv.end(), extra.begin(), extra.end());
    o.log_file = dir_.path() / "up.log";
    auto child = ChildProcess::spawn(o);
    ASSERT_TRUE(child) << child.error().message;
    up_.emplace(std::move(*child));
    for (int i = 0; i < 300; ++i) {
      auto r = http_get(port_, "/api/v1/health");
      if (r.status == 200 && (!expect_release || r.header("X-StreamGate-Version") == release)) {
        // And the control API is up.
        if (sgctl({"status", "-o", "json"}).exit_code == 0) return;
      }
      ASSERT_TRUE(up_->running()) << "sgctl up exited: " << tail_of(o.log_file, 4000);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "platform not serving " << release << ": " << tail_of(o.log_file, 4000);
  }

  void stop_up(int signo) {
    if (!up_) return;
    if (signo == SIGKILL) {
      (void)up_->signal(SIGKILL);
      up_->wait_exit(std::chrono::seconds(5));
    } else {
      up_->terminate(std::chrono::seconds(40));
    }
    up_.reset();
  }

  boost::json::value status_json() {
    auto r = sgctl({"status", "-o", "json"});
    if (r.exit_code != 0) return nullptr;
    boost::system::error_code ec;
    auto v = boost::json::parse(r.output, ec);
    return ec ? boost::json::value(nullptr) : v;
  }

  std::string up_log() { return tail_of(dir_.path() / "up.log", 6000); }

  TempDir dir_{"sgctl-it"};
  std::filesystem::path state_;
  std::uint16_t port_ = 0;
  std::uint16_t admin_port_ = 0;
  std::optional<ChildProcess> up_;
  int commands_ = 0;
};

}  // namespace sg::test
