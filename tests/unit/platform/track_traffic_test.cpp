#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/metrics.hpp"
#include "platform/track_traffic.hpp"

namespace sg::platform {
namespace {

// A scrape of the gateway's /metrics in the shape it emits: HELP/TYPE comments, requests by
// route, track and code, the latency histogram by route and track (cumulative buckets, +Inf,
// _sum, _count), and families that carry a track label but are not traffic.
constexpr const char* kScrape =
    R"(# HELP streamgate_gateway_requests_total Requests answered by the gateway, by route, track and status code.
# TYPE streamgate_gateway_requests_total counter
streamgate_gateway_requests_total{route="default",track="blue",code="200"} 950
streamgate_gateway_requests_total{route="default",track="blue",code="404"} 40
streamgate_gateway_requests_total{route="default",track="blue",code="503"} 10
streamgate_gateway_requests_total{route="default",track="canary",code="200"} 10
streamgate_gateway_requests_total{route="default",track="canary",code="502"} 2
streamgate_gateway_requests_total{route="default",track="canary",code="503"} 3
streamgate_gateway_requests_total{route="media",track="canary",code="206"} 5
streamgate_gateway_requests_total{route="none",track="none",code="404"} 7
# HELP streamgate_gateway_request_duration_seconds Time from request head to the end of the response, by route and track.
# TYPE streamgate_gateway_request_duration_seconds histogram
streamgate_gateway_request_duration_seconds_bucket{route="default",track="blue",le="0.01"} 600
streamgate_gateway_request_duration_seconds_bucket{route="default",track="blue",le="0.1"} 900
streamgate_gateway_request_duration_seconds_bucket{route="default",track="blue",le="1"} 990
streamgate_gateway_request_duration_seconds_bucket{route="default",track="blue",le="+Inf"} 1000
streamgate_gateway_request_duration_seconds_sum{route="default",track="blue"} 31.5
streamgate_gateway_request_duration_seconds_count{route="default",track="blue"} 1000
streamgate_gateway_request_duration_seconds_bucket{route="default",track="canary",le="0.01"} 4
streamgate_gateway_request_duration_seconds_bucket{route="default",track="canary",le="0.1"} 12
streamgate_gateway_request_duration_seconds_bucket{route="default",track="canary",le="1"} 14
streamgate_gateway_request_duration_seconds_bucket{route="default",track="canary",le="+Inf"} 15
streamgate_gateway_request_duration_seconds_sum{route="default",track="canary"} 2.25
streamgate_gateway_request_duration_seconds_count{route="default",track="canary"} 15
streamgate_gateway_request_duration_seconds_bucket{route="media",track="canary",le="0.01"} 1
streamgate_gateway_request_duration_seconds_bucket{route="media",track="canary",le="0.1"} 5
streamgate_gateway_request_duration_seconds_bucket{route="media",track="canary",le="1"} 5
streamgate_gateway_request_duration_seconds_bucket{route="media",track="canary",le="+Inf"} 5
streamgate_gateway_request_duration_seconds_sum{route="media",track="canary"} 0.2
streamgate_gateway_request_duration_seconds_count{route="media",track="canary"} 5
# HELP streamgate_gateway_retries_total Requests retried on another endpoint after a failure before any response byte.
# TYPE streamgate_gateway_retries_total counter
streamgate_gateway_retries_total{route="default",track="canary"} 9
# HELP streamgate_gateway_errors_total Responses the gateway generated itself, by reason.
# TYPE streamgate_gateway_errors_total counter
streamgate_gateway_errors_total{route="default",track="canary",reason="no_endpoint"} 3
# HELP streamgate_gateway_ejections_total Times an endpoint was ejected by passive outlier detection.
# TYPE streamgate_gateway_ejections_total counter
streamgate_gateway_ejections_total{track="canary",endpoint="127.0.0.1:40001"} 1
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 2.4117248e+07
streamgate_gateway_config_generation 4
)";

using Counts = std::vector<std::uint64_t>;
using Bounds = std::vector<double>;

TrackTraffic parse_ok(std::string_view text) {
  auto t = parse_track_traffic(text);
  if (!t) {
    ADD_FAILURE() << t.error().message;
    return {};
  }
  return *t;
}

TEST(TrackTraffic, CountsRequestsAndServerErrorsPerTrack) {
  const TrackTraffic t = parse_ok(kScrape);
  ASSERT_EQ(t.tracks.count("blue"), 1u);
  ASSERT_EQ(t.tracks.count("canary"), 1u);
  EXPECT_EQ(t.tracks.at("blue").requests, 1000u);
  EXPECT_EQ(t.tracks.at("blue").errors, 10u) << "404 is not a server error";
  // Both routes of the canary add up; 502 and 503 are errors, 206 is not.
  EXPECT_EQ(t.tracks.at("canary").requests, 20u);
  EXPECT_EQ(t.tracks.at("canary").errors, 5u);
  // Unrouted requests are their own track and never mix into a real one.
  ASSERT_EQ(t.tracks.count("none"), 1u);
  EXPECT_EQ(t.tracks.at("none").requests, 7u);
}

TEST(TrackTraffic, HistogramBucketsArePerBucketWithoutInfBound) {
  const TrackTraffic t = parse_ok(kScrape);
  const auto& blue = t.tracks.at("blue");
  EXPECT_EQ(blue.bounds, (Bounds{0.01, 0.1, 1}));
  EXPECT_EQ(blue.counts, (Counts{600, 300, 90, 10}));
  // The canary's two routes: cumulative 4+1, 12+5, 14+5, 15+5.
  const auto& canary = t.tracks.at("canary");
  EXPECT_EQ(canary.bounds, (Bounds{0.01, 0.1, 1}));
  EXPECT_EQ(canary.counts, (Counts{5, 12, 2, 1}));
  // A track with counters only has no histogram.
  EXPECT_TRUE(t.tracks.at("none").bounds.empty());
  EXPECT_TRUE(t.tracks.at("none").counts.empty());
}

TEST(TrackTraffic, IgnoresOtherFamiliesWithATrackLabel) {
  const std::string only_noise =
      "# TYPE streamgate_gateway_errors_total counter\n"
      "streamgate_gateway_errors_total{route=\"default\",track=\"canary\",reason=\"x\"} 3\n"
      "streamgate_gateway_retries_total{route=\"default\",track=\"canary\"} 9\n"
      "streamgate_gateway_request_duration_seconds_sum{route=\"default\",track=\"canary\"} 2\n"
      "streamgate_gateway_request_duration_seconds_count{route=\"default\",track=\"canary\"} 15\n"
      "streamgate_gateway_requests_total{route=\"default\",code=\"200\"} 11\n";
  const TrackTraffic t = parse_ok(only_noise);
  EXPECT_TRUE(t.tracks.empty()) << t.tracks.size() << " tracks";
}

TEST(TrackTraffic, EmptyScrapeHasNoTracks) {
  EXPECT_TRUE(parse_ok("").tracks.empty());
  EXPECT_TRUE(parse_ok("# only a comment\n").tracks.empty());
}

TEST(TrackTraffic, AcceptsTimestampsEscapedLabelsAndExponents) {
  const std::string text =
      "streamgate_gateway_requests_total{route=\"a\\\"b,c}\",track=\"green\",code=\"200\"} 1.5e3 "
      "1700000000000\n"
      "streamgate_gateway_requests_total{track=\"green\",code=\"500\",route=\"x\"} 2\n";
  const TrackTraffic t = parse_ok(text);
  ASSERT_EQ(t.tracks.count("green"), 1u);
  EXPECT_EQ(t.tracks.at("green").requests, 1502u);
  EXPECT_EQ(t.tracks.at("green").errors, 2u);
}

TEST(TrackTraffic, HistogramWithoutInfBucketIsAnErrorNamingTheTrack) {
  const std::string text =
      "streamgate_gateway_request_duration_seconds_bucket{route=\"default\",track=\"canary\","
      "le=\"0.1\"} 3\n"
      "streamgate_gateway_request_duration_seconds_bucket{route=\"default\",track=\"canary\","
      "le=\"1\"} 4\n";
  auto t = parse_track_traffic(text);
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find("'canary'"), std::string::npos) << t.error().message;
  EXPECT_NE(t.error().message.find("+Inf"), std::string::npos) << t.error().message;
}

