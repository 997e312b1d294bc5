#include "platform/local/gateway_client.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <vector>

#include "common/http/blocking_client.hpp"

namespace sg::platform {
namespace json = boost::json;
namespace bhttp = boost::beast::http;

namespace {

struct MetricLine {
  std::string_view name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// One sample line: name{k="v",...} value. Returns false for anything else.
bool parse_line(std::string_view line, MetricLine& out) {
  std::size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
  out.name = line.substr(0, i);
  out.labels.clear();
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      const auto eq = line.find('=', i);
      if (eq == std::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
        return false;
      }
      std::string key(line.substr(i, eq - i));
      std::string value;
      std::size_t j = eq + 2;
      for (; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\\' && j + 1 < line.size()) {
          ++j;
          value += line[j] == 'n' ? '\n' : line[j];
        } else {
          value += line[j];
        }
      }
      if (j >= line.size()) return false;
      out.labels[key] = std::move(value);
      i = j + 1;
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) return false;
    ++i;  // '}'
  }
  while (i < line.size() && line[i] == ' ') ++i;
  std::string_view rest = line.substr(i);
  if (const auto sp = rest.find(' '); sp != std::string_view::npos) rest = rest.substr(0, sp);
  if (rest == "+Inf") {
    out.value = INFINITY;
    return true;
  }
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), out.value);
  return ec == std::errc() && end == rest.data() + rest.size();
}

std::uint64_t minus(std::uint64_t now, std::uint64_t base) {
  return now >= base ? now - base : now;
}

}  // namespace

control::TrafficSample TrackTraffic::since(const TrackTraffic& baseline,
                                           const std::string& track) const {
  control::TrafficSample out;
  auto it = tracks.find(track);
  if (it == tracks.end()) return out;
  const control::TrafficSample& now = it->second;
  auto b = baseline.tracks.find(track);
  const bool have_base = b != baseline.tracks.end() && b->second.bounds == now.bounds &&
                         b->second.requests <= now.requests;
  out.bounds = now.bounds;
  out.requests = have_base ? minus(now.requests, b->second.requests) : now.requests;
  out.errors = have_base ? minus(now.errors, b->second.errors) : now.errors;
  out.counts.resize(now.counts.size());
  for (std::size_t i = 0; i < now.counts.size(); ++i) {
    out.counts[i] = have_base ? minus(now.counts[i], b->second.counts[i]) : now.counts[i];
  }
  return out;
}

Result<TrackTraffic> parse_track_traffic(std::string_view text) {
  TrackTraffic out;
  // track -> (le -> cumulative count)
  std::map<std::string, std::map<double, std::uint64_t>> buckets;
  MetricLine m;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    const std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty() || line[0] == '#' || !parse_line(line, m)) continue;
    auto track = m.labels.find("track");
    if (track == m.labels.end()) continue;
    const auto count = static_cast<std::uint64_t>(std::max(0.0, m.value));
    if (m.name == "streamgate_gateway_requests_total") {
      auto& s = out.tracks[track->second];
      s.requests += count;
      auto code = m.labels.find("code");
      if (code != m.labels.end() && !code->second.empty() && code->second[0] == '5') {
        s.errors += count;
      }
    } else if (m.name == "streamgate_gateway_request_duration_seconds_bucket") {
      auto le = m.labels.find("le");
      if (le == m.labels.end()) continue;
      double bound = INFINITY;
      if (le->second != "+Inf") {
        auto [end, ec] =
            std::from_chars(le->second.data(), le->second.data() + le->second.size(), bound);
        if (ec != std::errc()) continue;
      }
      buckets[track->second][bound] += count;
    }
  }
  for (auto& [track, les] : buckets) {
    auto& s = out.tracks[track];
    std::uint64_t previous = 0;
    for (const auto& [bound, cumulative] : les) {
      if (!std::isinf(bound)) s.bounds.push_back(bound);
      s.counts.push_back(cumulative >= previous ? cumulative - previous : 0);
      previous = cumulative;
    }
    if (s.counts.size() != s.bounds.size() + 1) {
      return make_error(ErrorCode::kInternal,
                        "gateway metrics: histogram of track '" + track + "' has no +Inf bucket");
    }
  }
  return out;
}

