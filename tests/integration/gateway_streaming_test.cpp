// The gateway's per-track streaming signals, measured through a real streamgate-gateway in
// front of real streamgate-server replicas serving HLS of a real clip: playlist and segment
// requests with CMCD (CTA-5004) as a player sends them, and the figures the gateway then
// shows on /metrics and in the admin API's stats.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "integration/content_upload.hpp"
#include "integration/gateway_fixture.hpp"
#include "support/media_clips.hpp"

namespace sg::test {
namespace {

namespace json = boost::json;
using boost::beast::http::verb;
using Headers = std::vector<std::pair<std::string, std::string>>;
const std::string kKey = "ka:" + std::string(40, 'k');

// The value of `name{route="default",track="TRACK"}` (or `name_count{...}` of a histogram).
double sample(const std::string& exposition, const std::string& name, const std::string& track) {
  const std::string prefix = name + "{route=\"default\",track=\"" + track + "\"} ";
  const auto at = exposition.find(prefix);
  if (at == std::string::npos) return 0;
  return std::strtod(exposition.c_str() + at + prefix.size(), nullptr);
}

// What one simulated viewer saw, per track that answered.
struct Seen {
  int playlists = 0, segments = 0, starved = 0, mtp_reports = 0, started = 0, minutes = 0;
  double mtp_sum = 0;
  double client_startup_sum = 0;  // the client's own first playlist -> first segment read
};

class StreamingTest : public GatewayFixture {
 protected:
  static void SetUpTestSuite() {
    clips_ = std::make_unique<TempDir>("sg-it-streaming-clips");
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

  // One viewer: POST playback, the two playlists, the init section and `segments` segments,
  // with CMCD in the query (session `sid`, or none: then the token is the session key).
  // Every `starve_every`-th segment reports bs. Counts what each answering track served.
  void watch(const std::string& id, const std::string& sid, int segments, int starve_every,
             std::map<std::string, Seen>& seen, std::set<std::string>* tracks = nullptr) {
    auto pb = http_call(port_, {verb::post, "/api/v1/content/" + id + "/playback"});
    ASSERT_EQ(pb.status, 200) << pb.body;
    const std::string master(json::parse(pb.body).at("master_url").as_string());
    const std::string base = "/api/v1/content/" + id + "/hls/";
    const std::string session = sid.empty() ? "" : "%2Csid%3D%22" + sid + "%22";
    auto get = [&](const std::string& target, const std::string& cmcd, const Headers& h = {}) {
      const char sep = target.find('?') == std::string::npos ? '?' : '&';
      auto r = http_get(port_, target + sep + "CMCD=" + cmcd + session, h);
      if (tracks) tracks->insert(r.header("X-StreamGate-Track"));
      return r;
    };
    const auto t0 = std::chrono::steady_clock::now();
    auto m = get(master, "ot%3Dm");
    ASSERT_EQ(m.status, 200) << m.body;
    seen[m.header("X-StreamGate-Track")].playlists++;
    seen[m.header("X-StreamGate-Track")].minutes++;  // all of a session here is in minute 0
    std::smatch match;
    ASSERT_TRUE(std::regex_search(m.body, match, std::regex("\n(media[^\n]*)")));
    auto media = get(base + match[1].str(), "ot%3Dm");
    ASSERT_EQ(media.status, 200) << media.body;
    seen[media.header("X-StreamGate-Track")].playlists++;
    std::vector<std::pair<std::string, std::string>> ranges;  // uri, Range header value
    const std::regex byterange("#EXT-X-BYTERANGE:(\\d+)@(\\d+)\n([^\n]+)");
    for (auto it = std::sregex_iterator(media.body.begin(), media.body.end(), byterange);
         it != std::sregex_iterator(); ++it) {
      const long long len = std::stoll((*it)[1]), off = std::stoll((*it)[2]);
      ranges.emplace_back((*it)[3],
                          "bytes=" + std::to_string(off) + "-" + std::to_string(off + len - 1));
    }
    ASSERT_GE(static_cast<int>(ranges.size()), segments);
    auto init = get(base + ranges[0].first, "ot%3Di", {{"Range", "bytes=0-99"}});
    ASSERT_EQ(init.status, 206);
    seen[init.header("X-StreamGate-Track")].segments++;
    for (int i = 0; i < segments; ++i) {
      const bool starve = starve_every > 0 && i % starve_every == starve_every - 1;
      const int mtp = 1000 * (i + 1);
      auto s = get(base + ranges[i].first,
                   "mtp%3D" + std::to_string(mtp) + "%2Cot%3Dv" + (starve ? "%2Cbs" : ""),
                   {{"Range", ranges[i].second}});
      ASSERT_EQ(s.status, 206) << s.body;
      Seen& t = seen[s.header("X-StreamGate-Track")];
      t.segments++;
      t.starved += starve;
      t.mtp_reports++;
      t.mtp_sum += mtp;
      if (i == 0) {
        t.started++;
        t.client_startup_sum +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      }
    }
  }

  json::value stats() {
    auto r = admin(verb::get, "/admin/v1/stats?window=60");
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body);
  }

