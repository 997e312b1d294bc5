// HLS end to end with real clients: streamgate-server replicas (shared SQLite database and
// media dir) behind streamgate-gateway; ffprobe and ffmpeg read the playlists over HTTP
// through the gateway; tokens, key rotation, the stream cap (across replicas with Redis) and
// bad media.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>

#include "integration/gateway_fixture.hpp"
#include "server/media/playback_token.hpp"
#include "support/media_clips.hpp"

namespace sg::test {
namespace {

namespace json = boost::json;
using boost::beast::http::verb;
const std::string kKeyA = "ka:" + std::string(40, 'k');
const std::string kKeyB = "kb:" + std::string(40, 'q');

// One framecrc line: stream index, pts, size, crc.
struct Frame {
  int stream = 0;
  long long pts = 0;
  std::string size, crc;
};

std::vector<Frame> read_framecrc(const std::filesystem::path& file) {
  std::vector<Frame> frames;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string part;
    while (std::getline(ss, part, ',')) {
      part.erase(0, part.find_first_not_of(' '));
      f.push_back(part);
    }
    if (f.size() == 6) frames.push_back({std::stoi(f[0]), std::stoll(f[2]), f[4], f[5]});
  }
  return frames;
}

std::vector<std::string> crcs(const std::vector<Frame>& frames, int stream) {
  std::vector<std::string> out;
  for (const Frame& f : frames) {
    if (f.stream == stream) out.push_back(f.size + "/" + f.crc);
  }
  return out;
}

class HlsTest : public GatewayFixture {
 protected:
  static void SetUpTestSuite() {
    clips_ = std::make_unique<TempDir>("sg-it-hls-clips");
    Status st = make_test_clip(clip());
    ASSERT_TRUE(st) << st.error().message;
  }
  static void TearDownTestSuite() { clips_.reset(); }
  static std::filesystem::path clip() { return clips_->path() / "clip.mp4"; }

  void add_replica(const std::string& label, std::vector<std::string> args,
                   const std::string& cache = "memory") {
    ServerSetup s;
    s.storage = "sqlite:" + (dir_.path() / "shared.sqlite").string();
    s.cache = cache;
    s.version_label = label;
    s.extra_args = std::move(args);
    auto r = ServerProcess::start(s, dir_.path());
    ASSERT_TRUE(r) << r.error().message;
    replicas_[label].push_back(std::move(*r));
  }

  HttpReply call(verb method, const std::string& target, std::string body = {},
                 std::vector<std::pair<std::string, std::string>> headers = {}) {
    headers.emplace_back("Authorization", std::string("Bearer ") + kToken);
    return http_call(port_, {method, target, std::move(body), std::move(headers)});
  }

  // Creates an item, uploads `file` through the gateway, returns the item JSON.
  json::value upload(const std::filesystem::path& file) {
    auto created = call(verb::post, "/api/v1/content", R"({"title":"clip"})");
    EXPECT_EQ(created.status, 201) << created.body << created.error;
    const std::string id(json::parse(created.body).at("id").as_string());
    auto put = call(verb::put, "/api/v1/content/" + id + "/media", read_file(file),
                    {{"Content-Type", "video/mp4"}});
    EXPECT_EQ(put.status, 200) << put.body;
    return json::parse(put.body);
  }

  std::string start_playback(const std::string& id, std::uint16_t port = 0) {
    auto r = http_call(port ? port : port_, {verb::post, "/api/v1/content/" + id + "/playback"});
    EXPECT_EQ(r.status, 200) << r.body;
    return std::string(json::parse(r.body).at("master_url").as_string());
  }

  // Runs ffmpeg/ffprobe with `args` (output to the log), asserting exit 0.
  std::string run_tool(std::vector<std::string> argv, const std::string& name) {
    SpawnOptions o;
    o.argv = std::move(argv);
    o.log_file = dir_.path() / (name + ".log");
    Status st = run_command(o, std::chrono::seconds(60));
    EXPECT_TRUE(st) << st.error().message << "\n" << tail_of(o.log_file);
    return read_file(o.log_file);
  }

  std::string url(const std::string& target) const {
    return "http://127.0.0.1:" + std::to_string(port_) + target;
  }

