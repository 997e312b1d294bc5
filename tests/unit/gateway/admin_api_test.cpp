#include "gateway/admin_api.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>

namespace sg::gateway {
namespace {

namespace bhttp = http::bhttp;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kToken = "s3cret-admin-token";
constexpr const char* kConfig = R"({
  "tracks": {
    "stable": {"endpoints": ["127.0.0.1:9101", "127.0.0.1:9102"]},
    "canary": {"endpoints": ["127.0.0.1:9201"]}
  },
  "route": {"weights": {"stable": 95, "canary": 5}}
})";

GatewayConfig test_config() {
  auto c = parse_gateway_config_json(kConfig);
  EXPECT_TRUE(c.is_ok()) << c.error().message;
  return *c;
}

class AdminApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(state_.apply(test_config()).is_ok());
    registry_.counter("streamgate_gateway_test_total", "A test counter.").with({}).inc(3);
  }

  http::Response call(bhttp::verb method, std::string target, std::string body = {},
                      std::string token = kToken) {
    http::Request req{method, target, 11};
    if (!token.empty()) req.set(bhttp::field::authorization, "Bearer " + token);
    req.body() = std::move(body);
    req.prepare_payload();
    return api_.handle(req, http::RequestContext{"test", Clock::now()});
  }

  static json::value body_json(const http::Response& r) { return json::parse(r.msg.body()); }

  static std::string error_code(const http::Response& r) {
    return std::string(body_json(r).at("error").at("code").as_string());
  }

  std::uint64_t generation() const { return state_.table()->generation; }

  const Track& track(std::string_view name) const {
    for (const auto& t : state_.table()->tracks) {
      if (t.name == name) return t;
    }
    throw std::runtime_error("no track " + std::string(name));
  }

  GatewayState state_{1};
  metrics::Registry registry_;
  AdminApi api_{state_, registry_, kToken};
};

TEST_F(AdminApiTest, RequestWithoutTokenIsRejectedWith401) {
  auto r = call(bhttp::verb::get, "/admin/v1/config", "", "");
  EXPECT_EQ(r.msg.result(), bhttp::status::unauthorized) << r.msg.body();
  EXPECT_EQ(r.msg[bhttp::field::www_authenticate], "Bearer");
  EXPECT_EQ(error_code(r), "unauthenticated");
}

TEST_F(AdminApiTest, WrongTokenIsRejectedWith403AndChangesNothing) {
  auto r = call(bhttp::verb::put, "/admin/v1/route", R"({"weights":{"stable":100}})", "wrong");
  EXPECT_EQ(r.msg.result(), bhttp::status::forbidden) << r.msg.body();
  EXPECT_EQ(error_code(r), "permission_denied");
  EXPECT_EQ(generation(), 1u);
  EXPECT_EQ(track("canary").weight, 5);
}

