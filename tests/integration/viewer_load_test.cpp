// ViewerLoad (tests/support/viewer_load.hpp), the simulated viewers for tests and drills,
// against a real streamgate-gateway in front of real streamgate-server replicas serving HLS
// of a real clip (12 s: three 4 s segments): what the viewers count per track equals what the
// gateway counts per track, sessions stay on their track, a healthy server gives no stalls,
// and a replica whose segments are slow (--chaos-segment-delay-ms) makes its viewers stall
// and report it (CMCD bs) to the gateway. Plus the player model alone, on a simulated clock.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "integration/content_upload.hpp"
#include "integration/gateway_fixture.hpp"
#include "support/media_clips.hpp"
#include "support/viewer_load.hpp"
#include "support/viewer_player.hpp"

namespace sg::test {
namespace {

namespace json = boost::json;
using boost::beast::http::verb;
using Headers = std::vector<std::pair<std::string, std::string>>;
using std::chrono::milliseconds;
const std::string kKey = "ka:" + std::string(40, 'k');

// The value of `name{route="default",track="TRACK"}` in a Prometheus exposition (0: absent).
double sample(const std::string& exposition, const std::string& name, const std::string& track) {
  const std::string prefix = name + "{route=\"default\",track=\"" + track + "\"} ";
  const auto at = exposition.find(prefix);
  if (at == std::string::npos) return 0;
  return std::strtod(exposition.c_str() + at + prefix.size(), nullptr);
}

class ViewerLoadTest : public GatewayFixture {
 protected:
  static void SetUpTestSuite() {
    clips_ = std::make_unique<TempDir>("sg-it-viewers-clips");
    Status st = make_test_clip(clips_->path() / "clip.mp4");
    ASSERT_TRUE(st) << st.error().message;
  }
  static void TearDownTestSuite() { clips_.reset(); }

  void add_replica(const std::string& label, std::vector<std::string> args = {}) {
    ServerSetup s;
    s.storage = "sqlite:" + (dir_.path() / "shared.sqlite").string();
    s.version_label = label;
    s.extra_args = {"--playback-keys", kKey};
    s.extra_args.insert(s.extra_args.end(), args.begin(), args.end());
    auto r = ServerProcess::start(s, dir_.path());
    ASSERT_TRUE(r) << r.error().message;
    replicas_[label].push_back(std::move(*r));
  }

  void start_two_tracks() {
    ASSERT_NO_FATAL_FAILURE(start_gateway("tracks:\n  stable: { endpoints: [" +
                                          endpoints("stable") + "] }\n  canary: { endpoints: [" +
                                          endpoints("canary") +
                                          "] }\nroute: { weights: { stable: 50, canary: 50 } }\n"));
  }

  // Uploads the clip through the gateway; its content id.
  std::string upload() {
    auto id = upload_content(port_, kToken, clips_->path() / "clip.mp4");
    EXPECT_TRUE(id) << id.error().message;
    return id ? *id : std::string();
  }

  ViewerLoadOptions options(const std::string& id) {
    ViewerLoadOptions o;
    o.port = port_;
    o.content_id = id;
    o.finish_grace = milliseconds(4000);
    o.max_requests = 20000;
    o.request_timeout = milliseconds(5000);
    return o;
  }