  static inline std::unique_ptr<TempDir> clips_;
};

TEST_F(StreamingTest, PlaylistSegmentSessionRebufferAndThroughputFiguresPerTrack) {
  ASSERT_NO_FATAL_FAILURE(add_replica("stable"));
  ASSERT_NO_FATAL_FAILURE(add_replica("canary"));
  ASSERT_NO_FATAL_FAILURE(start_two_tracks());
  const std::string id = upload();
  std::map<std::string, Seen> seen;
  for (int v = 0; v < 8; ++v) {
    // Half the viewers send a CMCD sid, half are known by their playback token only.
    // Each viewer takes two turns of the exact 50/50 split (POST playback, then its first
    // playlist); one more request every third viewer makes sessions start on both tracks.
    if (v % 3 == 0) {
      ASSERT_EQ(http_get(port_, "/api/v1/health").status, 200);
    }
    ASSERT_NO_FATAL_FAILURE(watch(id, v % 2 ? "viewer-" + std::to_string(v) : "", 3, 2, seen));
  }
  // Requests that are not HLS count nowhere here.
  for (int i = 0; i < 10; ++i) ASSERT_EQ(http_get(port_, "/api/v1/health").status, 200);
  const std::string metrics = http_get(admin_port_, "/metrics").body;
  const json::value st = stats();
  int started = 0;
  for (const std::string track : {"stable", "canary"}) {
    const Seen& s = seen[track];
    SCOPED_TRACE(track);
    EXPECT_EQ(sample(metrics, "streamgate_gateway_playlist_requests_total", track), s.playlists);
    EXPECT_EQ(sample(metrics, "streamgate_gateway_segment_requests_total", track), s.segments);
    EXPECT_EQ(sample(metrics, "streamgate_gateway_segment_errors_total", track), 0);
    EXPECT_EQ(sample(metrics, "streamgate_gateway_segment_ttfb_seconds_count", track), s.segments);
    EXPECT_EQ(sample(metrics, "streamgate_gateway_sessions_started_total", track), s.started);
    EXPECT_EQ(sample(metrics, "streamgate_gateway_session_minutes_total", track), s.minutes);
    EXPECT_EQ(sample(metrics, "streamgate_gateway_rebuffer_reports_total", track), s.starved);
    EXPECT_EQ(sample(metrics, "streamgate_gateway_throughput_reports_total", track), s.mtp_reports);
    EXPECT_EQ(sample(metrics, "streamgate_gateway_throughput_kbps_total", track), s.mtp_sum);
    const auto& w = st.at("tracks").at(track).at("streaming").at("60s").as_object();
    EXPECT_EQ(w.at("segment_requests").to_number<int>(), s.segments);
    EXPECT_EQ(w.at("sessions_started").to_number<int>(), s.started);
    EXPECT_EQ(w.at("startup_count").to_number<int>(), s.started) << "a playlist came first";
    EXPECT_EQ(w.at("rebuffer_reports").to_number<int>(), s.starved);
    if (s.segments > 0) {
      EXPECT_GT(w.at("segment_ttfb_p50_ms").to_number<double>(), 0);
    }
    // The gateway's startup is inside the client's: it starts later and ends earlier.
    const double gw_startup =
        sample(metrics, "streamgate_gateway_session_startup_seconds_sum", track);
    EXPECT_EQ(sample(metrics, "streamgate_gateway_session_startup_seconds_count", track),
              s.started);
    if (s.started > 0) {
      EXPECT_GT(gw_startup, 0);
      EXPECT_LE(gw_startup, s.client_startup_sum);
    }
    started += s.started;
    std::printf(
        "[ measured ] %s: %d playlists, %d segments, %d sessions, startup sum %.1f ms "
        "(client %.1f ms), segment TTFB p50 %.2f ms p95 %.2f ms\n",
        track.c_str(), s.playlists, s.segments, s.started, gw_startup * 1000,
        s.client_startup_sum * 1000, w.at("segment_ttfb_p50_ms").to_number<double>(),
        w.at("segment_ttfb_p95_ms").to_number<double>());
  }
  EXPECT_EQ(started, 8) << "every viewer started once";
  EXPECT_GT(seen["stable"].started, 0);
  EXPECT_GT(seen["canary"].started, 0);
  EXPECT_NE(metrics.find("streamgate_gateway_sessions_tracked 8"), std::string::npos) << metrics;
}

// Session pinning: with a 50/50 split every request of one viewing session (by CMCD sid, or
// by its playback token) goes to one track, and a new weight does not move a session that
// has started; new sessions follow the new weights.
TEST_F(StreamingTest, ASessionStaysOnItsTrackAcrossANewWeight) {
  ASSERT_NO_FATAL_FAILURE(add_replica("stable"));
  ASSERT_NO_FATAL_FAILURE(add_replica("canary"));
  ASSERT_NO_FATAL_FAILURE(start_two_tracks());
  const std::string id = upload();
  std::map<std::string, Seen> seen;
  std::vector<std::string> sids;
  std::map<std::string, std::string> track_of;
  for (int v = 0; v < 10; ++v) {
    std::set<std::string> tracks;
    const std::string sid = v % 2 ? "pin-" + std::to_string(v) : "";
    if (v % 3 == 0) {
      ASSERT_EQ(http_get(port_, "/api/v1/health").status, 200);
    }  // see above
    ASSERT_NO_FATAL_FAILURE(watch(id, sid, 3, 0, seen, &tracks));
    ASSERT_EQ(tracks.size(), 1u) << "viewer " << v << " was served by two tracks";
    if (!sid.empty()) track_of[sid] = *tracks.begin();
  }
  EXPECT_GT(seen["stable"].started, 0) << "the split still applies to new sessions";
  EXPECT_GT(seen["canary"].started, 0);
  // All weight to canary: the sessions pinned to stable stay there.
  ASSERT_EQ(admin(verb::put, "/admin/v1/route", R"({"weights":{"stable":0,"canary":100}})").status,
            200);
  for (const auto& [sid, track] : track_of) {
    const std::string target =
        "/api/v1/content/" + id + "/hls/master.m3u8?CMCD=sid%3D%22" + sid + "%22";
    for (int i = 0; i < 5; ++i) {
      const auto r = http_get(port_, target);
      EXPECT_EQ(r.header("X-StreamGate-Track"), track) << sid;
    }
  }
  for (int i = 0; i < 10; ++i) {
    const auto r = http_get(port_, "/api/v1/content/" + id + "/hls/master.m3u8?CMCD=sid%3D%22new-" +
                                       std::to_string(i) + "%22");
    EXPECT_EQ(r.header("X-StreamGate-Track"), "canary") << "a new session follows the weights";
  }
}

// The drill flags: a replica started with --chaos-segment-delay-ms and
// --chaos-segment-error-rate delays and fails only its segment responses (playlists and the
// API stay fast and healthy), and the gateway's segment figures show it.
TEST_F(StreamingTest, ChaosSegmentFlagsSlowAndFailOnlySegments) {
  ASSERT_NO_FATAL_FAILURE(add_replica(
      "canary", {"--chaos-segment-delay-ms", "250", "--chaos-segment-error-rate", "0.5"}));
  ASSERT_NO_FATAL_FAILURE(start_gateway("tracks:\n  canary: { endpoints: [" + endpoints("canary") +
                                        "] }\nroute: { weights: { canary: 100 } }\n"));
  const std::string id = upload();
  auto pb = http_call(port_, {verb::post, "/api/v1/content/" + id + "/playback"});
  ASSERT_EQ(pb.status, 200) << pb.body;
  const std::string master(json::parse(pb.body).at("master_url").as_string());
  auto ms_since = [](std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  int errors = 0, ok = 0;
  double slowest_playlist = 0, fastest_ok_segment = 1e9;
  for (int i = 0; i < 24; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto p = http_get(port_, master);
    slowest_playlist = std::max(slowest_playlist, ms_since(t0));
    ASSERT_EQ(p.status, 200) << "playlists are not failed: " << p.body;
    auto media = http_get(port_, master.substr(0, master.find("master.m3u8")) + "media.m3u8" +
                                     master.substr(master.find('?')));
    ASSERT_EQ(media.status, 200);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(media.body, m, std::regex("EXT-X-MAP:URI=\"([^\"]+)\"")));
    const std::string file = master.substr(0, master.find("master.m3u8")) + m[1].str();
    t0 = std::chrono::steady_clock::now();
    auto s = http_get(port_, file, {{"Range", "bytes=0-999"}});
    const double took = ms_since(t0);
    if (s.status == 500) {
      ++errors;
      EXPECT_NE(s.body.find("injected_fault"), std::string::npos) << s.body;
    } else {
      ASSERT_EQ(s.status, 206) << s.body;
      ++ok;
      fastest_ok_segment = std::min(fastest_ok_segment, took);
    }
  }
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(http_get(port_, "/api/v1/health").status, 200);
  const double health_ms = ms_since(t0);
  // 24 draws at p = 0.5: outside 3..21 has probability < 0.03 %.
  EXPECT_GE(errors, 3);
  EXPECT_GE(ok, 3);
  EXPECT_GE(fastest_ok_segment, 250.0) << "every segment answer was delayed";
  EXPECT_LT(slowest_playlist, 200.0) << "playlists are not delayed";
  EXPECT_LT(health_ms, 200.0);
  const std::string metrics = http_get(admin_port_, "/metrics").body;
  EXPECT_EQ(sample(metrics, "streamgate_gateway_segment_requests_total", "canary"), 24);
  EXPECT_EQ(sample(metrics, "streamgate_gateway_segment_errors_total", "canary"), errors);
  const json::value st = stats();
  const auto& w = st.at("tracks").at("canary").at("streaming").at("60s").as_object();
  // Every segment answer took >= 250 ms; the quantile is accurate to one bucket (x1.28).
  EXPECT_GE(w.at("segment_ttfb_p50_ms").to_number<double>(), 250.0 / 1.29);
  std::printf(
      "[ measured ] chaos canary: %d/24 segments failed, fastest good segment %.0f ms, "
      "slowest playlist %.1f ms, segment TTFB p50 %.0f ms p95 %.0f ms\n",
      errors, fastest_ok_segment, slowest_playlist, w.at("segment_ttfb_p50_ms").to_number<double>(),
      w.at("segment_ttfb_p95_ms").to_number<double>());
}

}  // namespace
}  // namespace sg::test