GatewayClient::GatewayClient(std::string admin_address, std::string token,
                             std::chrono::milliseconds timeout)
    : admin_(std::move(admin_address)), token_(std::move(token)), timeout_(timeout) {}

namespace {

Error call_error(const std::string& what, const http::ClientReply& reply) {
  if (reply.status == 0) {
    return make_error(ErrorCode::kUnavailable, "gateway admin " + what + ": " + reply.error);
  }
  std::string message = reply.body;
  boost::system::error_code ec;
  auto v = json::parse(reply.body, ec);
  if (!ec && v.is_object()) {
    if (auto* e = v.as_object().if_contains("error"); e != nullptr && e->is_object()) {
      if (auto* m = e->as_object().if_contains("message"); m != nullptr && m->is_string()) {
        message = std::string(m->as_string());
      }
    }
  }
  return make_error(
      reply.status == 400 ? ErrorCode::kInvalidArgument : ErrorCode::kInternal,
      "gateway admin " + what + ": HTTP " + std::to_string(reply.status) + ": " + message);
}

}  // namespace

bool GatewayClient::alive() const {
  return http::blocking_call(admin_, {.target = "/health", .timeout = timeout_}).status == 200;
}

Result<gateway::GatewayConfig> GatewayClient::config() const {
  auto reply = http::blocking_call(admin_, {.target = "/admin/v1/config",
                                            .headers = {{"Authorization", "Bearer " + token_}},
                                            .timeout = timeout_});
  if (reply.status != 200) return call_error("GET config", reply);
  return gateway::parse_gateway_config_json(reply.body);
}

Status GatewayClient::apply(const gateway::GatewayConfig& config) const {
  auto reply = http::blocking_call(admin_, {.method = bhttp::verb::put,
                                            .target = "/admin/v1/config",
                                            .body = gateway::gateway_config_to_json_text(config),
                                            .headers = {{"Authorization", "Bearer " + token_},
                                                        {"Content-Type", "application/json"}},
                                            .timeout = timeout_});
  if (reply.status != 200) return call_error("PUT config", reply);
  return Status::ok();
}

Status GatewayClient::drain(const std::string& endpoint) const {
  auto reply = http::blocking_call(admin_, {.method = bhttp::verb::post,
                                            .target = "/admin/v1/endpoints/" + endpoint + "/drain",
                                            .headers = {{"Authorization", "Bearer " + token_}},
                                            .timeout = timeout_});
  if (reply.status != 202 && reply.status != 200) return call_error("drain " + endpoint, reply);
  return Status::ok();
}

Result<EndpointDrainState> GatewayClient::endpoint(const std::string& endpoint) const {
  auto reply = http::blocking_call(admin_, {.target = "/admin/v1/endpoints/" + endpoint,
                                            .headers = {{"Authorization", "Bearer " + token_}},
                                            .timeout = timeout_});
  if (reply.status == 404) return EndpointDrainState{};
  if (reply.status != 200) return call_error("GET endpoint " + endpoint, reply);
  boost::system::error_code ec;
  auto v = json::parse(reply.body, ec);
  if (ec || !v.is_object()) return call_error("GET endpoint (not JSON)", reply);
  EndpointDrainState out{.found = true};
  if (auto* d = v.as_object().if_contains("drained"); d != nullptr && d->is_bool()) {
    out.drained = d->as_bool();
  }
  if (auto* o = v.as_object().if_contains("outstanding"); o != nullptr && o->is_number()) {
    out.outstanding = o->to_number<std::uint64_t>();
  }
  return out;
}

Result<TrackTraffic> GatewayClient::traffic() const {
  auto reply = http::blocking_call(admin_, {.target = "/metrics", .timeout = timeout_});
  if (reply.status != 200) return call_error("GET /metrics", reply);
  return parse_track_traffic(reply.body);
}

}  // namespace sg::platform