  // The gateway's /metrics once its per-track segment count equals what the viewers counted
  // (the gateway records a request after its last byte is sent, so it may lag by a moment).
  std::string metrics_matching(const ViewerLoadResults& r) {
    std::string m;
    for (int i = 0; i < 40; ++i) {
      m = http_get(admin_port_, "/metrics").body;
      bool all = true;
      for (const auto& [track, t] : r.tracks) {
        all = all && sample(m, "streamgate_gateway_segment_requests_total", track) ==
                         static_cast<double>(t.segment_requests());
      }
      if (all) break;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return m;
  }

  static void print(const char* label, const ViewerLoadResults& r) {
    for (const auto& [track, t] : r.tracks) {
      std::printf(
          "[ measured ] %s %s: %llu sessions (%llu completed), %llu segment requests, %llu stalls "
          "(%.1f s), startup p50 %.1f ms p95 %.1f ms, segment TTFB p50 %.1f ms p95 %.1f ms\n",
          label, track.c_str(), static_cast<unsigned long long>(t.sessions),
          static_cast<unsigned long long>(t.sessions_completed),
          static_cast<unsigned long long>(t.segment_requests()),
          static_cast<unsigned long long>(t.stalls), t.stall_seconds, t.startup.p50_ms,
          t.startup.p95_ms, t.segment_ttfb.p50_ms, t.segment_ttfb.p95_ms);
    }
    std::printf("[ measured ] %s: %s\n", label, describe(r).c_str());
  }

  static inline std::unique_ptr<TempDir> clips_;
};

// Viewers at twice real time against a 50/50 split of two healthy tracks: every session plays
// on one track, none stalls, and per track the viewers' segment, session, playlist, mtp and
// bs counts equal the gateway's. The figures can be read while the load runs.
TEST_F(ViewerLoadTest, ViewersCountWhatTheGatewayCountsPerTrackAndStayOnOneTrack) {
  ASSERT_NO_FATAL_FAILURE(add_replica("stable"));
  ASSERT_NO_FATAL_FAILURE(add_replica("canary"));
  ASSERT_NO_FATAL_FAILURE(start_two_tracks());
  const std::string id = upload();
  ViewerLoadOptions o = options(id);
  o.viewers = 16;
  o.speed = 2;
  o.buffer_target_s = 8;
  o.duration = milliseconds(8000);
  ViewerLoad load(o);
  ASSERT_TRUE(load.start());
  std::this_thread::sleep_for(milliseconds(3000));
  const ViewerLoadResults mid = load.results();
  EXPECT_TRUE(mid.running);
  EXPECT_GT(mid.total().segments_ok, 0u) << describe(mid);
  const ViewerLoadResults r = load.wait();
  print("healthy", r);
  EXPECT_FALSE(r.running);
  EXPECT_EQ(r.ended_by, "duration");
  EXPECT_LE(r.elapsed_seconds, 8.0 + 4.0 + 0.5);
  EXPECT_EQ(r.connection_errors, 0u) << describe(r);
  EXPECT_EQ(r.cut_requests, 0u) << "requests in flight at the end finish within the grace";
  EXPECT_EQ(r.playback_refused, 0u);
  EXPECT_EQ(r.sessions_on_several_tracks, 0u) << describe(r);
  const TrackViewing total = r.total();
  EXPECT_GE(total.sessions_completed, 16u)
      << "each viewer fetched the 12 s clip through at least once";
  EXPECT_GE(total.segments_ok, total.sessions_completed * 3) << "three segments each";
  EXPECT_GE(total.segments_ok, mid.total().segments_ok);
  ASSERT_EQ(r.tracks.size(), 2u) << describe(r);
  const std::string m = metrics_matching(r);
  for (const std::string track : {"stable", "canary"}) {
    SCOPED_TRACE(track);
    ASSERT_TRUE(r.tracks.count(track)) << describe(r);
    const TrackViewing& t = r.tracks.at(track);
    EXPECT_GT(t.sessions, 0u);
    EXPECT_EQ(t.stalls, 0u) << "a healthy server on loopback";
    EXPECT_EQ(t.rebuffer_reports, 0u);
    EXPECT_EQ(t.segments_failed + t.init_failed + t.playlist_failed, 0u);
    EXPECT_EQ(t.sessions_failed, 0u);
    EXPECT_GT(t.segment_ttfb.count, 0u);
    EXPECT_GT(t.startup.count, 0u);
    EXPECT_EQ(sample(m, "streamgate_gateway_segment_requests_total", track), t.segment_requests());
    EXPECT_EQ(sample(m, "streamgate_gateway_segment_errors_total", track), 0);
    EXPECT_EQ(sample(m, "streamgate_gateway_playlist_requests_total", track), t.playlist_requests);
    EXPECT_EQ(sample(m, "streamgate_gateway_sessions_started_total", track), t.sessions_playing);
    EXPECT_EQ(sample(m, "streamgate_gateway_rebuffer_reports_total", track), 0);
    EXPECT_EQ(sample(m, "streamgate_gateway_throughput_reports_total", track),
              t.throughput_reports);
    EXPECT_EQ(sample(m, "streamgate_gateway_throughput_kbps_total", track), t.throughput_sum_kbps);
    // The gateway's startup (first playlist in, first segment out) is inside the viewers'.
    EXPECT_EQ(sample(m, "streamgate_gateway_session_startup_seconds_count", track),
              t.startup.count);
  }
}

// One track's replica delays every segment answer by 1.5 s, longer than a 4 s segment lasts
// at four times real time (1 s): its viewers stall, report bs, and the gateway's rebuffer
// count for that track equals the viewers' reports; the healthy track's viewers never stall.
TEST_F(ViewerLoadTest, SlowSegmentsStallTheirViewersAndTheGatewayCountsTheirReports) {
  ASSERT_NO_FATAL_FAILURE(add_replica("stable"));
  ASSERT_NO_FATAL_FAILURE(add_replica("canary", {"--chaos-segment-delay-ms", "1500"}));
  ASSERT_NO_FATAL_FAILURE(start_two_tracks());
  const std::string id = upload();
  ViewerLoadOptions o = options(id);
  o.viewers = 12;
  o.speed = 4;
  o.buffer_target_s = 8;
  o.duration = milliseconds(8000);
  ViewerLoad load(o);
  const auto run = load.run();
  ASSERT_TRUE(run) << run.error().message;
  const ViewerLoadResults& r = *run;
  print("slow canary", r);
  EXPECT_EQ(r.connection_errors, 0u) << describe(r);
  EXPECT_EQ(r.sessions_on_several_tracks, 0u) << describe(r);
  ASSERT_TRUE(r.tracks.count("canary") && r.tracks.count("stable")) << describe(r);
  const TrackViewing& slow = r.tracks.at("canary");
  const TrackViewing& healthy = r.tracks.at("stable");
  EXPECT_GE(slow.segment_ttfb.p50_ms, 1500.0);
  EXPECT_GE(slow.stalls, 3u) << "a slow session stalls at every segment after its first";
  EXPECT_GT(slow.rebuffer_reports, 0u);
  EXPECT_LE(slow.rebuffer_reports, slow.stalls) << "one bs per stall, the last may be unsent";
  EXPECT_GT(slow.stall_seconds, 0.0);
  EXPECT_EQ(healthy.stalls, 0u) << describe(r);
  EXPECT_GT(healthy.sessions_completed, 0u);
  EXPECT_GE(slow.startup.p50_ms, 3000.0) << "the init section and the first segment, delayed";
  EXPECT_LT(healthy.startup.p95_ms, 1500.0);
  const std::string m = metrics_matching(r);
  EXPECT_EQ(sample(m, "streamgate_gateway_rebuffer_reports_total", "canary"),
            slow.rebuffer_reports);
  EXPECT_EQ(sample(m, "streamgate_gateway_rebuffer_reports_total", "stable"), 0);
  EXPECT_EQ(sample(m, "streamgate_gateway_segment_requests_total", "canary"),
            slow.segment_requests());
}

// The drill CLI, streamgate-viewers: a bad flag is one line on stderr and exit 2; a short run
// prints one JSON summary whose per-track segment count equals the gateway's.
TEST_F(ViewerLoadTest, DrillCliPrintsOneJsonSummaryAndRefusesBadFlagsInOneLine) {
  int runs = 0;
  auto cli = [&](std::vector<std::string> args) -> std::pair<int, std::string> {
    SpawnOptions o;
    o.argv = {SG_VIEWERS_BIN};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.log_file = dir_.path() / ("viewers-" + std::to_string(++runs) + ".log");
    auto child = ChildProcess::spawn(o);
    if (!child) return {-1, child.error().message};
    const auto status = child->wait_exit(std::chrono::seconds(30));
    const int code = status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
    return {code, tail_of(o.log_file, 100000)};
  };
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"--gateway", "127.0.0.1:1"}, "--content is required"},
      {{"--gateway", "10.1.2.3:80", "--content", "x"}, "not on loopback"},
      {{"--gateway", "localhost:80", "--content", "x"}, "must name an IP address"},
      {{"--gateway", "127.0.0.1:80", "--content", "x", "--speed", "0"}, "speed must be in (0, 64]"},
      {{"--gateway", "127.0.0.1:80", "--content", "x", "--viewers", "many"}, "--viewers"},
      {{"--gateway", "127.0.0.1:80", "--content", "x", "--header", "nocolon"}, "--header"},
  };
  for (const auto& [args, message] : bad) {
    const auto [code, out] = cli(args);
    EXPECT_EQ(code, 2) << out;
    EXPECT_NE(out.find(message), std::string::npos) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << "one line: " << out;
  }
  ASSERT_NO_FATAL_FAILURE(add_replica("stable"));
  ASSERT_NO_FATAL_FAILURE(start_gateway("tracks:\n  stable: { endpoints: [" + endpoints("stable") +
                                        "] }\nroute: { weights: { stable: 100 } }\n"));
  const std::string id = upload();
  const auto [code, out] =
      cli({"--gateway", "127.0.0.1:" + std::to_string(port_), "--content", id, "--viewers", "4",
           "--speed", "4", "--buffer", "8", "--duration", "3", "--progress", "0"});
  ASSERT_EQ(code, 0) << out;
  boost::system::error_code ec;
  const json::value summary = json::parse(out, ec);
  ASSERT_FALSE(ec) << "one JSON object, nothing else: " << out;
  std::printf("[ measured ] CLI: %s\n", out.c_str());
  EXPECT_EQ(summary.at("ended_by").as_string(), "duration");
  EXPECT_EQ(summary.at("sessions_on_several_tracks").to_number<int>(), 0);
  const auto& stable = summary.at("tracks").at("stable");
  EXPECT_GE(stable.at("sessions_completed").to_number<int>(), 4);
  EXPECT_EQ(stable.at("stalls").to_number<int>(), 0);
  ViewerLoadResults expected;
  expected.tracks["stable"].init_requests =
      stable.at("segment_requests").to_number<std::uint64_t>();
  const std::string m = metrics_matching(expected);
  EXPECT_EQ(sample(m, "streamgate_gateway_segment_requests_total", "stable"),
            stable.at("segment_requests").to_number<double>());
}

