#include "server/config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <vector>

namespace sg::server {
namespace {

ConfigOutcome parse(std::vector<const char*> args) {
  args.insert(args.begin(), "streamgate-server");
  return parse_server_config(static_cast<int>(args.size()), args.data());
}

class ServerConfigTest : public ::testing::Test {
 protected:
  void TearDown() override {
    unsetenv("STREAMGATE_LISTEN");
    unsetenv("STREAMGATE_API_TOKENS");
    if (!yaml_.empty()) std::filesystem::remove(yaml_);
  }
  std::string write_yaml(const std::string& text) {
    yaml_ = (std::filesystem::temp_directory_path() /
             ("sg-config-" + std::to_string(::getpid()) + ".yaml"))
                .string();
    std::ofstream(yaml_) << text;
    return yaml_;
  }
  std::string yaml_;
};

TEST_F(ServerConfigTest, DefaultsAreUsable) {
  auto o = parse({});
  ASSERT_TRUE(o.run) << o.message;
  EXPECT_EQ(o.config.listen_port, 9090);
  EXPECT_EQ(o.config.storage, "sqlite:streamgate.db");
  EXPECT_EQ(o.config.cache, "memory");
  EXPECT_DOUBLE_EQ(o.config.drain_delay_seconds, 5);
  EXPECT_DOUBLE_EQ(o.config.grace_period_seconds, 25);
}

TEST_F(ServerConfigTest, FlagsBeatEnvironmentWhichBeatsYaml) {
  auto path = write_yaml("listen: 127.0.0.1:7001\nversion_label: v-yaml\ncache-ttl: 9\n");
  setenv("STREAMGATE_LISTEN", "127.0.0.1:7002", 1);
  auto o = parse({"--config", path.c_str(), "--version-label", "v-flag"});
  ASSERT_TRUE(o.run) << o.message;
  EXPECT_EQ(o.config.listen_port, 7002);        // env over yaml
  EXPECT_EQ(o.config.version_label, "v-flag");  // flag over yaml
  EXPECT_EQ(o.config.cache_ttl_seconds, 9u);    // yaml over default
}

TEST_F(ServerConfigTest, TokensComeFromRepeatedFlagsOrCommaSeparatedEnv) {
  auto o = parse({"--api-token", "token-one-1", "--api-token", "token-two-2"});
  ASSERT_TRUE(o.run) << o.message;
  EXPECT_EQ(o.config.api_tokens.size(), 2u);
  setenv("STREAMGATE_API_TOKENS", "token-aaa-1,token-bbb-2,token-ccc-3", 1);
  o = parse({});
  ASSERT_TRUE(o.run) << o.message;
  EXPECT_EQ(o.config.api_tokens.size(), 3u);
}

TEST_F(ServerConfigTest, InvalidValuesAreOneLineErrorsWithExitTwo) {
  for (auto args : std::vector<std::vector<const char*>>{{"--listen", "nonsense"},
                                                         {"--chaos-error-rate", "1.5"},
                                                         {"--chaos-segment-error-rate", "-0.1"},
                                                         {"--chaos-segment-delay-ms", "60001"},
                                                         {"--storage", "mysql://x"},
                                                         {"--cache", "memcached"},
                                                         {"--drain-delay", "abc"},
                                                         {"--no-such-flag"},
                                                         {"--api-token", "short"}}) {
    auto o = parse(args);
    EXPECT_FALSE(o.run) << args[0];
    EXPECT_EQ(o.exit_code, 2) << args[0];
    EXPECT_EQ(std::count(o.message.begin(), o.message.end(), '\n'), 1) << o.message;
  }
}

TEST_F(ServerConfigTest, UnknownYamlKeyIsRejected) {
  auto path = write_yaml("listen: 127.0.0.1:7001\nlisten_port: 3\n");
  auto o = parse({"--config", path.c_str()});
  EXPECT_FALSE(o.run);
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.message.find("unknown key 'listen_port'"), std::string::npos) << o.message;
}

TEST_F(ServerConfigTest, OddYamlKeysAreOneLineErrorsNotCrashes) {
  auto list_key = parse({"--config", write_yaml("? [a, b]\n: 1\n").c_str()});
  EXPECT_FALSE(list_key.run);
  EXPECT_EQ(list_key.exit_code, 2);
  EXPECT_NE(list_key.message.find("keys must be plain names"), std::string::npos)
      << list_key.message;
  auto newline_key = parse({"--config", write_yaml("\"a\\nb\": 1\n").c_str()});
  EXPECT_FALSE(newline_key.run);
  EXPECT_EQ(newline_key.message.find('\n'), newline_key.message.size() - 1)
      << "two lines: " << newline_key.message;
  EXPECT_NE(newline_key.message.find("unknown key 'a\\nb'"), std::string::npos)
      << newline_key.message;
}

TEST_F(ServerConfigTest, HelpDocumentsEveryContractFlagWithItsEnvironmentVariable) {
  auto o = parse({"--help"});
  EXPECT_FALSE(o.run);
  EXPECT_EQ(o.exit_code, 0);
  for (const char* flag : {"--listen", "--version-label", "--storage", "--cache", "--media-dir",
                           "--api-token", "--drain-delay", "--grace-period", "--chaos-error-rate",
                           "--chaos-latency-ms", "--chaos-segment-error-rate",
                           "--chaos-segment-delay-ms", "STREAMGATE_CHAOS_SEGMENT_DELAY_MS",
                           "STREAMGATE_API_TOKENS"}) {
    EXPECT_NE(o.message.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace sg::server

namespace sg::server {
namespace {

TEST(PlaybackConfig, KeysComeFromTheEnvironmentAndBadOnesNameTheKeyButNotTheSecret) {
  const std::string secret(40, 's');
  setenv("STREAMGATE_PLAYBACK_KEYS", ("k2:" + secret + ",k1:" + secret).c_str(), 1);
  auto ok = parse({"--max-streams", "5"});
  unsetenv("STREAMGATE_PLAYBACK_KEYS");
  ASSERT_TRUE(ok.run) << ok.message;
  EXPECT_EQ(ok.config.playback_keys, "k2:" + secret + ",k1:" + secret);
  EXPECT_EQ(ok.config.max_streams, 5u);
  EXPECT_EQ(ok.config.playback_ttl_seconds, 1800u);

  auto bad = parse({"--playback-keys", "k1:tooshort-secret"});
  EXPECT_FALSE(bad.run);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.message,
            "streamgate-server: --playback-keys: playback key #1 ('k1'): the secret must be at "
            "least 32 bytes\n");
  EXPECT_EQ(bad.message.find("tooshort"), std::string::npos);
  EXPECT_EQ(parse({"--max-streams", "0"}).message,
            "streamgate-server: --max-streams must be 1..10000000\n");
  EXPECT_EQ(parse({"--hls-segment-seconds", "0.5"}).message,
            "streamgate-server: --hls-segment-seconds must be 1..30\n");
  EXPECT_EQ(parse({"--help"}).message.find(secret), std::string::npos);
}

}  // namespace
}  // namespace sg::server
