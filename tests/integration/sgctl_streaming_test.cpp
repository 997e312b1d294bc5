// Streaming-aware releases (issue 23) on the real local platform: `sgctl up` with the real
// gateway and streamgate-server replicas serving HLS of a real clip, simulated viewers
// (tests/support/viewer_load.hpp) fetching playlists and segments at 4x media pace with CMCD,
// and paced API traffic beside them. A canary whose segments are slow, or fail, while its API
// answers are fine, is rolled back on the streaming signals alone; a healthy canary under the
// same load is promoted, and the viewers who started on the old version play to their end.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <utility>
#include <cstdio>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "integration/content_upload.hpp"
#include "integration/paced_load.hpp"
#include "integration/sgctl_fixture.hpp"
#include "support/media_clips.hpp"
#include "support/viewer_load.hpp"

namespace sg::test {
namespace {

namespace json = boost::json;
using boost::beast::http::verb;
using namespace std::chrono_literals;

// 1-s segments (keyframes every second), so a session has 24 segments and the judge sees
// enough of them in a few seconds of viewing.
const std::vector<std::string> kServerArgs = {"--hls-segment-seconds", "1"};

class StreamingRolloutTest : public SgctlFixture {
 protected:
  static void SetUpTestSuite() {
    clips_ = std::make_unique<TempDir>("sg-it-stream-rollout-clips");
    ClipSpec spec;
    spec.seconds = 24;
    spec.gop_frames = 25;
    Status st = make_test_clip(clips_->path() / "clip.mp4", spec);
    ASSERT_TRUE(st) << st.error().message;
  }
  static void TearDownTestSuite() { clips_.reset(); }

  void add_server_release(const std::string& name, std::vector<std::string> chaos = {}) {
    std::vector<std::string> args = kServerArgs;
    args.insert(args.end(), chaos.begin(), chaos.end());
    ASSERT_NO_FATAL_FAILURE(add_release(name, args));
  }

  // Uploads the clip through the gateway with the platform's API token; its content id.
  std::string upload() {
    auto id = upload_content(port_, read_api_token(state_), clips_->path() / "clip.mp4");
    EXPECT_TRUE(id) << id.error().message;
    return id ? *id : std::string();
  }

  ViewerLoadOptions viewers(const std::string& content) const {
    ViewerLoadOptions o;
    o.port = port_;
    o.content_id = content;
    o.viewers = 16;
    o.speed = 4;
    o.buffer_target_s = 6;
    o.duration = 240s;  // bounded; the tests stop it once the rollout ended
    o.threads = 2;
    return o;
  }

  // The platform serving v1, the clip uploaded, and the viewers and API traffic (up to ~400
  // requests a second: with 1.5 % of segments failing, a canary's error rate over all its
  // requests stays well under the request checks' limits) running for 5 s; `canary` is added
  // as a release with `chaos` flags.
  void start_viewing(const std::string& canary, const std::vector<std::string>& chaos = {}) {
    ASSERT_NO_FATAL_FAILURE(add_server_release("v1"));
    ASSERT_NO_FATAL_FAILURE(add_server_release(canary, chaos));
    ASSERT_NO_FATAL_FAILURE(start_up("v1"));
    const std::string content = upload();
    ASSERT_FALSE(content.empty());
    viewer_options_ = viewers(content);
    viewers_ = std::make_unique<ViewerLoad>(viewer_options_);
    ASSERT_TRUE(viewers_->start());
    api_ = std::make_unique<PacedLoad>(port_, 8, 240s);
    std::this_thread::sleep_for(5s);
  }

