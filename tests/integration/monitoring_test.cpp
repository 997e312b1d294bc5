// Monitoring end to end: Debian's Prometheus, on loopback in a temp dir, runs the committed
// deploy/prometheus/prometheus.yml and alerts.yml against a real local platform (`sgctl up`),
// finds its targets through the files the control plane writes, and
//   * sees the control plane's Kubernetes-named series (deployments, pods, rollout, the HPA
//     while autoscaling is on);
//   * fires StreamGateCanaryFailing for a canary that fails 30 % of its requests (deployed
//     with a judge that waits for a million requests, so the canary stays in);
//   * answers every query of deploy/grafana/streamgate.json without error, each panel's
//     first query with data: the streaming row's too, after simulated viewers (a real clip,
//     playback sessions with CMCD: sid, buffer starvation, measured throughput, one malformed
//     report each) watched through the gateway, with the mean throughput and the malformed
//     share checked against what they reported.
// The state dir sits at DIR/.streamgate beside a copy of deploy/prometheus/, so the config's
// relative paths are the ones a developer uses from the repository root.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <thread>
#include <vector>

#include "common/http/url.hpp"
#include "integration/content_upload.hpp"
#include "integration/http_client.hpp"
#include "integration/paced_load.hpp"
#include "integration/sgctl_fixture.hpp"
#include "support/media_clips.hpp"

namespace sg::test {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using boost::beast::http::verb;
using Headers = std::vector<std::pair<std::string, std::string>>;

class MonitoringTest : public SgctlFixture {
 protected:
  void SetUp() override {
    SgctlFixture::SetUp();
    const fs::path repo = dir_.path() / "repo";
    state_ = repo / ".streamgate";
    fs::create_directories(repo / "deploy" / "prometheus");
    for (const char* f : {"prometheus.yml", "alerts.yml"}) {
      fs::copy_file(fs::path(SG_SOURCE_DIR) / "deploy" / "prometheus" / f,
                    repo / "deploy" / "prometheus" / f);
    }
    config_ = repo / "deploy" / "prometheus" / "prometheus.yml";
  }

  void TearDown() override {
    if (prometheus_) prometheus_->terminate(10s);
    SgctlFixture::TearDown();
  }

  void start_prometheus() {
    prom_port_ = free_port();
    auto child = sg::test::start_prometheus(config_, dir_.path(), prom_port_);
    ASSERT_TRUE(child) << child.error().message;
    prometheus_.emplace(std::move(*child));
  }

  // GET /api/v1/query; the parsed answer, or null when the exchange failed.
  json::value query(const std::string& promql) {
    auto r = http_get(prom_port_, "/api/v1/query?query=" + sg::http::percent_encode(promql));
    boost::system::error_code ec;
    auto v = json::parse(r.body, ec);
    return ec ? json::value(nullptr) : v;
  }

  // Polls `promql` until it has a result (at most `limit`).
  json::value wait_for_result(const std::string& promql, std::chrono::seconds limit) {
    const auto end = Clock::now() + limit;
    json::value v;
    while (Clock::now() < end) {
      v = query(promql);
      if (v.is_object() && v.at("status") == "success" &&
          !v.at("data").at("result").as_array().empty()) {
        return v;
      }
      std::this_thread::sleep_for(1s);
    }
    return v;
  }

  // Uploads a 12 s clip (3 segments) through the gateway; its content id.
  std::string upload_clip() {
    const fs::path clip = dir_.path() / "clip.mp4";
    Status st = make_test_clip(clip);
    EXPECT_TRUE(st) << st.error().message;
    auto id = upload_content(port_, read_api_token(state_), clip);
    EXPECT_TRUE(id) << id.error().message;
    return id ? *id : std::string();
  }

