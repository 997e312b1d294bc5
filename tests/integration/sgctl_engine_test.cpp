// The two operator scenarios against the real local platform: a canary whose release
// is killed 20 s after every start (HTTP hides it: the gateway retries and ejects), and the
// README tour's first deploys on an idle platform (nobody sends requests), with the runbook's
// scripts and their documented arguments. The idle tests use the default windows (60 s
// verification, 60 s steps): each runs alone in its own ctest entry so they can overlap.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "common/json_text.hpp"
#include "integration/load_generator.hpp"
#include "integration/sgctl_fixture.hpp"

namespace sg::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::vector<std::int64_t> pids_of(const json::value& status, const std::string& track) {
  std::vector<std::int64_t> out;
  if (!status.is_object() || !status.at("tracks").as_object().contains(track)) return out;
  for (const auto& r : status.at("tracks").at(track).at("replicas").as_array()) {
    if (r.at("pid").is_int64()) out.push_back(r.at("pid").as_int64());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class SgctlEngineTest : public SgctlFixture {};

TEST_F(SgctlEngineTest, CrashLoopingCanaryIsRolledBackWithinAMinute) {
  ASSERT_NO_FATAL_FAILURE(add_release("v1"));
  // Killed (SIGKILL) 20 s after every start, by coreutils' timeout.
  auto add = sgctl({"release", "add", "v2-crashy", "--exec", "/usr/bin/timeout", "--", "-s",
                    "KILL", "20", SG_SERVER_BIN});
  ASSERT_EQ(add.exit_code, 0) << add.output;
  ASSERT_NO_FATAL_FAILURE(start_up("v1"));
  const json::value before = status_json();
  const auto stable_pids = pids_of(before, "blue");
  ASSERT_EQ(stable_pids.size(), 2u) << json_text(before);
  LoadGenerator::Options o;
  o.port = port_;
  o.target = "/api/v1/health";
  o.connections = 8;
  o.duration = 150s;
  o.max_requests = 5000000;
  LoadGenerator load(o);
  load.start();
  std::this_thread::sleep_for(1s);
  const auto t0 = Clock::now();
  auto deploy = sgctl({"deploy", "canary", "v2-crashy"}, 120s);
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  std::this_thread::sleep_for(1s);
  load.stop();
  const LoadResult total = load.finish();
  EXPECT_EQ(deploy.exit_code, 1) << deploy.output << up_log();
  EXPECT_NE(deploy.output.find("rolled_back"), std::string::npos) << deploy.output;
  EXPECT_NE(deploy.output.find("restart"), std::string::npos) << deploy.output;
  EXPECT_LT(took, 60.0) << deploy.output;
  const double failed = static_cast<double>(total.non_2xx + total.connection_errors) /
                        static_cast<double>(std::max<std::uint64_t>(1, total.requests));
  EXPECT_LE(failed, 0.002) << describe(total);
  const json::value after = status_json();
  ASSERT_TRUE(after.is_object());
  EXPECT_EQ(after.at("active").at("release").as_string(), "v1");
  EXPECT_EQ(pids_of(after, "blue"), stable_pids) << "the stable track is unchanged";
  auto history = sgctl({"history", "-o", "json"});
  const json::value h = json::parse(history.output);
  const auto& details = h.as_array()[0].at("evidence").at("details").as_object();
  // timeout(1) signals its whole process group, itself included.
  EXPECT_EQ(details.at("exit_reason").as_string(), "signal 9 (Killed)") << history.output;
  EXPECT_FALSE(details.at("log_tail").as_string().empty());
  std::printf("crash-looping canary: deploy exited %d after %.1f s; %s (%.3f%% failed)\n",
              deploy.exit_code, took, describe(total).c_str(), 100 * failed);
}

double evidence_number(const json::value& deployment, const char* key) {
  const auto& numbers = deployment.at("evidence").at("numbers").as_object();
  return numbers.contains(key) ? numbers.at(key).to_number<double>() : -1;
}

// The README tour: `scripts/run`, then the runbook's blue-green script with nobody sending
// requests. Synthetic GETs verify the new colour; exit 0; the history says so.
TEST_F(SgctlEngineTest, IdlePlatformBlueGreenScriptSucceedsOnSyntheticEvidence) {
  ASSERT_NO_FATAL_FAILURE(add_release("v1"));
  ASSERT_NO_FATAL_FAILURE(add_release("v2"));
  ASSERT_NO_FATAL_FAILURE(start_up("v1"));
  const auto t0 = Clock::now();
  auto deploy = script("blue-green-deploy.sh", {"streamgate:v2", "300"}, 300s);
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_EQ(deploy.exit_code, 0) << deploy.output << up_log();
  auto promote = sgctl({"promote"});  // end the 300 s scale-down delay now
  EXPECT_EQ(promote.exit_code, 0) << promote.output;
  auto history = sgctl({"history", "-o", "json"});
  ASSERT_EQ(history.exit_code, 0) << history.output;
  const json::value d = json::parse(history.output).as_array()[0];
  EXPECT_EQ(d.at("result").as_string(), "promoted") << history.output;
  const double synthetic = evidence_number(d, "synthetic_requests");
  EXPECT_GT(synthetic, 1000) << history.output;
  EXPECT_EQ(synthetic, evidence_number(d, "requests")) << "every request was synthetic";
  auto table = sgctl({"history"});
  EXPECT_NE(table.output.find("SYNTHETIC"), std::string::npos) << table.output;
  std::printf("idle blue-green: exit 0 after %.1f s, %.0f synthetic requests\n", took, synthetic);
}

TEST_F(SgctlEngineTest, IdlePlatformCanaryScriptPromotesOnSyntheticEvidence) {
  ASSERT_NO_FATAL_FAILURE(add_release("v1"));
  ASSERT_NO_FATAL_FAILURE(add_release("v2"));
  ASSERT_NO_FATAL_FAILURE(start_up("v1"));
  const auto t0 = Clock::now();
  auto deploy = script("canary-deploy.sh", {"streamgate:v2", "300", "60"}, 600s);
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_EQ(deploy.exit_code, 0) << deploy.output << up_log();
  auto history = sgctl({"history", "-o", "json"});
  const json::value d = json::parse(history.output).as_array()[0];
  EXPECT_EQ(d.at("result").as_string(), "promoted") << history.output;
  EXPECT_GT(evidence_number(d, "synthetic_requests"), 500) << history.output;
  const json::value st = status_json();
  EXPECT_EQ(st.at("active").at("release").as_string(), "v2") << json_text(st);
  std::printf("idle canary: exit 0 after %.1f s, %.0f synthetic requests\n", took,
              evidence_number(d, "synthetic_requests"));
}

}  // namespace
}  // namespace sg::test