  static inline std::unique_ptr<TempDir> clips_;
};

std::string playlist_uri(const std::string& playlist, int index) {
  int seen = 0;
  std::stringstream ss(playlist);
  std::string line;
  while (std::getline(ss, line)) {
    if (!line.empty() && line[0] != '#' && seen++ == index) return line;
  }
  return {};
}

// ffprobe and ffmpeg over HTTP through the gateway, two replicas sharing the media dir: every
// frame of the clip decodes identically from HLS, and a middle segment decodes alone.
TEST_F(HlsTest, FfmpegDecodesEveryFrameThroughTheGatewayAndAMiddleSegmentAlone) {
  ASSERT_NO_FATAL_FAILURE(add_replica("v-a", {"--playback-keys", kKeyA}));
  ASSERT_NO_FATAL_FAILURE(add_replica("v-a", {"--playback-keys", kKeyA}));
  ASSERT_NO_FATAL_FAILURE(start_gateway("tracks:\n  stable: { endpoints: [" + endpoints("v-a") +
                                        "] }\nroute: { weights: { stable: 100 } }\n"));
  const json::value item = upload(clip());
  ASSERT_TRUE(item.at("media").at("hls").at("available").as_bool()) << item;
  const std::string id(item.at("id").as_string());
  const std::string master = start_playback(id);
  ASSERT_NE(master.find("?token=ka."), std::string::npos);

  const std::string probe =
      run_tool({"ffprobe", "-v", "error", "-show_entries",
                "format=duration:stream=codec_name,width,height", "-of", "compact", url(master)},
               "ffprobe");
  EXPECT_NE(probe.find("codec_name=h264|width=320|height=240"), std::string::npos) << probe;
  EXPECT_NE(probe.find("codec_name=aac"), std::string::npos) << probe;
  EXPECT_NE(probe.find("duration=12.0"), std::string::npos) << probe;

  const auto orig_crc = dir_.path() / "orig.crc";
  const auto hls_crc = dir_.path() / "hls.crc";
  run_tool({"ffmpeg", "-nostdin", "-v", "error", "-i", clip().string(), "-f", "framecrc", "-y",
            orig_crc.string()},
           "ffmpeg-orig");
  run_tool({"ffmpeg", "-nostdin", "-v", "error", "-i", url(master), "-f", "framecrc", "-y",
            hls_crc.string()},
           "ffmpeg-hls");
  const auto orig = read_framecrc(orig_crc);
  const auto hls = read_framecrc(hls_crc);
  ASSERT_EQ(crcs(orig, 0).size(), 300u);
  EXPECT_EQ(crcs(hls, 0), crcs(orig, 0)) << "every video frame decodes identically";
  // The original's edit list hides the AAC encoder's priming frame; FFmpeg 5.1 does not apply
  // edit lists to fragmented MP4, so HLS shows it first, then every original frame.
  auto hls_audio = crcs(hls, 1);
  const auto orig_audio = crcs(orig, 1);
  ASSERT_EQ(hls_audio.size(), orig_audio.size() + 1);
  hls_audio.erase(hls_audio.begin());
  EXPECT_EQ(hls_audio, orig_audio) << "every audio frame decodes identically";

  // A seek: the media playlist's middle segment (4-8 s) with the init section, fetched by
  // byte range through the gateway, decodes on its own to the original's frames 100-199.
  const std::string media_url =
      master.substr(0, master.find("master.m3u8")) + "media.m3u8" + master.substr(master.find('?'));
  auto playlist = http_call(port_, {verb::get, media_url});
  ASSERT_EQ(playlist.status, 200);
  EXPECT_EQ(playlist.header("Content-Type"), "application/vnd.apple.mpegurl");
  std::smatch m;
  const std::string& text = playlist.body;
  ASSERT_TRUE(std::regex_search(text, m, std::regex("BYTERANGE=\"(\\d+)@0\"")));
  const std::string init_range = "bytes=0-" + std::to_string(std::stoll(m[1]) - 1);
  std::vector<std::pair<long long, long long>> ranges;
  const std::regex byterange("#EXT-X-BYTERANGE:(\\d+)@(\\d+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), byterange);
       it != std::sregex_iterator(); ++it) {
    ranges.emplace_back(std::stoll((*it)[1]), std::stoll((*it)[2]));
  }
  ASSERT_EQ(ranges.size(), 3u);
  const std::string file_url =
      media_url.substr(0, media_url.rfind('/') + 1) + playlist_uri(text, 1);
  auto init = http_call(port_, {verb::get, file_url, {}, {{"Range", init_range}}});
  const std::string mid_range = "bytes=" + std::to_string(ranges[1].second) + "-" +
                                std::to_string(ranges[1].second + ranges[1].first - 1);
  auto mid = http_call(port_, {verb::get, file_url, {}, {{"Range", mid_range}}});
  ASSERT_EQ(init.status, 206);
  ASSERT_EQ(mid.status, 206) << mid.body;
  EXPECT_EQ(mid.header("Content-Type"), "video/mp4");
  EXPECT_EQ(mid.body.size(), static_cast<std::size_t>(ranges[1].first));
  const auto seg_file = dir_.path() / "middle.mp4";
  write_file(seg_file, init.body + mid.body);
  const auto seg_crc = dir_.path() / "middle.crc";
  run_tool({"ffmpeg", "-nostdin", "-v", "error", "-i", seg_file.string(), "-map", "0:v", "-f",
            "framecrc", "-y", seg_crc.string()},
           "ffmpeg-middle");
  const auto middle = crcs(read_framecrc(seg_crc), 0);
  const auto all = crcs(orig, 0);
  ASSERT_EQ(middle.size(), 100u);
  EXPECT_EQ(middle, std::vector<std::string>(all.begin() + 100, all.begin() + 200));
}

TEST_F(HlsTest, BadTokensAreRefusedAndKeyRotationKeepsASessionPlaying) {
  ASSERT_NO_FATAL_FAILURE(add_replica("v-old", {"--playback-keys", kKeyA}));
  ASSERT_NO_FATAL_FAILURE(add_replica("v-new", {"--playback-keys", kKeyB + "," + kKeyA}));
  ASSERT_NO_FATAL_FAILURE(start_gateway("tracks:\n  blue: { endpoints: [" + endpoints("v-old") +
                                        "] }\n  green: { endpoints: [" + endpoints("v-new") +
                                        "] }\nroute: { weights: { blue: 100, green: 0 } }\n"));
  const json::value item = upload(clip());
  const std::string id(item.at("id").as_string());
  const std::string master = start_playback(id);
  const std::string query = master.substr(master.find('?'));
  const std::string base = "/api/v1/content/" + id + "/hls/";
  auto media = http_call(port_, {verb::get, base + "media.m3u8" + query});
  ASSERT_EQ(media.status, 200);
  const std::string file = playlist_uri(media.body, 0);
  const std::string file_path = base + file.substr(0, file.find('?'));
  EXPECT_EQ(http_call(port_, {verb::get, base + file}).status, 200);

  // Expired (signed with the real key, expiry in the past), tampered and missing tokens, on
  // playlists and on the fMP4, through the gateway.
  const server::media::PlaybackSigner signer(*server::media::parse_playback_keys(kKeyA));
  const std::string expired = "?token=" + signer.sign(id, 1000000);
  std::string tampered = query;
  tampered[tampered.size() - 2] = tampered[tampered.size() - 2] == 'x' ? 'y' : 'x';
  for (const std::string& target : {base + "master.m3u8", base + "media.m3u8", file_path}) {
    auto e = http_call(port_, {verb::get, target + expired});
    EXPECT_EQ(e.status, 410) << target << " " << e.body;
    EXPECT_NE(e.body.find("\"code\":\"token_expired\""), std::string::npos) << e.body;
    auto t = http_call(port_, {verb::get, target + tampered});
    EXPECT_EQ(t.status, 403) << target << " " << t.body;
    EXPECT_NE(t.body.find("\"code\":\"invalid_token\""), std::string::npos) << t.body;
    auto n = http_call(port_, {verb::get, target});
    EXPECT_EQ(n.status, 403) << target << " " << n.body;
    EXPECT_NE(n.body.find("\"code\":\"missing_token\""), std::string::npos) << n.body;
  }

  // Rotation: switch all traffic to replicas whose first key is kb and that still list ka.
  auto switched = admin(verb::put, "/admin/v1/route", R"({"weights":{"blue":0,"green":100}})");
  ASSERT_EQ(switched.status, 200) << switched.body;
  // The session in progress is pinned by its token to the track it started on, so it plays
  // on there (issue 23: no viewer switches version mid-stream).
  for (int i = 0; i < 3; ++i) {
    const std::string seg = playlist_uri(media.body, i);
    auto r = http_call(port_, {verb::get, base + seg});
    EXPECT_EQ(r.status, 200) << "segment " << i << " of the session in progress: " << r.body;
    EXPECT_EQ(r.header("X-StreamGate-Version"), "v-old");
  }
  // A session that starts now with a token signed before the rotation (key ka) goes to the
  // new replicas, which still accept ka.
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  const std::string old_key = "?token=" + signer.sign(id, now_s + 3600);
  for (int i = 0; i < 3; ++i) {
    const std::string seg = playlist_uri(media.body, i);
    auto r = http_call(port_, {verb::get, base + seg.substr(0, seg.find('?')) + old_key});
    EXPECT_EQ(r.status, 200) << "segment " << i << " with a ka token on kb replicas: " << r.body;
    EXPECT_EQ(r.header("X-StreamGate-Version"), "v-new");
  }
  EXPECT_NE(start_playback(id).find("?token=kb."), std::string::npos) << "new sessions use kb";
}

// Two replicas count sessions in one Redis: with --max-streams 2, a third session is refused
// (503, Retry-After, stream_limit_reached) on either replica while the first two continue.
TEST_F(HlsTest, StreamCapHoldsAcrossReplicasWithRedis) {
  RedisInstance redis;
  ASSERT_TRUE(redis.start());
  const std::vector<std::string> args = {"--playback-keys", kKeyA, "--max-streams", "2"};
  ASSERT_NO_FATAL_FAILURE(add_replica("v-r", args, redis.url()));
  ASSERT_NO_FATAL_FAILURE(add_replica("v-r", args, redis.url()));
  ASSERT_NO_FATAL_FAILURE(start_gateway("tracks:\n  stable: { endpoints: [" + endpoints("v-r") +
                                        "] }\nroute: { weights: { stable: 100 } }\n"));
  const std::string id(upload(clip()).at("id").as_string());
  const std::uint16_t r1 = replicas_["v-r"][0]->port();
  const std::uint16_t r2 = replicas_["v-r"][1]->port();
  const std::string s1 = start_playback(id, r1);
  const std::string s2 = start_playback(id, r2);
  const std::string s3 = start_playback(id, r1);  // issued while two are not yet active
  ASSERT_EQ(http_get(r1, s1).status, 200);
  ASSERT_EQ(http_get(r2, s2).status, 200);
  for (std::uint16_t port : {r1, r2}) {
    auto refused = http_get(port, s3);
    EXPECT_EQ(refused.status, 503) << refused.body;
    EXPECT_NE(refused.body.find("stream_limit_reached"), std::string::npos);
    const int retry = std::atoi(refused.header("Retry-After").c_str());
    EXPECT_GE(retry, 1);
    EXPECT_LE(retry, 60);
  }
  auto start_refused = http_call(r2, {verb::post, "/api/v1/content/" + id + "/playback"});
  EXPECT_EQ(start_refused.status, 503) << start_refused.body;
  EXPECT_EQ(http_get(r2, s1).status, 200) << "sessions in progress continue on any replica";
  EXPECT_EQ(http_get(r1, s2).status, 200);
  const std::string metrics = http_get(r1, "/metrics").body;
  EXPECT_NE(metrics.find("streamgate_stream_sessions_active 2"), std::string::npos) << metrics;
}

// Not media, a truncated MP4 and one with a damaged moov: each upload succeeds, stays
// downloadable and says why it has no HLS; the replicas stay ready.
TEST_F(HlsTest, BadMediaGetsAClearAnswerAndTheServerStaysReady) {
  ASSERT_NO_FATAL_FAILURE(add_replica("v-a", {"--playback-keys", kKeyA}));
  ASSERT_NO_FATAL_FAILURE(start_gateway("tracks:\n  stable: { endpoints: [" + endpoints("v-a") +
                                        "] }\nroute: { weights: { stable: 100 } }\n"));
  const std::string bytes = read_file(clip());
  auto moov = find_top_level_box(clip(), "moov");
  ASSERT_TRUE(moov);
  std::string damaged = bytes;
  for (std::uint64_t i = moov->first + 8; i < moov->first + moov->second; ++i) {
    damaged[i] = static_cast<char>((i * 7919) & 0xff);
  }
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"notes.txt", std::string(200000, 'n')},
      {"truncated.mp4", bytes.substr(0, bytes.size() * 2 / 3)},
      {"damaged.mp4", damaged},
  };
  for (const auto& [name, content] : cases) {
    const auto path = dir_.path() / name;
    write_file(path, content);
    const json::value item = upload(path);
    const json::value& hls = item.at("media").at("hls");
    EXPECT_FALSE(hls.at("available").as_bool()) << name;
    const std::string reason(hls.at("reason").as_string());
    EXPECT_FALSE(reason.empty()) << name;
    if (name == "truncated.mp4") {
      EXPECT_NE(reason.find("moov atom not found"), std::string::npos) << reason;
    }
    const std::string id(item.at("id").as_string());
    auto download = http_call(port_, {verb::get, "/api/v1/content/" + id + "/media"});
    EXPECT_EQ(download.status, 200) << name;
    EXPECT_EQ(download.body.size(), content.size()) << name;
    auto playback = http_call(port_, {verb::post, "/api/v1/content/" + id + "/playback"});
    EXPECT_EQ(playback.status, 409) << name << " " << playback.body;
    EXPECT_NE(playback.body.find(reason.substr(0, 20)), std::string::npos) << playback.body;
  }
  EXPECT_EQ(http_get(replicas_["v-a"][0]->port(), "/ready").status, 200);
}

}  // namespace
}  // namespace sg::test
