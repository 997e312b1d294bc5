// ContentApi's playback surface driven directly (no sockets) over real SQLite, the
// in-process cache and a clip made by ffmpeg.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>

#include "common/metrics.hpp"
#include "server/content_api.hpp"
#include "server/media/player_assets.hpp"
#include "support/media_clips.hpp"
#include "support/services.hpp"

namespace sg::server {
namespace {

namespace bhttp = http::bhttp;
namespace json = boost::json;
constexpr const char* kToken = "test-token-123";
const std::string kKeyA = "ka:" + std::string(32, 'x');
const std::string kKeyB = "kb:" + std::string(32, 'y');

class HlsApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    clip_dir_ = std::make_unique<test::TempDir>("sg-hls-clip");
    Status st = test::make_test_clip(clip_dir_->path() / "clip.mp4");
    ASSERT_TRUE(st) << st.error().message;
    clip_ = test::read_file(clip_dir_->path() / "clip.mp4");
  }
  static void TearDownTestSuite() { clip_dir_.reset(); }

  void SetUp() override {
    auto s = open_storage("sqlite:" + (dir_.path() / "db.sqlite").string(), StorageOptions{});
    ASSERT_TRUE(s) << s.error().message;
    storage_ = std::move(*s);
    auto c = open_cache("memory", CacheOptions{});
    ASSERT_TRUE(c);
    cache_ = std::move(c).value();
    media_ = std::make_unique<MediaStore>(dir_.path() / "media");
    ASSERT_TRUE(media_->init());
    build({});
  }

  void build(const std::string& keys, std::size_t max_streams = 1000) {
    ApiOptions opts;
    opts.api_tokens = {kToken};
    if (!keys.empty()) opts.playback_keys = *media::parse_playback_keys(keys);
    opts.sessions.max_sessions = max_streams;
    api_ = std::make_unique<ContentApi>(opts, *storage_, *cache_, *media_, metrics_);
  }

  http::Response call(bhttp::verb method, const std::string& target,
                      std::vector<std::pair<bhttp::field, std::string>> headers = {}) {
    http::Request req{method, target, 11};
    for (auto& [f, v] : headers) req.set(f, v);
    req.prepare_payload();
    return api_->handle(req, http::RequestContext{"rid", std::chrono::steady_clock::now()});
  }
  http::Response get(const std::string& target) { return call(bhttp::verb::get, target); }

  std::string create_with_media(const std::string& bytes) {
    http::Request req{bhttp::verb::post, "/api/v1/content", 11};
    req.set(bhttp::field::authorization, std::string("Bearer ") + kToken);
    req.body() = R"({"title":"clip"})";
    req.prepare_payload();
    auto created = api_->handle(req, {"rid", std::chrono::steady_clock::now()});
    const std::string id(json::parse(created.msg.body()).at("id").as_string());
    http::RequestHeader head;
    head.method(bhttp::verb::put);
    head.target("/api/v1/content/" + id + "/media");
    head.set(bhttp::field::authorization, std::string("Bearer ") + kToken);
    head.set(bhttp::field::content_type, "video/mp4");
    auto opened = api_->open_sink(head, {"rid", std::chrono::steady_clock::now()});
    EXPECT_EQ(opened.index(), 0u);
    auto& sink = std::get<0>(opened);
    EXPECT_TRUE(sink->write(bytes));
    uploaded_ = sink->finish();
    EXPECT_EQ(uploaded_.msg.result_int(), 200u) << uploaded_.msg.body();
    return id;
  }

  // The master URL a playback session gets.
  std::string start_playback(const std::string& id) {
    auto r = call(bhttp::verb::post, "/api/v1/content/" + id + "/playback");
    EXPECT_EQ(r.msg.result_int(), 200u) << r.msg.body();
    return std::string(json::parse(r.msg.body()).at("master_url").as_string());
  }

  static inline std::unique_ptr<test::TempDir> clip_dir_;
  static inline std::string clip_;
  test::TempDir dir_{"sg-hls-api"};
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<Cache> cache_;
  std::unique_ptr<MediaStore> media_;
  metrics::Registry registry_;
  ServerMetrics metrics_{registry_, "v-test"};
  std::unique_ptr<ContentApi> api_;
  http::Response uploaded_;
};

// The last line of a playlist that is a URI (not a tag), resolved against `base`.
std::string last_uri(const std::string& playlist, const std::string& base) {
  std::string line, last;
  for (char c : playlist) {
    if (c != '\n') {
      line += c;
      continue;
    }
    if (!line.empty() && line[0] != '#') last = line;
    line.clear();
  }
  return base.substr(0, base.rfind('/') + 1) + last;
}