// The player model alone: playback starts with the first segment, a buffer that runs dry
// while segments remain is one stall (and one bs), and the end of the content is not.
TEST(PlayerBufferModel, CountsAStallWhenTheBufferRunsDryAndNotAtTheEnd) {
  using Clock = PlayerBuffer::Clock;
  const Clock::time_point t0{};
  PlayerBuffer b(2.0);  // twice real time: a 2 s segment lasts 1 s
  b.advance(t0, true);
  EXPECT_FALSE(b.playing());
  b.add_segment(t0 + milliseconds(300), 2.0);
  EXPECT_TRUE(b.playing());
  b.advance(t0 + milliseconds(800), true);
  EXPECT_NEAR(b.level_s(), 1.0, 1e-9);
  EXPECT_EQ(b.time_until(0.5), milliseconds(250));
  b.advance(t0 + milliseconds(1800), true);  // dry at 1.3 s
  EXPECT_EQ(b.stalls(), 1u);
  EXPECT_FALSE(b.playing());
  EXPECT_TRUE(b.take_starved());
  EXPECT_FALSE(b.take_starved()) << "bs once per stall";
  b.add_segment(t0 + milliseconds(2300), 2.0);
  EXPECT_NEAR(b.stall_seconds(), 1.0, 1e-9);
  b.advance(t0 + milliseconds(5000), false);  // dry, nothing left to fetch: the end
  EXPECT_EQ(b.stalls(), 1u);
}

