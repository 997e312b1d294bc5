// Session-aware draining on the real local platform (issue 23): viewers that started on the
// old version play to their end through a blue-green promotion, every segment from the old
// track and without error, and the old replicas stop only once those sessions went idle for
// --session-drain-idle; a track nobody watches stops at once.
//
// Viewers are a small in-test loop: POST playback, the master and media playlists, the init
// section, then the clip's segments at media pace (each after the previous one's EXTINF
// duration) with a CMCD sid, as a player does. Loopback only; every loop is bounded in count and
// time.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <fstream>
#include <mutex>
#include <regex>

#include "common/json_text.hpp"
#include "integration/content_upload.hpp"
#include "integration/load_generator.hpp"
#include "integration/sgctl_fixture.hpp"
#include "support/media_clips.hpp"

namespace sg::test {
namespace {

namespace json = boost::json;
using boost::beast::http::verb;
using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;

const std::string kPlaybackKey = "ka:" + std::string(40, 'k');
// Above the clip's 4 s segment duration: a player's gap between requests at media pace.
constexpr int kDrainIdleS = 6;

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "2026-12-06T04:01:02.345Z" -> Unix ms (the events' ts).
std::int64_t ms_of(const std::string& ts) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(ts.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7) {
    return -1;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms;
}

// What one viewer saw.
struct Viewing {
  std::string sid;
  int segments = 0;                   // segment responses (init included)
  int failures = 0;                   // non-2xx answers or transport errors
  std::map<std::string, int> tracks;  // X-StreamGate-Track of every response
  std::map<std::string, int> versions;
  std::int64_t first_segment_ms = 0;
  std::int64_t last_segment_ms = 0;
  std::string first_failure;
};

class SgctlDrainTest : public SgctlFixture {
 protected:
  static void SetUpTestSuite() {
    clips_ = std::make_unique<TempDir>("sg-it-drain-clips");
    Status st = make_test_clip(clips_->path() / "clip.mp4");
    ASSERT_TRUE(st) << st.error().message;
  }
  static void TearDownTestSuite() { clips_.reset(); }

  // Uploads the 12 s clip through the gateway; its content id.
  std::string upload() {
    auto id = upload_content(port_, read_api_token(state_), clips_->path() / "clip.mp4");
    EXPECT_TRUE(id) << id.error().message;
    return id ? *id : std::string();
  }

  // One viewer of content `id` with CMCD session `sid`: plays the clip's segments at media
  // pace, and the clip again while `keep_playing` holds (at most 4 times, 60 s).
  void watch(const std::string& id, Viewing& v, std::atomic<int>& started,
             const std::atomic<bool>& keep_playing) {
    const std::string cmcd_sid = "sid%3D%22" + v.sid + "%22";
    auto get = [&](const std::string& target, const std::string& cmcd, const Headers& h = {}) {
      const char sep = target.find('?') == std::string::npos ? '?' : '&';
      auto r = http_get(port_, target + sep + "CMCD=" + cmcd + "%2C" + cmcd_sid, h);
      v.tracks[r.header("X-StreamGate-Track")]++;
      v.versions[r.header("X-StreamGate-Version")]++;
      if (r.status / 100 != 2) {
        if (v.failures++ == 0) {
          v.first_failure = target + ": " + std::to_string(r.status) + " " + r.error + r.body;
        }
      }
      return r;
    };
    auto pb = http_call(port_, {verb::post, "/api/v1/content/" + id + "/playback"});
    ASSERT_EQ(pb.status, 200) << pb.body;
    const std::string master(json::parse(pb.body).at("master_url").as_string());
    const std::string base = "/api/v1/content/" + id + "/hls/";
    auto m = get(master, "ot%3Dm");
    ASSERT_EQ(m.status, 200) << m.body;
    std::smatch match;
    ASSERT_TRUE(std::regex_search(m.body, match, std::regex("\n(media[^\n]*)")));
    auto media = get(base + match[1].str(), "ot%3Dm");
    ASSERT_EQ(media.status, 200) << media.body;
    struct Segment {
      std::string uri, range;
      std::chrono::milliseconds duration;
    };
    std::vector<Segment> segments;
    const std::regex entry("#EXTINF:([0-9.]+),\n#EXT-X-BYTERANGE:(\\d+)@(\\d+)\n([^\n]+)");
    for (auto it = std::sregex_iterator(media.body.begin(), media.body.end(), entry);
         it != std::sregex_iterator(); ++it) {
      const long long len = std::stoll((*it)[2]), off = std::stoll((*it)[3]);
      const auto ms = static_cast<std::int64_t>(std::stod((*it)[1]) * 1000);
      segments.push_back({(*it)[4],
                          "bytes=" + std::to_string(off) + "-" + std::to_string(off + len - 1),
                          std::chrono::milliseconds(std::clamp<std::int64_t>(ms, 100, 10000))});
    }
    ASSERT_GE(segments.size(), 2u) << media.body;  // the 12 s clip
    auto init = get(base + segments[0].uri, "ot%3Di", {{"Range", "bytes=0-99"}});
    ASSERT_EQ(init.status, 206) << init.body;
    ++v.segments;
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    for (int round = 0; round < 4; ++round) {
      for (const auto& seg : segments) {
        auto s = get(base + seg.uri, "ot%3Dv%2Cd%3D" + std::to_string(seg.duration.count()),
                     {{"Range", seg.range}});
        ++v.segments;
        v.last_segment_ms = unix_ms_now();
        if (v.first_segment_ms == 0) {
          v.first_segment_ms = v.last_segment_ms;
          ++started;
        }
        std::this_thread::sleep_for(seg.duration);  // media pace: a segment per its duration
      }
      if (!keep_playing.load() || std::chrono::steady_clock::now() > give_up) break;
    }
  }

  // The events of the control plane, oldest first.
  json::array events() {
    auto ev = sgctl({"events", "--tail", "500", "-o", "json"});
    if (ev.exit_code != 0) return {};
    boost::system::error_code ec;
    auto v = json::parse(ev.output, ec);
    return ec || !v.is_array() ? json::array{} : v.as_array();
  }

  // The first event of `kind` whose message holds every one of `parts`; its ts in Unix ms.
  std::optional<std::pair<std::int64_t, std::string>> find_event(
      const json::array& evs, const std::string& kind, const std::vector<std::string>& parts) {
    for (const auto& e : evs) {
      if (e.at("kind").as_string() != kind) continue;
      const std::string msg(e.at("message").as_string());
      bool all = true;
      for (const auto& p : parts) all = all && msg.find(p) != std::string::npos;
      if (all) return std::pair{ms_of(std::string(e.at("ts").as_string())), msg};
    }
    return std::nullopt;
  }

  // Waits (at most `limit`) for the event; nullopt when it never came.
  std::optional<std::pair<std::int64_t, std::string>> await_event(
      const std::string& kind, const std::vector<std::string>& parts, std::chrono::seconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (auto e = find_event(events(), kind, parts)) return e;
      std::this_thread::sleep_for(200ms);
    }
    return std::nullopt;
  }

  static inline std::unique_ptr<TempDir> clips_;
};

TEST_F(SgctlDrainTest, ViewersOnTheOldColourPlayToTheirEndThroughAPromotion) {
  ASSERT_NO_FATAL_FAILURE(add_release("v1", {"--playback-keys", kPlaybackKey}));
  ASSERT_NO_FATAL_FAILURE(add_release("v2", {"--playback-keys", kPlaybackKey}));
  ASSERT_NO_FATAL_FAILURE(add_release("v3", {"--playback-keys", kPlaybackKey}));
  ASSERT_NO_FATAL_FAILURE(
      start_up("v1", 1, true,
               {"--session-drain-idle", std::to_string(kDrainIdleS), "--session-drain-max", "90"}));
  const std::string id = upload();
  ASSERT_FALSE(id.empty());

  // Light API load (no session): the new colour's verification has organic traffic.
  LoadGenerator::Options lo;
  lo.port = port_;
  lo.target = "/api/v1/health";
  lo.connections = 2;
  lo.duration = 120s;
  lo.max_requests = 2000000;
  LoadGenerator load(lo);
  load.start();

  constexpr int kViewers = 3;
  std::vector<Viewing> viewings(kViewers);
  std::atomic<int> started{0};
  std::atomic<bool> keep_playing{true};
  std::vector<std::jthread> viewers;  // joined on every way out
  struct StopPlaying {  // destroyed before the threads join: a failed assertion ends them soon
    std::atomic<bool>& flag;
    ~StopPlaying() { flag = false; }
  } stop_playing{keep_playing};
  for (int i = 0; i < kViewers; ++i) {
    viewings[i].sid = "drain-viewer-" + std::to_string(i);
    viewers.emplace_back([&, i] { watch(id, viewings[i], started, keep_playing); });
  }
  for (int i = 0; i < 100 && started.load() < kViewers; ++i) std::this_thread::sleep_for(100ms);
  ASSERT_EQ(started.load(), kViewers) << up_log();

  // The promotion: v2 on green, all new traffic to green, blue (v1) scaled to zero at once.
  const auto deploy_began = unix_ms_now();
  auto deploy = sgctl({"deploy", "blue-green", "v2", "--verify", "1", "--ready-stability", "1",
                       "--scale-down-delay", "0"});
  const std::int64_t promoted_ms = unix_ms_now();
  keep_playing = false;  // each viewer ends its current pass through the clip
  for (auto& t : viewers) t.join();
  load.stop();
  LoadResult total = load.finish();
  ASSERT_EQ(deploy.exit_code, 0) << deploy.output << up_log();

  std::int64_t last_segment = 0;
  for (const auto& v : viewings) {
    EXPECT_EQ(v.failures, 0) << v.sid << ": " << v.first_failure;
    EXPECT_EQ(v.tracks.size(), 1u) << v.sid << " switched track mid-stream";
    EXPECT_EQ(v.tracks.count("blue"), 1u) << v.sid << " did not stay on blue";
    EXPECT_EQ(v.versions.size(), 1u) << v.sid;
    EXPECT_EQ(v.versions.count("v1"), 1u) << v.sid;
    EXPECT_GT(v.last_segment_ms, promoted_ms) << v.sid << " was done before the promotion";
    last_segment = std::max(last_segment, v.last_segment_ms);
  }
  // New traffic went to green: the load ends on v2.
  EXPECT_GT(total.by_header["v2"], 0u) << describe(total);
  EXPECT_EQ(total.non_2xx, 0u) << describe(total);

  // The journal: blue waited for its sessions, and stopped only after they were idle.
  auto stopped = await_event("replica_stopped", {"blue/v1"}, 30s);
  ASSERT_TRUE(stopped) << up_log();
  const auto evs = events();
  auto waiting = find_event(evs, "replica_draining", {"blue/v1", "waiting for"});
  auto idle = find_event(evs, "replica_draining", {"blue/v1", "sessions idle"});
  ASSERT_TRUE(waiting) << json_text(evs);
  ASSERT_TRUE(idle) << json_text(evs);
  EXPECT_NE(waiting->second.find("waiting for 3 sessions"), std::string::npos) << waiting->second;
  EXPECT_LT(waiting->first, last_segment) << "the wait began while they were still watching";
  // The gateway counts a session idle from its last answer, which the client read before it
  // noted the time: allow 300 ms for that order, never a whole second.
  EXPECT_GE(idle->first, last_segment + kDrainIdleS * 1000 - 300) << idle->second;
  EXPECT_GE(stopped->first, idle->first);
  const double wait_s = (idle->first - waiting->first) / 1000.0;
  const double after_last_s = (stopped->first - last_segment) / 1000.0;
  EXPECT_LT(after_last_s, kDrainIdleS + 8.0) << "stopped long after the sessions went idle";
  std::printf(
      "[ measured ] deploy %.1f s; blue waited %.1f s for its sessions; last segment -> "
      "sessions idle %.1f s -> stopped %.1f s after the last segment (idle %d s); %d viewers, "
      "%d segments each\n",
      (promoted_ms - deploy_began) / 1000.0, wait_s, (idle->first - last_segment) / 1000.0,
      after_last_s, kDrainIdleS, kViewers, viewings[0].segments);

  // A track nobody watches stops at once: v3 to blue, green (v2, no session) goes now.
  auto again = sgctl({"deploy", "blue-green", "v3", "--verify", "1", "--ready-stability", "1",
                      "--scale-down-delay", "0"});
  ASSERT_EQ(again.exit_code, 0) << again.output << up_log();
  auto green_stopped = await_event("replica_stopped", {"green/v2"}, 30s);
  ASSERT_TRUE(green_stopped) << up_log();
  const auto evs2 = events();
  auto green_drain = find_event(evs2, "replica_draining", {"green/v2"});
  ASSERT_TRUE(green_drain);
  EXPECT_NE(green_drain->second.find("no sessions"), std::string::npos) << green_drain->second;
  EXPECT_FALSE(find_event(evs2, "replica_draining", {"green/v2", "waiting for"}));
  const double green_s = (green_stopped->first - green_drain->first) / 1000.0;
  EXPECT_LT(green_s, 5.0) << "a track without sessions must stop as fast as before";
  std::printf("[ measured ] green (no sessions): draining -> stopped %.1f s\n", green_s);
}

// A rolled-back release is presumed broken: its viewers are not kept on it. A canary at 100 %
// takes three new viewers; `sgctl rollback` stops it at once (no wait for its sessions) and
// the viewers' next segments come from blue, without an error.
TEST_F(SgctlDrainTest, RolledBackCanarysViewersMoveToStableAtOnce) {
  ASSERT_NO_FATAL_FAILURE(add_release("v1", {"--playback-keys", kPlaybackKey}));
  ASSERT_NO_FATAL_FAILURE(add_release("v2", {"--playback-keys", kPlaybackKey}));
  ASSERT_NO_FATAL_FAILURE(
      start_up("v1", 1, true,
               {"--session-drain-idle", std::to_string(kDrainIdleS), "--session-drain-max", "90"}));
  const std::string id = upload();
  ASSERT_FALSE(id.empty());
  ChildProcess deploy = sgctl_async({"deploy", "canary", "v2", "--steps", "100", "--step-interval",
                                     "60", "--ready-stability", "1", "--timeout", "60"},
                                    "deploy.log");
  bool in_step = false;
  for (int i = 0; i < 300 && !in_step; ++i) {
    auto st = status_json();
    in_step = st.is_object() && st.at("rollout").is_object() &&
              st.at("rollout").at("phase").as_string() == "step";
    if (!in_step) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(in_step) << up_log();

  constexpr int kViewers = 3;
  std::vector<Viewing> viewings(kViewers);
  std::atomic<int> started{0};
  std::atomic<bool> keep_playing{false};  // one pass through the clip
  std::vector<std::jthread> viewers;
  for (int i = 0; i < kViewers; ++i) {
    viewings[i].sid = "moved-viewer-" + std::to_string(i);
    viewers.emplace_back([&, i] { watch(id, viewings[i], started, keep_playing); });
  }
  for (int i = 0; i < 100 && started.load() < kViewers; ++i) std::this_thread::sleep_for(100ms);
  ASSERT_EQ(started.load(), kViewers) << up_log();
  auto rollback = sgctl({"rollback"});
  ASSERT_EQ(rollback.exit_code, 0) << rollback.output << up_log();
  for (auto& t : viewers) t.join();
  auto status = deploy.wait_exit(60s);
  ASSERT_TRUE(status.has_value()) << tail_of(dir_.path() / "deploy.log");
  EXPECT_EQ(WEXITSTATUS(*status), 1) << tail_of(dir_.path() / "deploy.log");

  std::int64_t last_segment = 0;
  for (const auto& v : viewings) {
    EXPECT_EQ(v.failures, 0) << v.sid << ": " << v.first_failure;
    EXPECT_EQ(v.tracks.count("canary"), 1u) << v.sid << " started on the canary";
    EXPECT_EQ(v.tracks.count("blue"), 1u) << v.sid << " was moved to stable";
    last_segment = std::max(last_segment, v.last_segment_ms);
  }
  auto stopped = await_event("replica_stopped", {"canary/v2"}, 30s);
  ASSERT_TRUE(stopped) << up_log();
  auto drain = find_event(events(), "replica_draining", {"canary/v2"});
  ASSERT_TRUE(drain);
  EXPECT_NE(drain->second.find("sessions moved at once"), std::string::npos) << drain->second;
  EXPECT_LT(stopped->first, last_segment) << "the canary did not wait for its viewers";
  std::printf(
      "[ measured ] rolled-back canary: draining -> stopped %.1f s, %.1f s before the "
      "viewers' last segment\n",
      (stopped->first - drain->first) / 1000.0, (last_segment - stopped->first) / 1000.0);
}

TEST_F(SgctlDrainTest, UpRejectsBadSessionDrainFlagsWithOneLine) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--session-drain-idle", "0"}, "--session-drain-idle must be 1..600 seconds, got 0"},
      {{"--session-drain-max", "-1"}, "--session-drain-max must be 0 (off)..86400 seconds, got -1"},
      {{"--session-drain-idle", "60", "--session-drain-max", "30"},
       "--session-drain-idle (60 s) must not exceed --session-drain-max (30 s)"},
  };
  for (const auto& [flags, message] : cases) {
    std::vector<std::string> args = {"up", "--listen", "127.0.0.1:0"};
    args.insert(args.end(), flags.begin(), flags.end());
    auto r = sgctl(args, 20s);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_EQ(r.output, "sgctl: " + message + "\n");
  }
}

}  // namespace
}  // namespace sg::test