TEST_F(HlsApiTest, UploadIsProbedAndServedAsByteRangeHls) {
  const std::string id = create_with_media(clip_);
  const json::value media = json::parse(uploaded_.msg.body()).at("media");
  EXPECT_EQ(media.at("probe").at("container").as_string(), "mov,mp4,m4a,3gp,3g2,mj2");
  EXPECT_EQ(media.at("probe").at("streams").as_array().size(), 2u);
  EXPECT_EQ(media.at("probe").at("keyframes").as_array().size(), 6u);
  EXPECT_EQ(media.at("hls").at("available").as_bool(), true);
  EXPECT_EQ(media.at("hls").at("segments").as_int64(), 3);
  EXPECT_EQ(media.at("hls").at("playback_url").as_string(), "/api/v1/content/" + id + "/playback");

  const std::string master_url = start_playback(id);
  EXPECT_EQ(master_url, "/api/v1/content/" + id + "/hls/master.m3u8") << "unsigned: no token";
  auto master = get(master_url);
  ASSERT_EQ(master.msg.result_int(), 200u) << master.msg.body();
  EXPECT_EQ(master.msg[bhttp::field::content_type], "application/vnd.apple.mpegurl");
  EXPECT_EQ(master.msg[bhttp::field::cache_control], "no-cache");
  const std::string media_url = last_uri(master.msg.body(), master_url);
  auto playlist = get(media_url);
  ASSERT_EQ(playlist.msg.result_int(), 200u);
  EXPECT_NE(playlist.msg.body().find("#EXT-X-MAP:URI="), std::string::npos);
  EXPECT_NE(playlist.msg.body().find("#EXT-X-ENDLIST"), std::string::npos);

  const std::string file_url = last_uri(playlist.msg.body(), media_url);
  auto init = call(bhttp::verb::get, file_url, {{bhttp::field::range, "bytes=0-99"}});
  ASSERT_EQ(init.msg.result_int(), 206u) << init.msg.body();
  EXPECT_EQ(init.msg[bhttp::field::content_type], "video/mp4");
  EXPECT_EQ(init.msg[bhttp::field::cache_control], "public, max-age=31536000, immutable");
  ASSERT_TRUE(init.file);
  EXPECT_EQ(init.file->length, 100u);
  EXPECT_EQ(get("/api/v1/content/" + id + "/hls/other.mp4").msg.result_int(), 404u);
  EXPECT_NE(registry_.render().find("streamgate_hls_requests_total{kind=\"segment\",result=\"ok\"} 1"),
            std::string::npos);
}

TEST_F(HlsApiTest, NonMediaStaysDownloadableAndSaysWhyThereIsNoHls) {
  const std::string id = create_with_media(std::string(300000, 'z'));
  const json::value media = json::parse(uploaded_.msg.body()).at("media");
  EXPECT_TRUE(media.at("probe").is_null());
  EXPECT_EQ(media.at("hls").at("available").as_bool(), false);
  EXPECT_NE(media.at("hls").at("reason").as_string().find("not media"), json::string::npos);
  EXPECT_EQ(get("/api/v1/content/" + id + "/media").msg.result_int(), 200u);
  auto playback = call(bhttp::verb::post, "/api/v1/content/" + id + "/playback");
  EXPECT_EQ(playback.msg.result_int(), 409u);
  EXPECT_NE(playback.msg.body().find("\"code\":\"hls_unavailable\""), std::string::npos);
  EXPECT_EQ(get("/api/v1/content/" + id + "/hls/master.m3u8").msg.result_int(), 409u);
}

