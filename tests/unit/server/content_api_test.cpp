// ContentApi driven directly (no sockets) over real SQLite (in a temp file) and the
// in-process cache.
#include "server/content_api.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <thread>
#include <vector>

#include "common/metrics.hpp"
#include "support/services.hpp"

namespace sg::server {
namespace {

namespace bhttp = http::bhttp;
namespace json = boost::json;
constexpr const char* kToken = "test-token-123";

class ContentApiTest : public ::testing::Test {
 protected:
  void SetUp() override { build({}); }
  void TearDown() override { api_.reset(); }

  void build(ApiOptions opts) {
    api_.reset();
    if (!storage_) {
      auto s = open_storage("sqlite:" + (dir_ / "db.sqlite").string(), StorageOptions{});
      ASSERT_TRUE(s) << s.error().message;
      storage_ = std::move(*s);
      auto c = open_cache("memory", CacheOptions{});
      ASSERT_TRUE(c) << c.error().message;
      cache_ = std::move(*c);
      media_ = std::make_unique<MediaStore>(dir_ / "media");
      ASSERT_TRUE(media_->init());
    }
    opts.api_tokens = {kToken};
    opts.version_label = "v-test";
    api_ = std::make_unique<ContentApi>(opts, *storage_, *cache_, *media_, metrics_);
  }

  http::Response call(bhttp::verb method, std::string target, std::string body = {},
                      std::vector<std::pair<bhttp::field, std::string>> headers = {},
                      bool auth = true) {
    http::Request req{method, target, 11};
    if (auth) req.set(bhttp::field::authorization, std::string("Bearer ") + kToken);
    for (auto& [f, v] : headers) req.set(f, v);
    req.body() = std::move(body);
    req.prepare_payload();
    return api_->handle(req, http::RequestContext{"rid", std::chrono::steady_clock::now()});
  }

  json::value body_of(const http::Response& r) { return json::parse(r.msg.body()); }

  std::string create(const std::string& title, const std::string& tags = "[]") {
    auto r = call(bhttp::verb::post, "/api/v1/content",
                  R"({"title":")" + title + R"(","tags":)" + tags + "}");
    EXPECT_EQ(r.msg.result_int(), 201u) << r.msg.body();
    return std::string(body_of(r).at("id").as_string());
  }