  // One viewer as hls.js reports (CMCD in the query, session `sid`): POST playback, the media
  // playlist, the init section, each segment with mtp 1000/2000/3000 and bs on the second,
  // then the media playlist again with a malformed CMCD value. Answers are not checked (the
  // canary fails some on purpose); returns the requests that carried a CMCD mtp.
  int watch(const std::string& id, const std::string& sid) {
    auto pb = http_call(port_, {verb::post, "/api/v1/content/" + id + "/playback"});
    if (pb.status != 200) return 0;
    const std::string media(json::parse(pb.body).at("media_url").as_string());
    const std::string base = "/api/v1/content/" + id + "/hls/";
    auto get = [&](const std::string& target, const std::string& cmcd, const Headers& h = {}) {
      const char sep = target.find('?') == std::string::npos ? '?' : '&';
      return http_get(port_, target + sep + "CMCD=" + cmcd, h);
    };
    const std::string session = "%2Csid%3D%22" + sid + "%22";
    auto playlist = get(media, "ot%3Dm" + session);
    if (playlist.status != 200) return 0;
    std::vector<std::pair<std::string, std::string>> ranges;  // uri, Range header value
    const std::regex byterange("#EXT-X-BYTERANGE:(\\d+)@(\\d+)\n([^\n]+)");
    for (auto it = std::sregex_iterator(playlist.body.begin(), playlist.body.end(), byterange);
         it != std::sregex_iterator(); ++it) {
      const long long len = std::stoll((*it)[1]), off = std::stoll((*it)[2]);
      ranges.emplace_back((*it)[3],
                          "bytes=" + std::to_string(off) + "-" + std::to_string(off + len - 1));
    }
    if (ranges.empty()) return 0;
    (void)get(base + ranges[0].first, "ot%3Di" + session, {{"Range", "bytes=0-99"}});
    int reports = 0;
    for (std::size_t i = 0; i < ranges.size() && i < 3; ++i) {
      const std::string mtp = std::to_string(1000 * (i + 1));
      (void)get(base + ranges[i].first,
                "mtp%3D" + mtp + "%2Cot%3Dv" + (i == 1 ? "%2Cbs" : "") + session,
                {{"Range", ranges[i].second}});
      ++reports;
    }
    (void)get(media, "ot%3Dm%2Cbl%3D-5" + session);  // bl must not be negative: malformed
    return reports;
  }

  // The values of an instant vector answer (empty when it is not one).
  static std::vector<double> values(const json::value& v) {
    std::vector<double> out;
    if (!v.is_object() || v.at("status") != "success") return out;
    for (const auto& r : v.at("data").at("result").as_array()) {
      out.push_back(std::stod(std::string(r.at("value").as_array()[1].as_string())));
    }
    return out;
  }