TEST(TrackTraffic, ParsesWhatTheGatewayRegistryRenders) {
  // The same families as src/gateway/gateway_metrics.cpp, rendered by the real registry.
  metrics::Registry registry;
  auto& requests = registry.counter("streamgate_gateway_requests_total", "Requests.",
                                    {"route", "track", "code"});
  auto& duration = registry.histogram("streamgate_gateway_request_duration_seconds", "Latency.",
                                      {"route", "track"});
  requests.with({"default", "canary", "200"}).inc(97);
  requests.with({"default", "canary", "503"}).inc(3);
  for (int i = 0; i < 97; ++i) duration.with({"default", "canary"}).observe(0.004);
  for (int i = 0; i < 3; ++i) duration.with({"default", "canary"}).observe(30.0);

  const TrackTraffic t = parse_ok(registry.render());
  ASSERT_EQ(t.tracks.count("canary"), 1u);
  const auto& s = t.tracks.at("canary");
  EXPECT_EQ(s.requests, 100u);
  EXPECT_EQ(s.errors, 3u);
  const auto bounds = metrics::default_latency_buckets();
  EXPECT_EQ(s.bounds, Bounds(bounds.begin(), bounds.end()));
  ASSERT_EQ(s.counts.size(), bounds.size() + 1);
  std::uint64_t total = 0;
  for (auto c : s.counts) total += c;
  EXPECT_EQ(total, 100u);
  EXPECT_EQ(s.counts.back(), 3u) << "30 s is above the last bound";
  EXPECT_EQ(s.counts[2], 97u) << "4 ms falls in (2.5 ms, 5 ms]";
}