TEST(PlayerBufferModel, ReadsTheServersPlaylistsAndWritesCmcdInKeyOrder) {
  auto master = parse_master_playlist(
      "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=600000,AVERAGE-BANDWIDTH=450000,"
      "CODECS=\"avc1.64000d,mp4a.40.2\",RESOLUTION=320x240\nmedia.m3u8?token=t\n");
  ASSERT_TRUE(master) << master.error().message;
  EXPECT_EQ(master->media_uri, "media.m3u8?token=t");
  EXPECT_EQ(master->bandwidth_kbps, 450);
  EXPECT_EQ(master->object_type, "av");
  auto media = parse_media_playlist(
      "#EXTM3U\n#EXT-X-MAP:URI=\"f.mp4?token=t\",BYTERANGE=\"800@0\"\n#EXTINF:2.000000,\n"
      "#EXT-X-BYTERANGE:1000@800\nf.mp4?token=t\n#EXTINF:1.500000,\n#EXT-X-BYTERANGE:500\n"
      "f.mp4?token=t\n#EXT-X-ENDLIST\n");
  ASSERT_TRUE(media) << media.error().message;
  EXPECT_EQ(media->init.range_header(), "bytes=0-799");
  ASSERT_EQ(media->segments.size(), 2u);
  EXPECT_EQ(media->segments[1].range.range_header(), "bytes=1800-2299") << "offset follows";
  EXPECT_DOUBLE_EQ(media->segments[1].duration_s, 1.5);
  EXPECT_FALSE(parse_media_playlist("#EXTM3U\n#EXTINF:2,\nf.mp4\n"));
  EXPECT_EQ(resolve_uri("/api/v1/content/x/hls/master.m3u8?token=t", "media.m3u8?token=t"),
            "/api/v1/content/x/hls/media.m3u8?token=t");
  CmcdFields f;
  f.bl_ms = 4049;
  f.bs = true;
  f.cid = "c1";
  f.mtp_kbps = 12345;
  f.ot = "av";
  f.pr = 2;
  f.sid = "s-1";
  f.su = true;
  EXPECT_EQ(cmcd_query_value(f),
            "bl%3D4000%2Cbs%2Ccid%3D%22c1%22%2Cmtp%3D12300%2Cot%3Dav%2Cpr%3D2.0%2Csf%3Dh%2Csid%3D"
            "%22s-1%22%2Cst%3Dv%2Csu");
}

}  // namespace
}  // namespace sg::test