TEST_F(AdminApiTest, EmptyTokenDisablesEverythingButMetricsAndHealth) {
  AdminApi disabled(state_, registry_, "");
  http::Request req{bhttp::verb::get, "/admin/v1/stats", 11};
  req.set(bhttp::field::authorization, "Bearer ");
  auto r = disabled.handle(req, {});
  EXPECT_EQ(r.msg.result(), bhttp::status::forbidden);
  EXPECT_NE(r.msg.body().find("admin API disabled: set the token env var"), std::string::npos)
      << r.msg.body();

  http::Request metrics{bhttp::verb::get, "/metrics", 11};
  auto m = disabled.handle(metrics, {});
  EXPECT_EQ(m.msg.result(), bhttp::status::ok);
  EXPECT_EQ(m.msg[bhttp::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(m.msg.body().find("streamgate_gateway_test_total 3"), std::string::npos)
      << m.msg.body();

  http::Request health{bhttp::verb::get, "/health", 11};
  auto h = disabled.handle(health, {});
  EXPECT_EQ(h.msg.result(), bhttp::status::ok);
  EXPECT_EQ(body_json(h).at("generation").as_int64(), 1);
}

TEST_F(AdminApiTest, GetConfigThenPutItBackRoundTrips) {
  auto got = call(bhttp::verb::get, "/admin/v1/config");
  ASSERT_EQ(got.msg.result(), bhttp::status::ok) << got.msg.body();
  json::value config = body_json(got);
  EXPECT_EQ(config.at("route").at("weights").at("canary").as_int64(), 5);

  config.as_object()["health_check"].as_object()["interval_ms"] = 250;
  config.as_object()["health_check"].as_object()["timeout_ms"] = 200;
  auto put = call(bhttp::verb::put, "/admin/v1/config", json::serialize(config));
  ASSERT_EQ(put.msg.result(), bhttp::status::ok) << put.msg.body();
  EXPECT_EQ(body_json(put).at("generation").as_int64(), 2);
  EXPECT_EQ(state_.table()->config.health_check.interval_ms, 250);

  auto again = call(bhttp::verb::get, "/admin/v1/config");
  EXPECT_EQ(body_json(again), config) << again.msg.body();
}

TEST_F(AdminApiTest, InvalidConfigIsRejectedAndOldConfigKeepsServing) {
  const auto before = state_.table();
  auto bad = call(bhttp::verb::put, "/admin/v1/config",
                  R"({"tracks":{"stable":{"endpoints":["127.0.0.1:9101"]}},
                      "route":{"weights":{"stable":105}}})");
  EXPECT_EQ(bad.msg.result(), bhttp::status::bad_request) << bad.msg.body();
  EXPECT_NE(bad.msg.body().find("route.weights"), std::string::npos) << bad.msg.body();

  auto garbage = call(bhttp::verb::put, "/admin/v1/config", "{\"tracks\": ");
  EXPECT_EQ(garbage.msg.result(), bhttp::status::bad_request) << garbage.msg.body();

  EXPECT_EQ(state_.table(), before) << "a rejected config must not replace the table";
  EXPECT_EQ(generation(), 1u);
}

TEST_F(AdminApiTest, RouteWeightChangeBumpsGenerationAndIsVisible) {
  auto r = call(bhttp::verb::put, "/admin/v1/route", R"({"weights":{"stable":50,"canary":50}})");
  ASSERT_EQ(r.msg.result(), bhttp::status::ok) << r.msg.body();
  EXPECT_EQ(body_json(r).at("generation").as_int64(), 2);
  EXPECT_EQ(generation(), 2u);
  EXPECT_EQ(track("stable").weight, 50);
  EXPECT_EQ(track("canary").weight, 50);

  auto stats = body_json(call(bhttp::verb::get, "/admin/v1/stats?window=10"));
  EXPECT_EQ(stats.at("tracks").at("canary").at("weight").as_int64(), 50);

  auto bad = call(bhttp::verb::put, "/admin/v1/route", R"({"weights":{"stable":50,"blue":50}})");
  EXPECT_EQ(bad.msg.result(), bhttp::status::bad_request) << bad.msg.body();
  EXPECT_EQ(generation(), 2u);
}

TEST_F(AdminApiTest, RouteChangeKeepsStickinessUnlessClearedWithNull) {
  auto sticky = call(bhttp::verb::put, "/admin/v1/route",
                     R"({"weights":{"stable":95,"canary":5},"sticky":{"header":"X-Viewer-Id"}})");
  ASSERT_EQ(sticky.msg.result(), bhttp::status::ok) << sticky.msg.body();
  ASSERT_TRUE(state_.table()->config.route.sticky.has_value());

  auto weights =
      call(bhttp::verb::put, "/admin/v1/route", R"({"weights":{"stable":90,"canary":10}})");
  ASSERT_EQ(weights.msg.result(), bhttp::status::ok) << weights.msg.body();
  ASSERT_TRUE(state_.table()->config.route.sticky.has_value());
  EXPECT_EQ(state_.table()->config.route.sticky->name, "X-Viewer-Id");

  auto cleared = call(bhttp::verb::put, "/admin/v1/route",
                      R"({"weights":{"stable":90,"canary":10},"sticky":null})");
  ASSERT_EQ(cleared.msg.result(), bhttp::status::ok) << cleared.msg.body();
  EXPECT_FALSE(state_.table()->config.route.sticky.has_value());
}

TEST_F(AdminApiTest, TrackIsCreatedAndDeletedOnlyWithoutWeight) {
  auto put = call(bhttp::verb::put, "/admin/v1/tracks/green",
                  R"({"endpoints":["127.0.0.1:9301"],"balance":"round_robin"})");
  ASSERT_EQ(put.msg.result(), bhttp::status::ok) << put.msg.body();
  EXPECT_EQ(track("green").weight, 0);
  EXPECT_EQ(track("green").balance, Balance::kRoundRobin);
  ASSERT_NE(state_.find_endpoint("127.0.0.1:9301"), nullptr);

  auto busy = call(bhttp::verb::delete_, "/admin/v1/tracks/canary");
  EXPECT_EQ(busy.msg.result(), bhttp::status::bad_request) << busy.msg.body();
  EXPECT_NE(busy.msg.body().find("weight 5"), std::string::npos) << busy.msg.body();

  ASSERT_EQ(call(bhttp::verb::put, "/admin/v1/route", R"({"weights":{"stable":100,"canary":0}})")
                .msg.result(),
            bhttp::status::ok);
  auto del = call(bhttp::verb::delete_, "/admin/v1/tracks/canary");
  ASSERT_EQ(del.msg.result(), bhttp::status::ok) << del.msg.body();
  EXPECT_FALSE(state_.table()->config.tracks.contains("canary"));
  EXPECT_EQ(state_.find_endpoint("127.0.0.1:9201"), nullptr);

  auto missing = call(bhttp::verb::delete_, "/admin/v1/tracks/canary");
  EXPECT_EQ(missing.msg.result(), bhttp::status::not_found) << missing.msg.body();
}

TEST_F(AdminApiTest, EndpointIsAddedAndRemovedByPercentEncodedAddress) {
  auto add = call(bhttp::verb::post, "/admin/v1/tracks/stable/endpoints",
                  R"({"address":"127.0.0.1:9103"})");
  ASSERT_EQ(add.msg.result(), bhttp::status::created) << add.msg.body();
  EXPECT_EQ(track("stable").endpoints.size(), 3u);
  ASSERT_NE(state_.find_endpoint("127.0.0.1:9103"), nullptr);

  auto dup = call(bhttp::verb::post, "/admin/v1/tracks/stable/endpoints",
                  R"({"address":"127.0.0.1:9103"})");
  EXPECT_EQ(dup.msg.result(), bhttp::status::conflict) << dup.msg.body();
  auto bad = call(bhttp::verb::post, "/admin/v1/tracks/stable/endpoints",
                  R"({"address":"not-an-address"})");
  EXPECT_EQ(bad.msg.result(), bhttp::status::bad_request) << bad.msg.body();
  auto nowhere =
      call(bhttp::verb::post, "/admin/v1/tracks/blue/endpoints", R"({"address":"127.0.0.1:9104"})");
  EXPECT_EQ(nowhere.msg.result(), bhttp::status::not_found) << nowhere.msg.body();

  auto del = call(bhttp::verb::delete_, "/admin/v1/tracks/stable/endpoints/127.0.0.1%3A9103");
  ASSERT_EQ(del.msg.result(), bhttp::status::ok) << del.msg.body();
  EXPECT_EQ(state_.find_endpoint("127.0.0.1:9103"), nullptr);
  EXPECT_EQ(track("stable").endpoints.size(), 2u);
  EXPECT_EQ(generation(), 3u) << "one generation per accepted change";

  auto last = call(bhttp::verb::delete_, "/admin/v1/tracks/canary/endpoints/127.0.0.1:9201");
  EXPECT_EQ(last.msg.result(), bhttp::status::bad_request)
      << "a weighted track cannot lose its last endpoint: " << last.msg.body();
}

TEST_F(AdminApiTest, DrainReportsDrainedOnceInFlightRequestsFinish) {
  auto ep = state_.find_endpoint("127.0.0.1:9102");
  ASSERT_NE(ep, nullptr);
  ep->begin_request();

  auto drain = call(bhttp::verb::post, "/admin/v1/endpoints/127.0.0.1%3A9102/drain");
  ASSERT_EQ(drain.msg.result(), bhttp::status::accepted) << drain.msg.body();
  auto d = body_json(drain);
  EXPECT_EQ(d.at("address").as_string(), "127.0.0.1:9102");
  EXPECT_TRUE(d.at("draining").as_bool());
  EXPECT_EQ(d.at("outstanding").as_int64(), 1);

  auto busy = body_json(call(bhttp::verb::get, "/admin/v1/endpoints/127.0.0.1:9102"));
  EXPECT_TRUE(busy.at("draining").as_bool());
  EXPECT_FALSE(busy.at("drained").as_bool());
  EXPECT_FALSE(busy.at("available").as_bool()) << "a draining endpoint takes no new requests";
  EXPECT_TRUE(busy.at("healthy").as_bool());

  ep->end_request();
  auto done = body_json(call(bhttp::verb::get, "/admin/v1/endpoints/127.0.0.1%3A9102"));
  EXPECT_TRUE(done.at("drained").as_bool());
  EXPECT_EQ(done.at("outstanding").as_int64(), 0);
  EXPECT_EQ(done.at("ejections").as_int64(), 0);

  auto unknown = call(bhttp::verb::post, "/admin/v1/endpoints/127.0.0.1:9999/drain");
  EXPECT_EQ(unknown.msg.result(), bhttp::status::not_found) << unknown.msg.body();
}

TEST_F(AdminApiTest, StatsReportRecordedTrafficPerTrackAndEndpoint) {
  const auto now = Clock::now();
  auto& stable = *track("stable").stats;
  for (int i = 0; i < 90; ++i) stable.record(now, 200, 0.010, false);
  for (int i = 0; i < 10; ++i) stable.record(now, 503, 0.002, true);
  state_.find_endpoint("127.0.0.1:9101")->stats().record(now, 404, 0.005, false);

  auto r = call(bhttp::verb::get, "/admin/v1/stats?window=10");
  ASSERT_EQ(r.msg.result(), bhttp::status::ok) << r.msg.body();
  auto s = body_json(r);
  EXPECT_EQ(s.at("generation").as_int64(), 1);
  const auto& t = s.at("tracks").at("stable");
  EXPECT_EQ(t.at("weight").as_int64(), 95);
  const auto& w = t.at("windows").at("10s");
  EXPECT_EQ(w.at("requests").as_int64(), 100);
  EXPECT_EQ(w.at("status_2xx").as_int64(), 90);
  EXPECT_EQ(w.at("status_5xx").as_int64(), 10);
  EXPECT_EQ(w.at("gateway_errors").as_int64(), 10);
  EXPECT_DOUBLE_EQ(w.at("error_rate").as_double(), 0.10);
  // Quantiles are exact to one histogram bucket: the one holding 10 ms.
  const std::size_t bucket = latency_bucket(0.010);
  const double lo_ms = latency_bounds()[bucket - 1] * 1000;
  const double hi_ms = latency_bounds()[bucket] * 1000;
  for (const char* q : {"p50_ms", "p95_ms", "p99_ms"}) {
    EXPECT_GE(w.at(q).as_double(), lo_ms) << q << " " << r.msg.body();
    EXPECT_LE(w.at(q).as_double(), hi_ms) << q << " " << r.msg.body();
  }
  EXPECT_NEAR(w.at("mean_ms").as_double(), 9.2, 0.01);
  EXPECT_DOUBLE_EQ(w.at("rps").as_double(), 10.0);
  EXPECT_FALSE(t.at("windows").as_object().contains("60s")) << "only the asked window";

  const auto& e = t.at("endpoints").at("127.0.0.1:9101");
  EXPECT_TRUE(e.at("healthy").as_bool());
  EXPECT_TRUE(e.at("available").as_bool());
  EXPECT_EQ(e.at("windows").at("10s").at("status_4xx").as_int64(), 1);
  EXPECT_EQ(s.at("tracks").at("canary").at("windows").at("10s").at("requests").as_int64(), 0);

  auto all = body_json(call(bhttp::verb::get, "/admin/v1/stats"));
  for (const char* key : {"10s", "60s", "300s"}) {
    EXPECT_EQ(all.at("tracks").at("stable").at("windows").at(key).at("requests").as_int64(), 100)
        << key;
  }
  auto bad = call(bhttp::verb::get, "/admin/v1/stats?window=301");
  EXPECT_EQ(bad.msg.result(), bhttp::status::bad_request) << bad.msg.body();
}

TEST_F(AdminApiTest, SessionsShowLiveAndActiveSessionsPerTrackWithTheirIdleTime) {
  const auto now = Clock::now();
  auto& table = state_.sessions();
  table.record("v1", HlsKind::kSegment, true, "stable", now - std::chrono::seconds(40));
  table.record("v2", HlsKind::kSegment, true, "stable", now - std::chrono::seconds(2));
  table.record("v3", HlsKind::kSegment, true, "gone", now - std::chrono::seconds(1));

  auto r = call(bhttp::verb::get, "/admin/v1/sessions?active_within=10");
  ASSERT_EQ(r.msg.result(), bhttp::status::ok) << r.msg.body();
  auto s = body_json(r);
  EXPECT_EQ(s.at("active_within_s").as_int64(), 10);
  EXPECT_EQ(s.at("tracked").as_int64(), 3);
  const auto& stable = s.at("tracks").at("stable");
  EXPECT_EQ(stable.at("sessions").as_int64(), 2) << r.msg.body();
  EXPECT_EQ(stable.at("active").as_int64(), 1) << r.msg.body();
  EXPECT_GE(stable.at("idle_s").as_double(), 2.0);
  EXPECT_LT(stable.at("idle_s").as_double(), 10.0);
  const auto& canary = s.at("tracks").at("canary");  // configured, no session
  EXPECT_EQ(canary.at("sessions").as_int64(), 0);
  EXPECT_TRUE(canary.at("idle_s").is_null());
  EXPECT_EQ(s.at("tracks").at("gone").at("sessions").as_int64(), 1) << "a track since removed";

  // The default window is 30 s: v1 (40 s ago) is live but not active.
  auto d = body_json(call(bhttp::verb::get, "/admin/v1/sessions"));
  EXPECT_EQ(d.at("active_within_s").as_int64(), 30);
  EXPECT_EQ(d.at("tracks").at("stable").at("active").as_int64(), 1);

  for (const char* bad : {"0", "3601", "x", "1.5"}) {
    auto b = call(bhttp::verb::get, std::string("/admin/v1/sessions?active_within=") + bad);
    EXPECT_EQ(b.msg.result(), bhttp::status::bad_request) << bad;
    EXPECT_NE(b.msg.body().find("active_within"), std::string::npos) << b.msg.body();
  }
  EXPECT_EQ(call(bhttp::verb::get, "/admin/v1/sessions", {}, "").msg.result(),
            bhttp::status::unauthorized);
  EXPECT_EQ(call(bhttp::verb::get, "/admin/v1/sessions", {}, "wrong").msg.result(),
            bhttp::status::forbidden);
  EXPECT_EQ(call(bhttp::verb::post, "/admin/v1/sessions").msg.result(),
            bhttp::status::method_not_allowed);
}

TEST_F(AdminApiTest, HistogramGivesRawBucketCountsWithBounds) {
  const auto now = Clock::now();
  auto& canary = *track("canary").stats;
  for (int i = 0; i < 7; ++i) canary.record(now, 200, 0.050, false);
  canary.record(now, 200, 120.0, false);

  auto r = call(bhttp::verb::get, "/admin/v1/stats/histogram?track=canary&window=60");
  ASSERT_EQ(r.msg.result(), bhttp::status::ok) << r.msg.body();
  auto h = body_json(r);
  EXPECT_EQ(h.at("track").as_string(), "canary");
  EXPECT_EQ(h.at("window_s").as_int64(), 60);
  EXPECT_EQ(h.at("requests").as_int64(), 8);
  const auto& bounds = h.at("bounds_s").as_array();
  const auto& counts = h.at("counts").as_array();
  ASSERT_EQ(bounds.size(), kLatencyBoundCount);
  ASSERT_EQ(counts.size(), kLatencyBucketCount);
  EXPECT_EQ(counts.at(latency_bucket(0.050)).as_int64(), 7);
  EXPECT_EQ(counts.back().as_int64(), 1) << "above 60 s lands in the overflow bucket";

  auto missing = call(bhttp::verb::get, "/admin/v1/stats/histogram?track=blue");
  EXPECT_EQ(missing.msg.result(), bhttp::status::not_found);
  auto no_track = call(bhttp::verb::get, "/admin/v1/stats/histogram");
  EXPECT_EQ(no_track.msg.result(), bhttp::status::bad_request);
}

TEST_F(AdminApiTest, StatsAndHistogramGiveTheUpstreamsOwnTimeBesideTheTotal) {
  const auto now = Clock::now();
  auto& canary = *track("canary").stats;
  // Slow readers stretch the total; the upstream answered every head in 2 ms.
  for (int i = 0; i < 90; ++i) canary.record(now, 200, 0.003, false, 0.002);
  for (int i = 0; i < 10; ++i) canary.record(now, 200, 30.0, false, 0.002);
  canary.record_failed_attempt(now);

  auto w = body_json(call(bhttp::verb::get, "/admin/v1/stats?window=10"))
               .at("tracks")
               .at("canary")
               .at("windows")
               .at("10s");
  EXPECT_GT(w.at("p95_ms").as_double(), 1000.0);
  EXPECT_LT(w.at("upstream_p95_ms").as_double(), 3.0);
  EXPECT_LT(w.at("upstream_p99_ms").as_double(), 3.0);
  EXPECT_GT(w.at("upstream_p50_ms").as_double(), 1.0);
  EXPECT_EQ(w.at("upstream_responses").as_int64(), 100);
  EXPECT_EQ(w.at("failed_attempts").as_int64(), 1);

  auto up = body_json(
      call(bhttp::verb::get, "/admin/v1/stats/histogram?track=canary&window=10&latency=upstream"));
  EXPECT_EQ(up.at("latency").as_string(), "upstream");
  EXPECT_EQ(up.at("requests").as_int64(), 100);
  EXPECT_EQ(up.at("counts").as_array().at(latency_bucket(0.002)).as_int64(), 100);
  auto total =
      body_json(call(bhttp::verb::get, "/admin/v1/stats/histogram?track=canary&window=10"));
  EXPECT_EQ(total.at("latency").as_string(), "total");
  EXPECT_EQ(total.at("counts").as_array().at(latency_bucket(30.0)).as_int64(), 10);
  auto bad = call(bhttp::verb::get, "/admin/v1/stats/histogram?track=canary&latency=fast");
  EXPECT_EQ(bad.msg.result(), bhttp::status::bad_request) << bad.msg.body();
}

TEST_F(AdminApiTest, WrongMethodGets405WithAllowAndUnknownPathGets404) {
  auto r = call(bhttp::verb::delete_, "/admin/v1/config");
  EXPECT_EQ(r.msg.result(), bhttp::status::method_not_allowed);
  EXPECT_EQ(r.msg[bhttp::field::allow], "GET, PUT");
  EXPECT_EQ(error_code(r), "method_not_allowed");

  auto unknown = call(bhttp::verb::get, "/admin/v1/nothing-here");
  EXPECT_EQ(unknown.msg.result(), bhttp::status::not_found);
  EXPECT_EQ(error_code(unknown), "not_found");
  EXPECT_EQ(call(bhttp::verb::get, "/elsewhere").msg.result(), bhttp::status::not_found);
}

TEST_F(AdminApiTest, HeadsAreScreenedForRouteMethodAndTokenBeforeAnyBody) {
  auto screen = [&](bhttp::verb method, std::string target, std::string token) {
    http::RequestHeader head;
    head.method(method);
    head.target(target);
    if (!token.empty()) head.set(bhttp::field::authorization, "Bearer " + token);
    head.set(bhttp::field::content_length, "1048576");  // announced, never read
    auto r = api_.admit(head, http::RequestContext{"test", Clock::now()});
    return r ? r->msg.result_int() : 0u;
  };
  EXPECT_EQ(screen(bhttp::verb::put, "/admin/v1/config", ""), 401u);
  EXPECT_EQ(screen(bhttp::verb::put, "/admin/v1/config", "wrong-token"), 403u);
  EXPECT_EQ(screen(bhttp::verb::put, "/admin/v1/nothing", kToken), 404u);
  EXPECT_EQ(screen(bhttp::verb::post, "/admin/v1/config", kToken), 405u);
  EXPECT_EQ(screen(bhttp::verb::post, "/metrics", ""), 405u);
  EXPECT_EQ(screen(bhttp::verb::get, "/metrics", ""), 0u);
  EXPECT_EQ(screen(bhttp::verb::put, "/admin/v1/config", kToken), 0u);
  EXPECT_EQ(screen(bhttp::verb::post, "/admin/v1/tracks/a/endpoints", kToken), 0u);
  http::RequestHeader get;
  get.method(bhttp::verb::get);
  EXPECT_EQ(api_.plan_body(get).limit, 0u) << "a GET carries no body";
  http::RequestHeader put;
  put.method(bhttp::verb::put);
  EXPECT_EQ(api_.plan_body(put).limit, 1024u * 1024u);
}

TEST_F(AdminApiTest, WrappedApplyDecidesWhetherAChangeIsAccepted) {
  int calls = 0;
  AdminApi guarded(state_, registry_, kToken, [&](const GatewayConfig& c) -> Status {
    ++calls;
    if (c.listen != state_.table()->config.listen) {
      return make_error(ErrorCode::kInvalidArgument, "listen: needs a restart");
    }
    return state_.apply(c);
  });
  auto config = body_json(call(bhttp::verb::get, "/admin/v1/config"));
  config.as_object()["listen"] = "127.0.0.1:18080";
  http::Request req{bhttp::verb::put, "/admin/v1/config", 11};
  req.set(bhttp::field::authorization, std::string("Bearer ") + kToken);
  req.body() = json::serialize(config);
  auto r = guarded.handle(req, {});
  EXPECT_EQ(r.msg.result(), bhttp::status::bad_request) << r.msg.body();
  EXPECT_NE(r.msg.body().find("needs a restart"), std::string::npos);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(generation(), 1u);
}

}  // namespace
}  // namespace sg::gateway
