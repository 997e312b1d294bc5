// The /watch page in Debian's headless Chromium, driven by playwright-core
// (tests/browser/watch_page.cjs), through the gateway with signed playback.
#include <gtest/gtest.h>

#include <boost/json.hpp>

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
}

}  // namespace
}  // namespace sg::test
