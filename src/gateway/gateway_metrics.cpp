#include "gateway/gateway_metrics.hpp"

#include <chrono>

namespace sg::gateway {
namespace {

constexpr std::chrono::seconds kSessionActiveWithin{30};

void render_state(std::string& out, const GatewayState& state) {
  auto table = state.table();
  if (!table) return;
  const auto now = Endpoint::Clock::now();
  const std::vector<std::string> ep_labels = {"track", "endpoint"};
  metrics::append_family_head(
      out, "streamgate_gateway_upstream_healthy", "gauge",
      "1 when the endpoint takes new requests (healthy, not ejected, not draining).");
  for (const auto& t : table->tracks) {
    for (const auto& ep : t.endpoints) {
      const std::string values[] = {t.name, ep->address()};
      metrics::append_sample(out, "streamgate_gateway_upstream_healthy", ep_labels, values,
                             ep->available(now) ? 1 : 0);
    }
  }
  metrics::append_family_head(out, "streamgate_gateway_upstream_outstanding", "gauge",
                              "Requests in flight to the endpoint.");
  for (const auto& t : table->tracks) {
    for (const auto& ep : t.endpoints) {
      const std::string values[] = {t.name, ep->address()};
      metrics::append_sample(out, "streamgate_gateway_upstream_outstanding", ep_labels, values,
                             static_cast<double>(ep->outstanding()));
    }
  }
  metrics::append_family_head(out, "streamgate_gateway_route_weight", "gauge",
                              "Percent of the route's traffic sent to the track.");
  const std::vector<std::string> route_labels = {"route", "track"};
  for (const auto& t : table->tracks) {
    const std::string values[] = {kRouteName, t.name};
    metrics::append_sample(out, "streamgate_gateway_route_weight", route_labels, values, t.weight);
  }
  metrics::append_family_head(out, "streamgate_gateway_config_generation", "gauge",
                              "Configuration generation; +1 per applied change.");
  metrics::append_sample(out, "streamgate_gateway_config_generation", {}, {},
                         static_cast<double>(table->generation));
  metrics::append_family_head(out, "streamgate_gateway_sessions_tracked", "gauge",
                              "Viewing sessions held in the session table.");
  metrics::append_sample(out, "streamgate_gateway_sessions_tracked", {}, {},
                         static_cast<double>(state.sessions().size()));
  // One walk of the session table per scrape (SessionTable::track_activity), never per request.
  metrics::append_family_head(
      out, "streamgate_gateway_sessions_active", "gauge",
      "Viewing sessions pinned to the track with a request in the last 30 s.");
  const auto activity = state.sessions().track_activity(now, kSessionActiveWithin);
  const std::vector<std::string> track_label = {"track"};
  for (const auto& t : table->tracks) {
    const auto it = activity.find(t.name);
    const std::string values[] = {t.name};
    metrics::append_sample(out, "streamgate_gateway_sessions_active", track_label, values,
                           it == activity.end() ? 0.0 : static_cast<double>(it->second.active));
  }
  metrics::append_family_head(out, "streamgate_gateway_sessions_untracked_total", "counter",
                              "New viewing sessions not tracked: the session table was full.");
  metrics::append_sample(out, "streamgate_gateway_sessions_untracked_total", {}, {},
                         static_cast<double>(state.sessions().untracked()));
}

}  // namespace

GatewayMetrics::GatewayMetrics(metrics::Registry& r, const GatewayState& state)
    : registry(r),
      requests(r.counter("streamgate_gateway_requests_total",
                         "Requests answered by the gateway, by route, track and status code.",
                         {"route", "track", "code"})),
      duration(r.histogram("streamgate_gateway_request_duration_seconds",
                           "Time from request head to the end of the response, by route and track.",
                           {"route", "track"})),
      upstream_response(r.histogram(
          "streamgate_gateway_upstream_response_seconds",
          "Time from the request sent upstream to the upstream's response head, by route and "
          "track.",
          {"route", "track"})),
      failed_attempts(
          r.counter("streamgate_gateway_failed_attempts_total",
                    "Attempts that failed before any response byte and were retried elsewhere.",
                    {"route", "track"})),
      retries(r.counter(
          "streamgate_gateway_retries_total",
          "Requests retried on another endpoint after a failure before any response byte.",
          {"route", "track"})),
      ejections(r.counter("streamgate_gateway_ejections_total",
                          "Times an endpoint was ejected by passive outlier detection.",
                          {"track", "endpoint"})),
      errors(r.counter("streamgate_gateway_errors_total",
                       "Responses the gateway generated itself, by reason.",
                       {"route", "track", "reason"})),
      cmcd_requests(r.counter("streamgate_gateway_cmcd_requests_total",
                              "Requests that carried CMCD data (query or CMCD-* headers), by the "
                              "track that answered.",
                              {"route", "track"})),
      cmcd_malformed(r.counter("streamgate_gateway_cmcd_malformed_total",
                               "Requests whose CMCD data was malformed in whole or in part (the "
                               "bad part ignored), by the track that answered.",
                               {"route", "track"})),
      playlist_requests(r.counter("streamgate_gateway_playlist_requests_total",
                                  "HLS playlist requests answered, by track.", {"route", "track"})),
      segment_requests(r.counter("streamgate_gateway_segment_requests_total",
                                 "HLS segment (fMP4) requests answered, by track.",
                                 {"route", "track"})),
      segment_errors(r.counter("streamgate_gateway_segment_errors_total",
                               "HLS segment requests answered with a 5xx, by track.",
                               {"route", "track"})),
      segment_ttfb(r.histogram("streamgate_gateway_segment_ttfb_seconds",
                               "HLS segment requests: request head to the upstream's response "
                               "head, by track.",
                               {"route", "track"})),
      sessions_started(r.counter("streamgate_gateway_sessions_started_total",
                                 "Viewing sessions whose first segment was delivered, by track.",
                                 {"route", "track"})),
      session_startup(r.histogram("streamgate_gateway_session_startup_seconds",
                                  "Viewing sessions: first playlist request to first segment "
                                  "delivered, by track.",
                                  {"route", "track"})),
      session_minutes(r.counter("streamgate_gateway_session_minutes_total",
                                "Minutes of viewing sessions with a request, by track.",
                                {"route", "track"})),
      rebuffer_reports(r.counter("streamgate_gateway_rebuffer_reports_total",
                                 "HLS requests whose CMCD said the buffer starved (bs), by track.",
                                 {"route", "track"})),
      throughput_reports(r.counter("streamgate_gateway_throughput_reports_total",
                                   "HLS requests carrying CMCD measured throughput (mtp).",
                                   {"route", "track"})),
      throughput_kbps(r.counter("streamgate_gateway_throughput_kbps_total",
                                "Sum of the CMCD measured throughput (mtp, kbps) reported.",
                                {"route", "track"})) {
  r.add_collector([&state](std::string& out) { render_state(out, state); });
}

}  // namespace sg::gateway
