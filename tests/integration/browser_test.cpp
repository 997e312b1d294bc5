// The /watch page in Debian's headless Chromium, driven by playwright-core
// (tests/browser/watch_page.cjs), through the gateway with signed playback.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>

#include "integration/gateway_fixture.hpp"
#include "support/media_clips.hpp"

namespace sg::test {
namespace {

namespace json = boost::json;
using boost::beast::http::verb;

class BrowserTest : public GatewayFixture {
 protected:
  std::string upload(const std::string& bytes) {
    const std::vector<std::pair<std::string, std::string>> auth = {
        {"Authorization", std::string("Bearer ") + kToken}};
    auto created = http_call(port_, {verb::post, "/api/v1/content", R"({"title":"clip"})", auth});
    EXPECT_EQ(created.status, 201) << created.body;
    const std::string id(json::parse(created.body).at("id").as_string());
    auto put = http_call(port_, {verb::put, "/api/v1/content/" + id + "/media", bytes, auth});
    EXPECT_EQ(put.status, 200) << put.body;
    return id;
  }
};

TEST_F(BrowserTest, WatchPagePlaysPastFiveSecondsSeeksAndPlaysOn) {
  ServerSetup s;
  s.storage = "sqlite:" + (dir_.path() / "shared.sqlite").string();
  s.extra_args = {"--playback-keys", "kb:" + std::string(40, 'b')};
  auto replica = ServerProcess::start(s, dir_.path());
  ASSERT_TRUE(replica) << replica.error().message;
  const std::string endpoint = "127.0.0.1:" + std::to_string((*replica)->port());
  ASSERT_NO_FATAL_FAILURE(start_gateway("tracks:\n  stable: { endpoints: [" + endpoint +
                                        "] }\nroute: { weights: { stable: 100 } }\n"));
  ClipSpec spec;
  spec.seconds = 20;
  const auto clip = dir_.path() / "clip.mp4";
  ASSERT_TRUE(make_test_clip(clip, spec));
  const std::string playable = upload(read_file(clip));
  const std::string broken = upload(std::string(100000, 'x'));

  SpawnOptions o;
  o.argv = {"node", std::string(SG_SOURCE_DIR) + "/tests/browser/watch_page.cjs",
            "http://127.0.0.1:" + std::to_string(port_), playable, broken};
  o.log_file = dir_.path() / "browser.log";
  const auto start = std::chrono::steady_clock::now();
  Status st = run_command(o, std::chrono::seconds(120));
  const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(st) << st.error().message << "\n" << tail_of(o.log_file, 6000);
  std::cout << "browser test took " << took << " s:\n" << tail_of(o.log_file, 2000) << std::endl;

  // The real hls.js session shows in the gateway's per-track CMCD figures (issue 23): it sent
  // well-formed CMCD with its requests, started a session on the track that served it, and
  // reported its measured throughput.
  const std::string metrics = http_get(admin_port_, "/metrics").body;
  auto figure = [&](const std::string& name) {
    const std::string prefix = name + "{route=\"default\",track=\"stable\"} ";
    const auto at = metrics.find(prefix);
    return at == std::string::npos ? -1.0 : std::strtod(metrics.c_str() + at + prefix.size(), nullptr);
  };
  const double cmcd = figure("streamgate_gateway_cmcd_requests_total");
  // A counter's series appears with its first increment: absent means none malformed.
  const double malformed = std::max(0.0, figure("streamgate_gateway_cmcd_malformed_total"));
  const double segments = figure("streamgate_gateway_segment_requests_total");
  const double started = figure("streamgate_gateway_sessions_started_total");
  const double minutes = figure("streamgate_gateway_session_minutes_total");
  const double mtp = figure("streamgate_gateway_throughput_reports_total");
  std::printf(
      "[ measured ] hls.js through the gateway, track stable: %.0f CMCD requests (%.0f "
      "malformed), %.0f segment requests, %.0f sessions started, %.0f session-minutes, %.0f "
      "throughput reports\n",
      cmcd, malformed, segments, started, minutes, mtp);
  EXPECT_GT(cmcd, 0);
  EXPECT_EQ(malformed, 0);
  EXPECT_GT(segments, 2);
  EXPECT_GE(started, 1);
  EXPECT_GE(minutes, 1);
  EXPECT_GT(mtp, 0) << "hls.js reports mtp once it has measured a download";
}

}  // namespace
}  // namespace sg::test
