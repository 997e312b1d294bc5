// A gtest fixture that runs real streamgate-server replicas (sharing one SQLite database)
// behind a real streamgate-gateway configured by a YAML file, for the gateway's integration
// tests.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "integration/http_client.hpp"
#include "integration/server_process.hpp"

namespace sg::test {

inline constexpr const char* kGatewayAdminToken = "gateway-admin-token-1";

class GatewayFixture : public ::testing::Test {
 protected:
  // Starts `count` replicas labelled `label`.
  void start_replicas(const std::string& label, int count) {
    for (int i = 0; i < count; ++i) {
      ServerSetup s;
      s.storage = "sqlite:" + (dir_.path() / "shared.sqlite").string();
      s.version_label = label;
      auto r = ServerProcess::start(s, dir_.path());
      ASSERT_TRUE(r) << r.error().message;
      replicas_[label].push_back(std::move(*r));
    }
  }

  // "127.0.0.1:P1,127.0.0.1:P2" for the replicas labelled `label`.
  std::string endpoints(const std::string& label) {
    std::string out;
    for (auto& r : replicas_[label]) {
      out += (out.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(r->port());
    }
    return out;
  }

  // Writes the YAML file: listeners, threads and `health_` plus `tail`. Written to a
  // temporary file and renamed, so a reload never reads half a file.
  void write_config(const std::string& tail) {
    const auto tmp = dir_.path() / "gateway.yaml.tmp";
    std::ofstream(tmp) << "listen: 127.0.0.1:" << port_
                       << "\nadmin: { listen: 127.0.0.1:" << admin_port_
                       << " }\nthreads: 2\nhealth_check: " << health_ << "\n"
                       << tail;
    std::filesystem::rename(tmp, config_file());
  }
  std::filesystem::path config_file() const { return dir_.path() / "gateway.yaml"; }
  std::filesystem::path log_file() const { return dir_.path() / "gateway.log"; }

  // Starts the gateway and waits until its admin listener answers.
  void start_gateway(const std::string& yaml_tail) {
    port_ = free_port();
    admin_port_ = free_port();
    write_config(yaml_tail);
    SpawnOptions o;
    o.argv = gateway_prefix_;
    o.argv.insert(o.argv.end(), {SG_GATEWAY_BIN, "--config", config_file().string()});
    o.env = {{"STREAMGATE_ADMIN_TOKEN", kGatewayAdminToken}};
    o.env.insert(o.env.end(), gateway_env_.begin(), gateway_env_.end());
    o.log_file = log_file();
    auto child = ChildProcess::spawn(o);
    ASSERT_TRUE(child) << child.error().message;
    gateway_.emplace(std::move(*child));
    for (int i = 0; i < 200; ++i) {
      if (http_get(admin_port_, "/health").status == 200) return;
      ASSERT_TRUE(gateway_->running()) << tail_of(o.log_file);
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    FAIL() << "gateway not up: " << tail_of(o.log_file);
  }

  HttpReply admin(boost::beast::http::verb method, const std::string& target,
                  const std::string& body = {}) {
    return http_call(
        admin_port_,
        {method, target, body, {{"Authorization", std::string("Bearer ") + kGatewayAdminToken}}});
  }

  // The gateway's configuration generation (admin /health), -1 when it does not answer.
  std::int64_t generation() {
    auto r = http_get(admin_port_, "/health");
    if (r.status != 200) return -1;
    return boost::json::parse(r.body).at("generation").to_number<std::int64_t>();
  }

  TempDir dir_{"sg-it-gw"};
  std::string health_ = "{ interval_ms: 200, timeout_ms: 150, rise: 1, fall: 2 }";
  // Set before start_gateway(): a command the gateway runs under (e.g. prlimit), and more
  // environment for it.
  std::vector<std::string> gateway_prefix_;
  std::vector<std::pair<std::string, std::string>> gateway_env_;
  std::map<std::string, std::vector<std::unique_ptr<ServerProcess>>> replicas_;
  std::optional<ChildProcess> gateway_;
  std::uint16_t port_ = 0;
  std::uint16_t admin_port_ = 0;
};

}  // namespace sg::test