  // Runs `sgctl deploy canary RELEASE` with the tests' steps; its result and duration (s).
  std::pair<CommandResult, double> deploy_canary(const std::string& release, int step_s) {
    const auto t0 = std::chrono::steady_clock::now();
    auto deploy = sgctl({"deploy", "canary", release, "--steps", "50,100", "--step-interval",
                         std::to_string(step_s), "--ready-stability", "1", "--timeout", "60",
                         "--synthetic-rps", "0"},
                        180s);
    return {deploy, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
  }

  // The last deployment's record from `sgctl history -o json`.
  json::object last_deployment() {
    auto history = sgctl({"history", "-o", "json"});
    EXPECT_EQ(history.exit_code, 0) << history.output;
    const json::value h = json::parse(history.output);
    return h.as_array().back().as_object();
  }

  static double number(const json::object& deployment, const char* name) {
    const auto* evidence = deployment.if_contains("evidence");
    if (evidence == nullptr || !evidence->is_object()) return -1;
    const auto* numbers = evidence->as_object().if_contains("numbers");
    if (numbers == nullptr) return -1;
    const auto* n = numbers->as_object().if_contains(name);
    return n == nullptr ? -1 : n->to_number<double>();
  }

  void TearDown() override {
    viewers_.reset();
    api_.reset();
    SgctlFixture::TearDown();
  }

  static inline std::unique_ptr<TempDir> clips_;
  ViewerLoadOptions viewer_options_;
  std::unique_ptr<ViewerLoad> viewers_;
  std::unique_ptr<PacedLoad> api_;
};

struct BadSegments {
  std::string name;
  std::vector<std::string> chaos;
  std::string expected_reason;
};

void PrintTo(const BadSegments& bad, std::ostream* os) { *os << bad.name; }

class BadSegmentsCanaryTest : public StreamingRolloutTest,
                              public ::testing::WithParamInterface<BadSegments> {};

TEST_P(BadSegmentsCanaryTest, RolledBackOnStreamingSignalsAloneWhileItsApiIsFine) {
  const BadSegments& bad = GetParam();
  ASSERT_NO_FATAL_FAILURE(start_viewing("v2-" + bad.name, bad.chaos));
  const auto [deploy, took] = deploy_canary("v2-" + bad.name, 30);
  viewers_->stop();
  const ViewerLoadResults seen = viewers_->wait();
  EXPECT_EQ(deploy.exit_code, 1) << deploy.output << up_log();
  const json::object d = last_deployment();
  const std::string reason(d.at("reason").as_string());
  EXPECT_EQ(d.at("result").as_string(), "rolled_back") << reason;
  EXPECT_NE(reason.find(bad.expected_reason), std::string::npos) << reason;
  // Caught by the streaming signals alone: the request checks were within their thresholds.
  const double error_rate = number(d, "error_rate"), p95 = number(d, "p95_ms");
  EXPECT_GE(error_rate, 0);
  EXPECT_LT(error_rate, number(d, "threshold_error_rate")) << reason;
  EXPECT_LT(p95, number(d, "threshold_latency_ms")) << reason;
  EXPECT_EQ(reason.find("of requests slower"), std::string::npos) << reason;
  EXPECT_EQ(reason.find("vs stable"), std::string::npos) << reason;
  EXPECT_GE(number(d, "segments"), 50) << reason;
  // The rolled-back canary's viewers move to stable (sessions on two tracks); nobody else may.
  const auto canary = seen.tracks.find("canary");
  ASSERT_NE(canary, seen.tracks.end()) << describe(seen);
  EXPECT_LE(seen.sessions_on_several_tracks, canary->second.sessions) << describe(seen);
  std::printf(
      "[ measured ] canary %s under %d viewers + %llu API requests: rolled back %.1f s after "
      "the deploy command; request checks: error rate "
      "%.3f%% (threshold %.1f%%), P95 %.0f ms (threshold %.0f ms); segments %.0f, segment "
      "error rate %.2f%%, segment TTFB P50 %.0f / P95 %.0f ms, rebuffering %.2f/min; "
      "reason: %s\n[ measured ] viewers: %s\n",
      bad.name.c_str(), viewer_options_.viewers,
      static_cast<unsigned long long>(api_->sent()),
      took, 100 * error_rate,
      100 * number(d, "threshold_error_rate"), p95, number(d, "threshold_latency_ms"),
      number(d, "segments"), 100 * number(d, "segment_error_rate"),
      number(d, "segment_ttfb_p50_ms"), number(d, "segment_ttfb_p95_ms"),
      number(d, "rebuffer_per_minute"), reason.c_str(), describe(seen).c_str());
  auto st = status_json();
  ASSERT_TRUE(st.is_object());
  EXPECT_EQ(st.at("active").at("release").as_string(), "v1");
}

INSTANTIATE_TEST_SUITE_P(
    Drills, BadSegmentsCanaryTest,
    ::testing::Values(BadSegments{"slow", {"--chaos-segment-delay-ms", "400"},
                                  "segments slower than 300 ms to first byte"},
                      BadSegments{"failing", {"--chaos-segment-error-rate", "0.015"},
                                  "segment error rate"}),
    [](const auto& info) { return info.param.name; });

TEST_F(StreamingRolloutTest, HealthyCanaryUnderViewingLoadIsPromotedAndViewersPlayToTheEnd) {
  ASSERT_NO_FATAL_FAILURE(start_viewing("v2"));
  const auto [deploy, took] = deploy_canary("v2", 10);
  // Viewers keep watching through the promotion and its drain, then stop.
  std::this_thread::sleep_for(8s);
  viewers_->stop();
  const ViewerLoadResults seen = viewers_->wait();
  EXPECT_EQ(deploy.exit_code, 0) << deploy.output << up_log();
  const json::object d = last_deployment();
  const std::string reason(d.at("reason").as_string());
  EXPECT_EQ(d.at("result").as_string(), "promoted") << reason;
  const TrackViewing all = seen.total();
  EXPECT_EQ(all.sessions_failed, 0u) << describe(seen);
  EXPECT_EQ(all.segments_failed, 0u) << describe(seen);
  EXPECT_EQ(seen.connection_errors, 0u) << describe(seen);
  EXPECT_EQ(seen.sessions_on_several_tracks, 0u) << describe(seen);
  EXPECT_GT(all.sessions_completed, 0u) << describe(seen);
  std::printf(
      "[ measured ] healthy canary under %d viewers + %llu API requests: promoted %.1f s after "
      "the deploy command; last verdict: segments %.0f, segment error rate %.2f%%, TTFB P95 "
      "%.0f ms, rebuffering %.2f/min (stable %.2f); reason: %s\n[ measured ] viewers: %s\n",
      viewer_options_.viewers, static_cast<unsigned long long>(api_->sent()), took,
      number(d, "segments"), 100 * number(d, "segment_error_rate"),
      number(d, "segment_ttfb_p95_ms"), number(d, "rebuffer_per_minute"),
      number(d, "stable_rebuffer_per_minute"), reason.c_str(), describe(seen).c_str());
}

}  // namespace
}  // namespace sg::test