TrackTraffic traffic(const std::string& track, std::uint64_t requests, std::uint64_t errors,
                     Counts counts) {
  TrackTraffic t;
  auto& s = t.tracks[track];
  s.requests = requests;
  s.errors = errors;
  s.bounds = {0.1, 1};
  s.counts = std::move(counts);
  return t;
}

TEST(TrackTraffic, SinceSubtractsTheBaseline) {
  const TrackTraffic base = traffic("canary", 100, 4, {80, 15, 5});
  const TrackTraffic now = traffic("canary", 250, 10, {200, 40, 10});
  const auto s = now.since(base, "canary");
  EXPECT_EQ(s.requests, 150u);
  EXPECT_EQ(s.errors, 6u);
  EXPECT_EQ(s.bounds, (Bounds{0.1, 1}));
  EXPECT_EQ(s.counts, (Counts{120, 25, 5}));
}

TEST(TrackTraffic, SinceCountsFromZeroAfterAGatewayRestart) {
  const TrackTraffic base = traffic("canary", 1000, 40, {800, 150, 50});
  const TrackTraffic after_restart = traffic("canary", 30, 1, {25, 4, 1});
  const auto s = after_restart.since(base, "canary");
  EXPECT_EQ(s.requests, 30u);
  EXPECT_EQ(s.errors, 1u);
  EXPECT_EQ(s.counts, (Counts{25, 4, 1}));
}

TEST(TrackTraffic, SinceWithoutBaselineForTheTrackIsEverything) {
  const TrackTraffic base = traffic("blue", 1000, 40, {800, 150, 50});
  const TrackTraffic now = traffic("canary", 12, 2, {10, 1, 1});
  const auto s = now.since(base, "canary");
  EXPECT_EQ(s.requests, 12u);
  EXPECT_EQ(s.errors, 2u);
  EXPECT_EQ(s.counts, (Counts{10, 1, 1}));
}

TEST(TrackTraffic, SinceForAnUnknownTrackIsEmpty) {
  const TrackTraffic now = traffic("canary", 12, 2, {10, 1, 1});
  const auto s = now.since(now, "green");
  EXPECT_EQ(s.requests, 0u);
  EXPECT_EQ(s.errors, 0u);
  EXPECT_TRUE(s.bounds.empty());
  EXPECT_TRUE(s.counts.empty());
}

