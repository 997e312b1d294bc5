#include "platform/track_traffic.hpp"

#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <utility>
#include <vector>

namespace sg::platform {

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

// A sample value as a count: negative and NaN are 0, beyond 2^64 (or +Inf) saturates. A
// plain cast of such a double is undefined behaviour.
std::uint64_t to_count(double value) {
  if (!(value > 0)) return 0;
  if (value >= 18446744073709551615.0) return UINT64_MAX;
  return static_cast<std::uint64_t>(value);
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
                         b->second.counts.size() == now.counts.size() &&
                         b->second.requests <= now.requests;
  out.bounds = now.bounds;
  out.requests = have_base ? minus(now.requests, b->second.requests) : now.requests;
  out.errors = have_base ? minus(now.errors, b->second.errors) : now.errors;
  out.counts.resize(now.counts.size());
  for (std::size_t i = 0; i < now.counts.size(); ++i) {
    out.counts[i] = have_base ? minus(now.counts[i], b->second.counts[i]) : now.counts[i];
  }
  // The streaming counters from the same gateway: a base only when it is theirs too.
  const control::StreamingSample& sn = now.streaming;
  const control::StreamingSample* sb = have_base ? &b->second.streaming : nullptr;
  if (sb != nullptr && (sb->ttfb_bounds != sn.ttfb_bounds ||
                        sb->ttfb_counts.size() != sn.ttfb_counts.size() ||
                        sb->segments > sn.segments)) {
    sb = nullptr;
  }
  control::StreamingSample& so = out.streaming;
  auto delta = [sb](std::uint64_t control::StreamingSample::*field, const control::StreamingSample& n) {
    return sb != nullptr ? minus(n.*field, sb->*field) : n.*field;
  };
  using S = control::StreamingSample;
  for (auto field : {&S::segments, &S::segment_errors, &S::sessions_started, &S::session_minutes,
                     &S::rebuffer_reports, &S::throughput_reports}) {
    so.*field = delta(field, sn);
  }
  so.throughput_kbps_sum = sb != nullptr && sn.throughput_kbps_sum >= sb->throughput_kbps_sum
                               ? sn.throughput_kbps_sum - sb->throughput_kbps_sum
                               : sn.throughput_kbps_sum;
  so.ttfb_bounds = sn.ttfb_bounds;
  so.ttfb_counts.resize(sn.ttfb_counts.size());
  for (std::size_t i = 0; i < sn.ttfb_counts.size(); ++i) {
    so.ttfb_counts[i] = sb != nullptr ? minus(sn.ttfb_counts[i], sb->ttfb_counts[i])
                                      : sn.ttfb_counts[i];
  }
  return out;
}

namespace {

using Buckets = std::map<std::string, std::map<double, std::uint64_t>>;  // track -> le -> count

bool add_bucket(const MetricLine& m, const std::string& track, Buckets& buckets) {
  auto le = m.labels.find("le");
  if (le == m.labels.end()) return false;
  double bound = INFINITY;
  if (le->second != "+Inf") {
    auto [end, ec] = std::from_chars(le->second.data(), le->second.data() + le->second.size(), bound);
    // NaN would break the map's ordering.
    if (ec != std::errc() || std::isnan(bound)) return false;
  }
  buckets[track][bound] += to_count(m.value);
  return true;
}

// Cumulative `le` buckets to per-bucket counts; false without the +Inf bucket.
bool to_histogram(const std::map<double, std::uint64_t>& les, std::vector<double>& bounds,
                  std::vector<std::uint64_t>& counts) {
  std::uint64_t previous = 0;
  for (const auto& [bound, cumulative] : les) {
    if (!std::isinf(bound)) bounds.push_back(bound);
    counts.push_back(cumulative >= previous ? cumulative - previous : 0);
    previous = cumulative;
  }
  return counts.size() == bounds.size() + 1;
}

// The StreamingSample counter a series name adds to, if it is one of them.
std::optional<std::uint64_t control::StreamingSample::*> streaming_counter(std::string_view name) {
  using S = control::StreamingSample;
  static constexpr std::pair<std::string_view, std::uint64_t S::*> kCounters[] = {
      {"streamgate_gateway_segment_requests_total", &S::segments},
      {"streamgate_gateway_segment_errors_total", &S::segment_errors},
      {"streamgate_gateway_sessions_started_total", &S::sessions_started},
      {"streamgate_gateway_session_minutes_total", &S::session_minutes},
      {"streamgate_gateway_rebuffer_reports_total", &S::rebuffer_reports},
      {"streamgate_gateway_throughput_reports_total", &S::throughput_reports},
  };
  for (const auto& [series, field] : kCounters) {
    if (name == series) return field;
  }
  return std::nullopt;
}

}  // namespace

Result<TrackTraffic> parse_track_traffic(std::string_view text) {
  TrackTraffic out;
  Buckets total_time;     // streamgate_gateway_request_duration_seconds
  Buckets upstream_time;  // streamgate_gateway_upstream_response_seconds, preferred
  Buckets segment_ttfb;   // streamgate_gateway_segment_ttfb_seconds
  std::map<std::string, std::uint64_t> failed_attempts;
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
    const std::uint64_t count = to_count(m.value);
    if (m.name == "streamgate_gateway_requests_total") {
      auto& s = out.tracks[track->second];
      s.requests += count;
      auto code = m.labels.find("code");
      if (code != m.labels.end() && !code->second.empty() && code->second[0] == '5') {
        s.errors += count;
      }
    } else if (m.name == "streamgate_gateway_request_duration_seconds_bucket") {
      add_bucket(m, track->second, total_time);
    } else if (m.name == "streamgate_gateway_upstream_response_seconds_bucket") {
      add_bucket(m, track->second, upstream_time);
    } else if (m.name == "streamgate_gateway_failed_attempts_total") {
      failed_attempts[track->second] += count;
    } else if (m.name == "streamgate_gateway_segment_ttfb_seconds_bucket") {
      add_bucket(m, track->second, segment_ttfb);
    } else if (const auto field = streaming_counter(m.name)) {
      out.tracks[track->second].streaming.*(*field) += count;
    } else if (m.name == "streamgate_gateway_throughput_kbps_total" && m.value > 0 &&
               std::isfinite(m.value)) {
      out.tracks[track->second].streaming.throughput_kbps_sum += m.value;
    }
  }
  // A failed attempt that was retried elsewhere is a request and an error of the track it
  // failed on (the client's answer counts on the track that gave it).
  for (const auto& [track, n] : failed_attempts) {
    auto& s = out.tracks[track];
    s.requests += n;
    s.errors += n;
  }
  // The judge's latency is the upstream's time to response head where the gateway reports
  // it; the total time (paced by the client) only where it does not.
  Buckets& buckets = upstream_time.empty() ? total_time : upstream_time;
  for (auto& [track, les] : buckets) {
    auto& s = out.tracks[track];
    if (!to_histogram(les, s.bounds, s.counts)) {
      return make_error(ErrorCode::kInternal,
                        "gateway metrics: histogram of track '" + track + "' has no +Inf bucket");
    }
  }
  for (auto& [track, les] : segment_ttfb) {
    auto& s = out.tracks[track].streaming;
    if (!to_histogram(les, s.ttfb_bounds, s.ttfb_counts)) {
      return make_error(ErrorCode::kInternal, "gateway metrics: segment TTFB histogram of track '" +
                                                  track + "' has no +Inf bucket");
    }
  }
  return out;
}

}  // namespace sg::platform