TEST_F(HlsApiTest, SignedPlaybackRefusesMissingBadAndExpiredTokens) {
  build(kKeyA);
  const std::string id = create_with_media(clip_);
  const std::string master_url = start_playback(id);
  ASSERT_NE(master_url.find("?token=ka."), std::string::npos) << master_url;
  auto ok = get(master_url);
  ASSERT_EQ(ok.msg.result_int(), 200u);
  EXPECT_EQ(ok.msg[bhttp::field::cache_control], "private, no-cache");
  const std::string media_url = last_uri(ok.msg.body(), master_url);
  const std::string file_url = last_uri(get(media_url).msg.body(), media_url);
  ASSERT_NE(file_url.find("?token=ka."), std::string::npos) << file_url;
  auto seg = get(file_url);
  EXPECT_EQ(seg.msg.result_int(), 200u);
  EXPECT_TRUE(seg.msg[bhttp::field::cache_control].starts_with("private, max-age=1"));

  const std::string bare = master_url.substr(0, master_url.find('?'));
  auto missing = get(bare);
  EXPECT_EQ(missing.msg.result_int(), 403u);
  EXPECT_NE(missing.msg.body().find("missing_token"), std::string::npos);
  std::string tampered = file_url;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  auto bad = get(tampered);
  EXPECT_EQ(bad.msg.result_int(), 403u);
  EXPECT_NE(bad.msg.body().find("invalid_token"), std::string::npos);
  const media::PlaybackSigner signer(*media::parse_playback_keys(kKeyA));
  const std::string old = signer.sign(id, 1000);
  auto expired = get(bare + "?token=" + old);
  EXPECT_EQ(expired.msg.result_int(), 410u);
  EXPECT_NE(expired.msg.body().find("token_expired"), std::string::npos);
  auto other_item = get("/api/v1/content/00000000-0000-4000-8000-000000000000/hls/master.m3u8" +
                        master_url.substr(master_url.find('?')));
  EXPECT_EQ(other_item.msg.result_int(), 403u) << "a token is for one content item";

  build(kKeyB + "," + kKeyA);  // rotation: b signs now, a still verifies
  EXPECT_EQ(get(file_url).msg.result_int(), 200u) << "a session in progress keeps playing";
  EXPECT_NE(start_playback(id).find("?token=kb."), std::string::npos);
}

TEST_F(HlsApiTest, StreamCapRefusesTheNextSessionWithRetryAfterAndKeepsTheFirst) {
  build(kKeyA, 1);
  const std::string id = create_with_media(clip_);
  const std::string first = start_playback(id);
  ASSERT_EQ(get(first).msg.result_int(), 200u);
  auto refused_start = call(bhttp::verb::post, "/api/v1/content/" + id + "/playback");
  EXPECT_EQ(refused_start.msg.result_int(), 503u);
  EXPECT_NE(refused_start.msg.body().find("stream_limit_reached"), std::string::npos);
  const media::PlaybackSigner signer(*media::parse_playback_keys(kKeyA));
  const std::string second = first.substr(0, first.find('?')) + "?token=" +
                             signer.sign(id, 4'000'000'000);
  auto refused = get(second);
  EXPECT_EQ(refused.msg.result_int(), 503u);
  EXPECT_NE(refused.msg.body().find("stream_limit_reached"), std::string::npos);
  const int retry = std::stoi(std::string(refused.msg[bhttp::field::retry_after]));
  EXPECT_GE(retry, 59);
  EXPECT_LE(retry, 60);
  EXPECT_EQ(get(first).msg.result_int(), 200u) << "the session in progress continues";
  const std::string text = registry_.render();
  EXPECT_NE(text.find("streamgate_stream_sessions_refused_total 2"), std::string::npos) << text;
  EXPECT_NE(text.find("streamgate_stream_sessions_started_total 1"), std::string::npos);
}

TEST_F(HlsApiTest, WatchPageLoadsThePinnedHlsJsServedByUs) {
  const std::string id = create_with_media(clip_);
  auto page = get("/watch/" + id);
  ASSERT_EQ(page.msg.result_int(), 200u);
  EXPECT_EQ(page.msg[bhttp::field::content_type], "text/html; charset=utf-8");
  const std::string js_url =
      "/static/hls.js/" + std::string(media::hls_js_version()) + "/hls.min.js";
  EXPECT_NE(page.msg.body().find("src=\"" + js_url + "\""), std::string::npos);
  EXPECT_NE(page.msg.body().find("contentId: \"" + id + "\""), std::string::npos);
  EXPECT_EQ(page.msg.body().find("http://"), std::string::npos) << "no outside hosts";
  EXPECT_EQ(page.msg.body().find("https://"), std::string::npos) << "no outside hosts";
  auto js = get(js_url);
  ASSERT_EQ(js.msg.result_int(), 200u);
  EXPECT_GT(js.msg.body().size(), 100000u);
  EXPECT_NE(js.msg.body().find(std::string(media::hls_js_version())), std::string::npos);
  EXPECT_EQ(get("/static/hls.js/0.0.1/hls.min.js").msg.result_int(), 404u);
  EXPECT_EQ(get("/watch/00000000-0000-4000-8000-000000000000").msg.result_int(), 404u);
}

TEST_F(HlsApiTest, DeletingTheItemRemovesTheHlsFileToo) {
  const std::string id = create_with_media(clip_);
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_.path() / "media")) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 2u) << "the upload and its fMP4";
  http::Request req{bhttp::verb::delete_, "/api/v1/content/" + id, 11};
  req.set(bhttp::field::authorization, std::string("Bearer ") + kToken);
  EXPECT_EQ(api_->handle(req, {"rid", std::chrono::steady_clock::now()}).msg.result_int(), 204u);
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path() / "media"));
}

}  // namespace
}  // namespace sg::server
