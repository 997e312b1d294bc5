// streamgate-gateway's command line: flags for the simple case, --config FILE, flags that
// override the file (again on reload), and one clear line with exit code 2 for bad input.
#include "gateway/gateway_cli.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace sg::gateway {
namespace {

GatewayCli parse(std::vector<std::string> args) {
  args.insert(args.begin(), "streamgate-gateway");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_gateway_cli(static_cast<int>(argv.size()), argv.data());
}

// A config file in a fresh temp directory, removed with the fixture.
class GatewayCliFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sg-gateway-cli-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    file_ = (dir_ / "gateway.yaml").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write(const std::string& text) const { std::ofstream(file_) << text; }

  std::filesystem::path dir_;
  std::string file_;
};

constexpr const char* kFile = R"(listen: 127.0.0.1:18080
admin: { listen: 127.0.0.1:18081 }
threads: 1
tracks:
  stable: { endpoints: [127.0.0.1:9101, 127.0.0.1:9102] }
  canary: { endpoints: [127.0.0.1:9201] }
route: { weights: { stable: 95, canary: 5 } }
)";

TEST(GatewayCli, FlagsAloneBuildTheConfig) {
  const auto cli =
      parse({"--listen", "127.0.0.1:18080", "--track", "stable=127.0.0.1:9101,127.0.0.1:9102",
             "--track", "canary=127.0.0.1:9201", "--weights", "stable=95,canary=5", "--threads",
             "2", "--cpu-affinity", "auto"});
  ASSERT_TRUE(cli.run) << cli.message;
  EXPECT_EQ(cli.config.listen, "127.0.0.1:18080");
  EXPECT_EQ(cli.config.threads, 2);
  EXPECT_EQ(cli.config.cpu_affinity, CpuAffinity::kAuto);
  ASSERT_EQ(cli.config.tracks.size(), 2U);
  EXPECT_EQ(cli.config.tracks.at("stable").endpoints,
            (std::vector<std::string>{"127.0.0.1:9101", "127.0.0.1:9102"}));
  ASSERT_EQ(cli.config.route.weights.size(), 2U);
  int stable = -1;
  for (const auto& w : cli.config.route.weights) {
    if (w.track == "stable") stable = w.weight;
  }
  EXPECT_EQ(stable, 95);
}

TEST(GatewayCli, OneTrackWithoutWeightsGetsAllTraffic) {
  const auto cli = parse({"--track", "stable=127.0.0.1:9101"});
  ASSERT_TRUE(cli.run) << cli.message;
  ASSERT_EQ(cli.config.route.weights.size(), 1U);
  EXPECT_EQ(cli.config.route.weights[0].track, "stable");
  EXPECT_EQ(cli.config.route.weights[0].weight, 100);
  EXPECT_EQ(cli.config.cpu_affinity, CpuAffinity::kNone);
}

TEST(GatewayCli, HelpPrintsUsageAndExitsZero) {
  const auto cli = parse({"--help"});
  EXPECT_FALSE(cli.run);
  EXPECT_EQ(cli.exit_code, 0);
  EXPECT_NE(cli.message.find("--cpu-affinity"), std::string::npos);
}

TEST(GatewayCli, BadInputIsOneLineAndExitCodeTwo) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "give --config FILE or at least one --track NAME=HOST:PORT"},
      {{"--track", "stable=127.0.0.1:9101", "--cpu-affinity", "pinned"},
       "--cpu-affinity: must be none or auto, got 'pinned'"},
      {{"--track", "127.0.0.1:9101"}, "--track '127.0.0.1:9101' is not NAME=HOST:PORT"},
      {{"--track", "stable=127.0.0.1:9101", "--weights", "stable=ninety"},
       "--weights: 'ninety' is not an integer"},
      {{"--track", "stable=127.0.0.1:9101", "--weights", "stable"},
       "--weights: 'stable' is not NAME=VALUE"},
      {{"--track", "stable=127.0.0.1:9101", "--threads", "many"}, "--threads"},
      {{"--config", "/nonexistent/sg-gateway.yaml"},
       "cannot read config file '/nonexistent/sg-gateway.yaml'"},
  };
  for (const auto& [args, expected] : cases) {
    const auto cli = parse(args);
    EXPECT_FALSE(cli.run) << expected;
    EXPECT_EQ(cli.exit_code, 2) << expected;
    EXPECT_EQ(cli.message.rfind("streamgate-gateway: ", 0), 0U) << cli.message;
    EXPECT_NE(cli.message.find(expected), std::string::npos) << cli.message;
    EXPECT_EQ(cli.message.find('\n'), cli.message.size() - 1) << cli.message;
  }
}

TEST_F(GatewayCliFile, FlagsOverrideTheFileAndAgainOnReload) {
  write(kFile);
  const auto cli = parse({"--config", file_, "--threads", "3", "--cpu-affinity", "auto"});
  ASSERT_TRUE(cli.run) << cli.message;
  EXPECT_EQ(cli.config.listen, "127.0.0.1:18080");
  EXPECT_EQ(cli.config.threads, 3);
  EXPECT_EQ(cli.config.cpu_affinity, CpuAffinity::kAuto);
  EXPECT_EQ(cli.config.tracks.size(), 2U);

  // The operator edits the file; a reload reads it and applies the same flags again.
  std::string edited = kFile;
  edited.replace(edited.find("stable: 95, canary: 5"), 21, "stable: 50, canary: 50");
  edited.replace(edited.find("threads: 1"), 10, "threads: 1\ncpu_affinity: none");
  write(edited);
  const auto reloaded = reload_gateway_config(cli);
  ASSERT_TRUE(reloaded) << reloaded.error().message;
  EXPECT_EQ(reloaded->threads, 3);
  EXPECT_EQ(reloaded->cpu_affinity, CpuAffinity::kAuto);
  for (const auto& w : reloaded->route.weights) EXPECT_EQ(w.weight, 50) << w.track;
}

TEST_F(GatewayCliFile, ABadFileNamesTheFileAndTheProblem) {
  write(std::string(kFile) + "cpu_affinity: pinned\n");
  const auto cli = parse({"--config", file_});
  EXPECT_FALSE(cli.run);
  EXPECT_EQ(cli.exit_code, 2);
  EXPECT_NE(cli.message.find(file_ + ": "), std::string::npos) << cli.message;
  EXPECT_NE(cli.message.find("cpu_affinity: must be none or auto, got 'pinned'"), std::string::npos)
      << cli.message;
}

TEST_F(GatewayCliFile, AReloadOfABrokenFileFailsAndSaysWhy) {
  write(kFile);
  const auto cli = parse({"--config", file_});
  ASSERT_TRUE(cli.run) << cli.message;
  write("tracks: [this is not a mapping\n");
  const auto reloaded = reload_gateway_config(cli);
  ASSERT_FALSE(reloaded);
  EXPECT_NE(reloaded.error().message.find(file_), std::string::npos) << reloaded.error().message;
}

}  // namespace
}  // namespace sg::gateway