  test::TempDir tmp_{"sg-api-test"};  // outlives the storage below
  const std::filesystem::path& dir_ = tmp_.path();
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<Cache> cache_;
  std::unique_ptr<MediaStore> media_;
  metrics::Registry registry_;
  ServerMetrics metrics_{registry_, "v-test"};
  std::unique_ptr<ContentApi> api_;
};

TEST_F(ContentApiTest, CreateThenGetReturnsTheItemWithItsEtag) {
  auto r = call(bhttp::verb::post, "/api/v1/content",
                R"({"title":"Intro","tags":["a"],"duration_seconds":5})");
  ASSERT_EQ(r.msg.result_int(), 201u) << r.msg.body();
  const std::string id(body_of(r).at("id").as_string());
  EXPECT_EQ(r.msg[bhttp::field::location], "/api/v1/content/" + id);
  EXPECT_EQ(r.msg[bhttp::field::etag], "\"1\"");
  auto g = call(bhttp::verb::get, "/api/v1/content/" + id);
  ASSERT_EQ(g.msg.result_int(), 200u);
  EXPECT_EQ(body_of(g).at("title").as_string(), "Intro");
  EXPECT_EQ(g.route, "/api/v1/content/{id}");
  // Second read is served from the cache.
  call(bhttp::verb::get, "/api/v1/content/" + id);
  EXPECT_GE(metrics_.cache_hit.value(), 1u);
}

TEST_F(ContentApiTest, WritesWithoutTokenAre401AndWithWrongToken403) {
  auto r = call(bhttp::verb::post, "/api/v1/content", R"({"title":"x"})", {}, false);
  EXPECT_EQ(r.msg.result_int(), 401u);
  EXPECT_EQ(r.msg[bhttp::field::www_authenticate], "Bearer");
  EXPECT_EQ(body_of(r).at("error").at("code").as_string(), "unauthenticated");
  r = call(bhttp::verb::post, "/api/v1/content", R"({"title":"x"})",
           {{bhttp::field::authorization, "Bearer wrong-token-xyz"}}, false);
  EXPECT_EQ(r.msg.result_int(), 403u);
  // Reads are public.
  EXPECT_EQ(call(bhttp::verb::get, "/api/v1/content", {}, {}, false).msg.result_int(), 200u);
}

TEST_F(ContentApiTest, HeadsAreScreenedForRouteTokenMethodAndSizeBeforeAnyBody) {
  auto screen = [&](bhttp::verb method, std::string target, std::string token,
                    std::uint64_t length) {
    http::RequestHeader head;
    head.method(method);
    head.target(target);
    if (!token.empty()) head.set(bhttp::field::authorization, "Bearer " + token);
    head.set(bhttp::field::content_length, std::to_string(length));
    auto r = api_->admit(head, http::RequestContext{"rid", std::chrono::steady_clock::now()});
    return r ? r->msg.result_int() : 0u;
  };
  const std::string item = "/api/v1/content/abc";
  EXPECT_EQ(screen(bhttp::verb::post, "/api/v1/content", "", 1 << 20), 401u);
  EXPECT_EQ(screen(bhttp::verb::post, "/api/v1/content", "wrong-token-1", 1 << 20), 403u);
  EXPECT_EQ(screen(bhttp::verb::post, "/nowhere", kToken, 10), 404u);
  EXPECT_EQ(screen(bhttp::verb::patch, "/api/v1/content", kToken, 10), 405u);
  EXPECT_EQ(screen(bhttp::verb::post, "/health", kToken, 0), 405u);
  EXPECT_EQ(screen(bhttp::verb::put, item + "/media", "", 10), 401u);
  EXPECT_EQ(screen(bhttp::verb::put, item + "/media", kToken, 9ULL << 30), 413u);
  EXPECT_EQ(screen(bhttp::verb::put, item + "/media", kToken, 10), 0u);
  EXPECT_EQ(screen(bhttp::verb::post, "/api/v1/content", kToken, 10), 0u);
  EXPECT_EQ(screen(bhttp::verb::get, item, "", 0), 0u);
  http::RequestHeader get;
  get.method(bhttp::verb::get);
  get.target(item);
  EXPECT_EQ(api_->plan_body(get).limit, 0u) << "a read carries no body";
}

TEST_F(ContentApiTest, ProbesAndCachedReadsAreAnsweredWithoutBlockingOthersAreNot) {
  const std::string id = create("cached");
  auto nonblocking = [&](std::string target) {
    http::Request req{bhttp::verb::get, target, 11};
    return api_->handle_nonblocking(req, {"rid", std::chrono::steady_clock::now()});
  };
  EXPECT_TRUE(nonblocking("/health").has_value());
  EXPECT_TRUE(nonblocking("/metrics").has_value());
  EXPECT_FALSE(nonblocking("/ready").has_value()) << "readiness asks storage";
  EXPECT_FALSE(nonblocking("/api/v1/content").has_value());
  EXPECT_FALSE(nonblocking("/api/v1/content/" + id).has_value()) << "not cached yet";
  ASSERT_EQ(call(bhttp::verb::get, "/api/v1/content/" + id).msg.result_int(), 200u);
  auto hit = nonblocking("/api/v1/content/" + id);
  ASSERT_TRUE(hit.has_value()) << "an in-process cache hit needs no other thread";
  EXPECT_EQ(hit->msg.result_int(), 200u);
  EXPECT_EQ(hit->msg[bhttp::field::etag], "\"1\"");
  EXPECT_EQ(hit->route, "/api/v1/content/{id}");
}

TEST_F(ContentApiTest, StaleIfMatchIs412AndCurrentIfMatchUpdates) {
  const std::string id = create("v1");
  auto ok = call(bhttp::verb::put, "/api/v1/content/" + id, R"({"title":"v2"})",
                 {{bhttp::field::if_match, "\"1\""}});
  ASSERT_EQ(ok.msg.result_int(), 200u) << ok.msg.body();
  EXPECT_EQ(ok.msg[bhttp::field::etag], "\"2\"");
  auto stale = call(bhttp::verb::put, "/api/v1/content/" + id, R"({"title":"v3"})",
                    {{bhttp::field::if_match, "\"1\""}});
  EXPECT_EQ(stale.msg.result_int(), 412u);
  EXPECT_EQ(body_of(stale).at("error").at("code").as_string(), "precondition_failed");
  // The cached copy was invalidated by the update.
  EXPECT_EQ(body_of(call(bhttp::verb::get, "/api/v1/content/" + id)).at("title").as_string(), "v2");
}

TEST_F(ContentApiTest, PatchMergesFields) {
  const std::string id = create("orig", R"(["x","y"])");
  auto r = call(bhttp::verb::patch, "/api/v1/content/" + id, R"({"description":"new"})");
  ASSERT_EQ(r.msg.result_int(), 200u) << r.msg.body();
  auto b = body_of(r);
  EXPECT_EQ(b.at("title").as_string(), "orig");
  EXPECT_EQ(b.at("description").as_string(), "new");
  EXPECT_EQ(b.at("tags").as_array().size(), 2u);
}

TEST_F(ContentApiTest, DeleteRemovesAndSecondDeleteIs404) {
  const std::string id = create("gone");
  call(bhttp::verb::get, "/api/v1/content/" + id);  // warm the cache
  EXPECT_EQ(call(bhttp::verb::delete_, "/api/v1/content/" + id).msg.result_int(), 204u);
  EXPECT_EQ(call(bhttp::verb::get, "/api/v1/content/" + id).msg.result_int(), 404u);
  EXPECT_EQ(call(bhttp::verb::delete_, "/api/v1/content/" + id).msg.result_int(), 404u);
}

TEST_F(ContentApiTest, ListPaginatesInCreationOrderAndFiltersByTag) {
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i)
    ids.push_back(create("item" + std::to_string(i), i % 2 ? R"(["odd"])" : "[]"));
  std::vector<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    auto r = call(bhttp::verb::get,
                  "/api/v1/content?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(r.msg.result_int(), 200u) << r.msg.body();
    auto b = body_of(r);
    for (auto& it : b.at("items").as_array()) seen.emplace_back(it.at("id").as_string());
    if (b.at("next_cursor").is_null()) break;
    cursor = std::string(b.at("next_cursor").as_string());
  }
  EXPECT_EQ(seen, ids);
  auto odd = body_of(call(bhttp::verb::get, "/api/v1/content?tag=odd&limit=100"));
  EXPECT_EQ(odd.at("items").as_array().size(), 3u);
  EXPECT_EQ(call(bhttp::verb::get, "/api/v1/content?limit=0").msg.result_int(), 400u);
  EXPECT_EQ(call(bhttp::verb::get, "/api/v1/content?cursor=zz").msg.result_int(), 400u);
  EXPECT_EQ(call(bhttp::verb::get, "/api/v1/content?bogus=1").msg.result_int(), 400u);
}

TEST_F(ContentApiTest, ErrorsAreJsonWithCodeAndMessage) {
  auto r = call(bhttp::verb::get, "/nope");
  EXPECT_EQ(r.msg.result_int(), 404u);
  EXPECT_EQ(r.route, "unknown");
  EXPECT_EQ(body_of(r).at("error").at("code").as_string(), "not_found");
  r = call(bhttp::verb::post, "/api/v1/content", "{bad json");
  EXPECT_EQ(r.msg.result_int(), 400u);
  EXPECT_FALSE(body_of(r).at("error").at("message").as_string().empty());
  r = call(bhttp::verb::delete_, "/health");
  EXPECT_EQ(r.msg.result_int(), 405u);
  EXPECT_EQ(r.msg[bhttp::field::allow], "GET, HEAD");
}

TEST_F(ContentApiTest, ChaosErrorRateFailsApiRequestsButNotProbes) {
  ApiOptions o;
  o.chaos_error_rate = 1.0;
  o.chaos_latency = std::chrono::milliseconds(250);
  build(o);
  auto r = call(bhttp::verb::get, "/api/v1/content");
  EXPECT_EQ(r.msg.result_int(), 500u);
  EXPECT_EQ(r.delay.count(), 250);
  EXPECT_EQ(call(bhttp::verb::get, "/ready").msg.result_int(), 200u);
  EXPECT_EQ(call(bhttp::verb::get, "/health").delay.count(), 0);
}

TEST_F(ContentApiTest, ChaosSegmentFlagsFailAndDelayOnlyHlsSegments) {
  ApiOptions o;
  o.chaos_segment_error_rate = 1.0;
  o.chaos_segment_delay = std::chrono::milliseconds(300);
  build(o);
  const std::string id = create("c");
  auto seg = call(bhttp::verb::get, "/api/v1/content/" + id + "/hls/clip.hls.mp4");
  EXPECT_EQ(seg.msg.result_int(), 500u);
  EXPECT_EQ(body_of(seg).at("error").at("code").as_string(), "injected_fault");
  EXPECT_EQ(seg.delay.count(), 300);
  // Playlists and the rest of the API are neither failed nor delayed (this item has no HLS).
  auto playlist = call(bhttp::verb::get, "/api/v1/content/" + id + "/hls/media.m3u8");
  EXPECT_NE(playlist.msg.result_int(), 500u);
  EXPECT_EQ(playlist.delay.count(), 0);
  auto item = call(bhttp::verb::get, "/api/v1/content/" + id);
  EXPECT_EQ(item.msg.result_int(), 200u);
  EXPECT_EQ(item.delay.count(), 0);
}

TEST_F(ContentApiTest, DrainingMakesReadinessFailButLivenessAndApiHealthServe) {
  api_->set_draining(true);
  EXPECT_EQ(call(bhttp::verb::get, "/ready").msg.result_int(), 503u);
  EXPECT_EQ(call(bhttp::verb::get, "/livez").msg.result_int(), 200u);
  auto h = call(bhttp::verb::get, "/api/v1/health");
  EXPECT_EQ(h.msg.result_int(), 200u);
  EXPECT_EQ(body_of(h).at("status").as_string(), "draining");
  EXPECT_EQ(body_of(h).at("version").as_string(), "v-test");
}

TEST_F(ContentApiTest, MetricsUseRouteTemplatesNotRawPaths) {
  const std::string id = create("m");
  auto r = call(bhttp::verb::get, "/api/v1/content/" + id);
  api_->on_complete({"GET", "/api/v1/content/" + id, r.route, "rid", 200, 0.002, 10, true});
  auto m = call(bhttp::verb::get, "/metrics");
  const std::string& text = m.msg.body();
  EXPECT_NE(
      text.find(R"(http_requests_total{method="GET",route="/api/v1/content/{id}",code="200"} 1)"),
      std::string::npos)
      << text;
  EXPECT_EQ(text.find(id), std::string::npos) << "raw id leaked into metrics";
  EXPECT_NE(text.find(R"(streamgate_version{version="v-test"} 1)"), std::string::npos);
}

TEST_F(ContentApiTest, MediaUploadThenRangedDownload) {
  const std::string id = create("video");
  http::RequestHeader head;
  head.method(bhttp::verb::put);
  head.target("/api/v1/content/" + id + "/media");
  head.set(bhttp::field::authorization, std::string("Bearer ") + kToken);
  head.set(bhttp::field::content_type, "video/mp4");
  EXPECT_EQ(api_->plan_body(head).mode, http::BodyPlan::Mode::kStream);
  auto opened = api_->open_sink(head, {"rid", std::chrono::steady_clock::now()});
  ASSERT_EQ(opened.index(), 0u) << std::get<1>(opened).msg.body();
  auto& sink = std::get<0>(opened);
  std::string data;
  for (int i = 0; i < 1000; ++i) data += static_cast<char>('a' + i % 26);
  ASSERT_TRUE(sink->write(std::string_view(data).substr(0, 400)));
  ASSERT_TRUE(sink->write(std::string_view(data).substr(400)));
  auto done = sink->finish();
  ASSERT_EQ(done.msg.result_int(), 200u) << done.msg.body();
  EXPECT_EQ(body_of(done).at("media").at("size").as_int64(), 1000);

  auto full = call(bhttp::verb::get, "/api/v1/content/" + id + "/media");
  ASSERT_EQ(full.msg.result_int(), 200u);
  ASSERT_TRUE(full.file);
  EXPECT_EQ(full.file->length, 1000u);
  EXPECT_EQ(full.msg[bhttp::field::content_type], "video/mp4");
  auto part = call(bhttp::verb::get, "/api/v1/content/" + id + "/media", {},
                   {{bhttp::field::range, "bytes=100-199"}});
  ASSERT_EQ(part.msg.result_int(), 206u);
  EXPECT_EQ(part.msg[bhttp::field::content_range], "bytes 100-199/1000");
  EXPECT_EQ(part.file->offset, 100u);
  EXPECT_EQ(part.file->length, 100u);
  auto bad = call(bhttp::verb::get, "/api/v1/content/" + id + "/media", {},
                  {{bhttp::field::range, "bytes=5000-"}});
  EXPECT_EQ(bad.msg.result_int(), 416u);
  EXPECT_EQ(bad.msg[bhttp::field::content_range], "bytes */1000");
}

// Uploads to one item from many threads at once, each replacing the media: only the file
// the item ends with stays on disk (each upload removes the one it replaced), and it is the
// one downloads serve.
TEST_F(ContentApiTest, ConcurrentUploadsToOneItemLeaveOnlyTheCurrentFile) {
  const std::string id = create("video");
  constexpr int kThreads = 6;
  constexpr int kPerThread = 8;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        http::RequestHeader head;
        head.method(bhttp::verb::put);
        head.target("/api/v1/content/" + id + "/media");
        head.set(bhttp::field::authorization, std::string("Bearer ") + kToken);
        head.set(bhttp::field::content_type, "video/mp4");
        auto opened = api_->open_sink(head, {"rid", std::chrono::steady_clock::now()});
        if (opened.index() != 0) {
          ++failures;
          continue;
        }
        auto& sink = std::get<0>(opened);
        const std::string data(100 + t * kPerThread + i, static_cast<char>('a' + t));
        if (!sink->write(data) || sink->finish().msg.result_int() != 200) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir_ / "media")) {
    files.push_back(e.path());
  }
  ASSERT_EQ(files.size(), 1u) << "replaced media files were left on disk";
  auto item = storage_->get(id);
  ASSERT_TRUE(item && item->media);
  EXPECT_EQ(files[0].filename().string(), item->media->file);
  EXPECT_EQ(std::filesystem::file_size(files[0]), item->media->size);
  auto full = call(bhttp::verb::get, "/api/v1/content/" + id + "/media");
  ASSERT_EQ(full.msg.result_int(), 200u);
  EXPECT_EQ(full.file->length, item->media->size);
}

TEST_F(ContentApiTest, AbandonedUploadLeavesNoFileBehind) {
  const std::string id = create("video");
  http::RequestHeader head;
  head.method(bhttp::verb::put);
  head.target("/api/v1/content/" + id + "/media");
  head.set(bhttp::field::authorization, std::string("Bearer ") + kToken);
  {
    auto opened = api_->open_sink(head, {"rid", std::chrono::steady_clock::now()});
    ASSERT_EQ(opened.index(), 0u);
    ASSERT_TRUE(std::get<0>(opened)->write("partial"));
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "media"));
  EXPECT_EQ(call(bhttp::verb::get, "/api/v1/content/" + id + "/media").msg.result_int(), 404u);
}

}  // namespace
}  // namespace sg::server