TEST(TrackTraffic, SinceOnParsedScrapesOfTheSameGateway) {
  const TrackTraffic base = parse_ok(kScrape);
  std::string later = kScrape;
  const std::string from = "track=\"canary\",code=\"503\"} 3";
  later.replace(later.find(from), from.size(), "track=\"canary\",code=\"503\"} 8");
  const std::string inf = "track=\"canary\",le=\"+Inf\"} 15";
  later.replace(later.find(inf), inf.size(), "track=\"canary\",le=\"+Inf\"} 20");
  const auto s = parse_ok(later).since(base, "canary");
  EXPECT_EQ(s.requests, 5u);
  EXPECT_EQ(s.errors, 5u);
  EXPECT_EQ(s.counts, (Counts{0, 0, 0, 5})) << "five slow failures above 1 s";
}

TEST(TrackTraffic, StreamingFamiliesPerTrackAndSinceSubtractsThem) {
  // The streaming families as src/gateway/gateway_metrics.cpp registers them.
  metrics::Registry registry;
  const std::vector<std::string> labels = {"route", "track"};
  auto& segments = registry.counter("streamgate_gateway_segment_requests_total", "S.", labels);
  auto& errors = registry.counter("streamgate_gateway_segment_errors_total", "E.", labels);
  auto& ttfb = registry.histogram("streamgate_gateway_segment_ttfb_seconds", "T.", labels);
  auto& started = registry.counter("streamgate_gateway_sessions_started_total", "St.", labels);
  auto& minutes = registry.counter("streamgate_gateway_session_minutes_total", "M.", labels);
  auto& rebuffer = registry.counter("streamgate_gateway_rebuffer_reports_total", "R.", labels);
  auto& mtp_n = registry.counter("streamgate_gateway_throughput_reports_total", "N.", labels);
  auto& mtp_sum = registry.counter("streamgate_gateway_throughput_kbps_total", "K.", labels);
  auto& playlists = registry.counter("streamgate_gateway_playlist_requests_total", "P.", labels);
  auto record = [&](int n_segments, int n_errors, double seconds) {
    segments.with({"default", "canary"}).inc(n_segments);
    errors.with({"default", "canary"}).inc(n_errors);
    for (int i = 0; i < n_segments; ++i) ttfb.with({"default", "canary"}).observe(seconds);
    started.with({"default", "canary"}).inc(2);
    minutes.with({"default", "canary"}).inc(3);
    rebuffer.with({"default", "canary"}).inc(1);
    mtp_n.with({"default", "canary"}).inc(4);
    mtp_sum.with({"default", "canary"}).inc(10000);
    playlists.with({"default", "canary"}).inc(7);
  };
  record(40, 2, 0.004);
  const TrackTraffic base = parse_ok(registry.render());
  const auto& b = base.tracks.at("canary").streaming;
  EXPECT_EQ(b.segments, 40u);
  EXPECT_EQ(b.segment_errors, 2u);
  EXPECT_EQ(b.sessions_started, 2u);
  EXPECT_EQ(b.session_minutes, 3u);
  EXPECT_EQ(b.rebuffer_reports, 1u);
  EXPECT_EQ(b.throughput_reports, 4u);
  EXPECT_EQ(b.throughput_kbps_sum, 10000);
  const auto bounds = metrics::default_latency_buckets();
  EXPECT_EQ(b.ttfb_bounds, Bounds(bounds.begin(), bounds.end()));
  ASSERT_EQ(b.ttfb_counts.size(), bounds.size() + 1);
  EXPECT_EQ(b.ttfb_counts[2], 40u) << "4 ms falls in (2.5 ms, 5 ms]";
  EXPECT_EQ(base.tracks.at("canary").requests, 0u) << "no requests_total series here";

  record(60, 1, 0.4);
  const auto s = parse_ok(registry.render()).since(base, "canary").streaming;
  EXPECT_EQ(s.segments, 60u);
  EXPECT_EQ(s.segment_errors, 1u);
  EXPECT_EQ(s.sessions_started, 2u);
  EXPECT_EQ(s.session_minutes, 3u);
  EXPECT_EQ(s.rebuffer_reports, 1u);
  EXPECT_EQ(s.throughput_reports, 4u);
  EXPECT_EQ(s.throughput_kbps_sum, 10000);
  std::uint64_t total = 0;
  for (auto c : s.ttfb_counts) total += c;
  EXPECT_EQ(total, 60u);
  EXPECT_EQ(s.ttfb_counts[2], 0u) << "the first 40 are in the baseline";
}

}  // namespace
}  // namespace sg::platform