  fs::path config_;
  std::uint16_t prom_port_ = 0;
  std::optional<ChildProcess> prometheus_;
};

TEST_F(MonitoringTest, PrometheusScrapesThePlatformFiresTheCanaryAlertAndServesTheDashboard) {
  ASSERT_NO_FATAL_FAILURE(add_release("v1"));
  ASSERT_NO_FATAL_FAILURE(add_release("v2-bad", {"--chaos-error-rate", "0.3"}));
  ASSERT_NO_FATAL_FAILURE(start_up("v1"));
  ASSERT_NO_FATAL_FAILURE(start_prometheus());
  const auto t0 = Clock::now();
  const std::string clip_id = upload_clip();  // before the failing canary takes any of it
  ASSERT_FALSE(clip_id.empty());

  // The control plane's series, through file discovery and honor_labels.
  auto spec = wait_for_result(
      R"(kube_deployment_spec_replicas{namespace="streamgate",job="sgctl",deployment="streamgate-blue"} == 2)",
      60s);
  ASSERT_FALSE(spec.at("data").at("result").as_array().empty())
      << json::serialize(spec) << tail_of(dir_.path() / "prometheus.log", 3000);
  auto ready = wait_for_result(
      R"(count(kube_pod_container_status_ready{namespace="streamgate"} == 1) == 2)", 30s);
  EXPECT_FALSE(ready.at("data").at("result").as_array().empty()) << json::serialize(ready);
  auto servers = wait_for_result(
      R"(count(up{job="streamgate-server",track="blue",release="v1"} == 1) == 2)", 30s);
  EXPECT_FALSE(servers.at("data").at("result").as_array().empty()) << json::serialize(servers);

  // With autoscaling on, each autoscaled track is an HPA under kube-state-metrics' names (what
  // the scaling alerts use); off again before the canary.
  ASSERT_EQ(sgctl({"autoscale", "--min", "2", "--max", "4", "--cpu", "70", "--sync-period", "1"})
                .exit_code,
            0);
  auto hpa = wait_for_result(
      R"(kube_horizontalpodautoscaler_spec_max_replicas{job="sgctl",horizontalpodautoscaler="streamgate-hpa-blue"} == 4)",
      30s);
  EXPECT_FALSE(hpa.at("data").at("result").as_array().empty()) << json::serialize(hpa);

  // The control plane's exposition passes Prometheus's own linter.
  std::string address;
  std::ifstream(state_ / "control-address") >> address;
  const auto colon = address.rfind(':');
  auto metrics =
      http_get(static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))), "/metrics");
  ASSERT_EQ(metrics.status, 200) << metrics.error;
  std::ofstream(dir_.path() / "control-metrics.txt") << metrics.body;
  const fs::path lint_log = dir_.path() / "promtool.log";
  Status lint = run_command(
      {{"sh", "-c", "promtool check metrics < " + (dir_.path() / "control-metrics.txt").string()},
       {},
       lint_log,
       {},
       false},
      30s);
  EXPECT_TRUE(lint) << tail_of(lint_log, 3000);

  ASSERT_EQ(sgctl({"autoscale", "off"}).exit_code, 0);

  // A bad canary that the (deliberately lenient) judge keeps at its first step.
  // ~60 requests/s, so the canary's 5 % is well above the alert's 1 request/s.
  auto load = std::make_unique<PacedLoad>(port_, 4);
  auto deploy = sgctl_async({"deploy", "canary", "streamgate:v2-bad", "--step-interval", "3600",
                             "--min-requests", "1000000", "--synthetic-rps", "0"},
                            "deploy.log");
  auto firing = wait_for_result(
      R"(ALERTS{alertname="StreamGateCanaryFailing",alertstate="firing",severity="critical"})",
      200s);
  const double fired_after = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_FALSE(firing.at("data").at("result").as_array().empty())
      << json::serialize(firing) << "\n"
      << json::serialize(query("namespace_track:streamgate_gateway_errors:ratio_rate5m")) << "\n"
      << up_log();
  // The alert's annotations through the alerts API.
  auto alerts = http_get(prom_port_, "/api/v1/alerts");
  EXPECT_NE(alerts.body.find("docs/runbook.md#canary-failing"), std::string::npos) << alerts.body;
  auto phase = query(R"(streamgate_rollout_phase{namespace="streamgate",strategy="canary"})");
  EXPECT_FALSE(phase.at("data").at("result").as_array().empty()) << json::serialize(phase);

  // Viewers for the streaming row: 12 sessions, one a second (so the 1-minute rates have
  // data), bounded in time; then until Prometheus has seen them.
  int mtp_reports = 0;
  const auto viewing_end = Clock::now() + 40s;
  for (int v = 0; v < 12 && Clock::now() < viewing_end; ++v) {
    mtp_reports += watch(clip_id, "monitoring-viewer-" + std::to_string(v));
    std::this_thread::sleep_for(1s);
  }
  ASSERT_GT(mtp_reports, 0) << "no viewer got a playlist";
  for (const char* m : {"sessions_started_total", "rebuffer_reports_total",
                        "throughput_reports_total", "cmcd_malformed_total"}) {
    const std::string q =
        std::string("sum(rate(streamgate_gateway_") + m + R"({namespace="streamgate"}[1m])) > 0)";
    auto v = wait_for_result(q, 30s);
    EXPECT_FALSE(v.at("data").at("result").as_array().empty()) << q << "\n" << json::serialize(v);
  }

  // Every dashboard query parses and runs; each panel's first query has data. Rows hold no
  // query; a collapsed row keeps its panels inside it.
  const json::value dash =
      json::parse(read_file(fs::path(SG_SOURCE_DIR) / "deploy/grafana/streamgate.json"));
  std::vector<const json::value*> query_panels;
  int rows = 0;
  for (const auto& p : dash.at("panels").as_array()) {
    if (p.at("type") != "row") {
      query_panels.push_back(&p);
      continue;
    }
    ++rows;
    if (const auto* inner = p.as_object().if_contains("panels")) {
      for (const auto& q : inner->as_array()) query_panels.push_back(&q);
    }
  }
  int panels = 0;
  std::map<std::string, std::vector<double>> first_values;  // by panel title
  for (const json::value* panel : query_panels) {
    const json::value& p = *panel;
    ++panels;
    const auto& targets = p.at("targets").as_array();
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const std::string expr(targets[i].at("expr").as_string());
      auto v = query(expr);
      ASSERT_TRUE(v.is_object()) << expr;
      EXPECT_EQ(v.at("status"), "success") << expr << "\n" << json::serialize(v);
      if (i == 0) {
        EXPECT_FALSE(v.at("data").at("result").as_array().empty())
            << p.at("title").as_string() << ": no data for " << expr;
        first_values[std::string(p.at("title").as_string())] = values(v);
      }
    }
  }
  for (const auto& a : dash.at("annotations").at("list").as_array()) {
    auto v = query(std::string(a.at("expr").as_string()));
    EXPECT_EQ(v.at("status"), "success") << json::serialize(a);
  }
  EXPECT_GE(panels, 20);
  EXPECT_GE(rows, 1);
  // A quantile over a track without viewing in the window is NaN (Grafana draws no point):
  // keep the numbers, and every streaming panel must have one.
  for (auto& [title, xs] : first_values) {
    xs.erase(std::remove_if(xs.begin(), xs.end(), [](double x) { return std::isnan(x); }),
             xs.end());
    EXPECT_FALSE(xs.empty()) << title << ": only NaN";
  }
  // The streaming figures are the viewers' own: mtp 1000/2000/3000 (a mean within them),
  // one malformed report in six CMCD requests of a viewer (a share strictly between 0 and 1),
  // one starved segment per viewer.
  for (double mean : first_values["Measured throughput (CMCD mtp) per track"]) {
    EXPECT_GE(mean, 1000);
    EXPECT_LE(mean, 3000);
  }
  const auto& malformed = first_values["CMCD malformed share per track"];
  EXPECT_TRUE(std::any_of(malformed.begin(), malformed.end(), [](double x) { return x > 0; }));
  for (double share : malformed) EXPECT_LT(share, 1);
  const auto& rebuffer = first_values["Rebuffering: reports per session-minute per track"];
  EXPECT_TRUE(std::any_of(rebuffer.begin(), rebuffer.end(), [](double x) { return x > 0; }));
  for (const char* title :
       {"Segment error rate (5xx) per track",
        "Segment time to first byte P50/P95 per track and version", "Sessions started per track",
        "Startup time P50/P95 per track", "Rebuffering: reports per session-minute per track",
        "Measured throughput (CMCD mtp) per track", "CMCD malformed share per track"}) {
    std::string shown;
    for (double x : first_values[title]) shown += " " + std::to_string(x);
    std::printf("dashboard: %s:%s\n", title, shown.c_str());
  }

  const std::uint64_t sent = load->sent();
  load.reset();
  EXPECT_EQ(sgctl({"abort"}).exit_code, 0);
  deploy.wait_exit(60s);
  std::printf("canary alert firing %.1f s after Prometheus started (%llu requests sent)\n",
              fired_after, static_cast<unsigned long long>(sent));
}

}  // namespace
}  // namespace sg::test
