#include "platform/prom_traffic.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <limits>

#include "common/host_port.hpp"
#include "common/http/blocking_client.hpp"
#include "common/http/url.hpp"

namespace sg::platform {
namespace json = boost::json;

namespace {

// Probes and scrapes are not user traffic.
constexpr const char* kNotProbes = R"(route!~"/health|/livez|/ready|/readyz|/metrics")";
constexpr std::size_t kMaxQuery = 4096;

std::uint64_t count_of(double v) {
  if (!std::isfinite(v) || v <= 0) return 0;
  if (v >= 1.8e19) return std::numeric_limits<std::uint64_t>::max();
  return static_cast<std::uint64_t>(std::llround(v));
}

std::string label(const PromSample& s, const char* name) {
  auto it = s.labels.find(name);
  return it == s.labels.end() ? std::string() : it->second;
}

}  // namespace

PromTrafficOptions default_prom_queries(const std::string& ns) {
  const std::string sel = "namespace=\"" + ns + "\"," + kNotProbes;
  PromTrafficOptions o;
  o.requests_query = "sum by (track, pod) (http_requests_total{" + sel + "})";
  o.errors_query = "sum by (track, pod) (http_requests_total{" + sel + ",code=~\"5..\"})";
  o.latency_query = "sum by (track, pod, le) (http_request_duration_seconds_bucket{" + sel + "})";
  return o;
}

std::string validate_prom_options(const PromTrafficOptions& o) {
  if (!o.url.starts_with("http://")) {
    return "--prometheus must be http://HOST:PORT[/PREFIX] (plain HTTP), got '" + o.url + "'";
  }
  const std::string rest = o.url.substr(7);
  if (auto hp = parse_host_port(rest.substr(0, rest.find('/'))); !hp) {
    return "--prometheus " + o.url + ": " + hp.error().message;
  }
  for (const auto& [flag, q] : {std::pair{"--prom-requests", &o.requests_query},
                                std::pair{"--prom-errors", &o.errors_query},
                                std::pair{"--prom-latency", &o.latency_query}}) {
    if (q->empty()) return std::string(flag) + " is empty";
    if (q->size() > kMaxQuery) return std::string(flag) + " is longer than 4096 bytes";
    if (q->find_first_of("\r\n") != std::string::npos) return std::string(flag) + " must be one line";
  }
  return "";
}

Result<std::vector<PromSample>> parse_prom_vector(std::string_view body) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return make_error(ErrorCode::kUnavailable, "prometheus: the answer is not JSON");
  const json::object& o = v.as_object();
  const json::value* status = o.if_contains("status");
  if (status == nullptr || !status->is_string() || status->as_string() != "success") {
    std::string why = "prometheus: query failed";
    if (const json::value* e = o.if_contains("error"); e != nullptr && e->is_string()) {
      why += ": " + std::string(e->as_string());
    }
    return make_error(ErrorCode::kUnavailable, why);
  }
  const json::value* data = o.if_contains("data");
  const json::object* d = data != nullptr ? data->if_object() : nullptr;
  const json::value* type = d != nullptr ? d->if_contains("resultType") : nullptr;
  const json::value* result = d != nullptr ? d->if_contains("result") : nullptr;
  if (type == nullptr || !type->is_string() || type->as_string() != "vector" || result == nullptr ||
      !result->is_array()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "prometheus: the query must answer an instant vector (data.resultType vector)");
  }
  std::vector<PromSample> out;
  for (const json::value& item : result->as_array()) {
    const json::object* io = item.if_object();
    if (io == nullptr) continue;
    PromSample s;
    if (const json::value* m = io->if_contains("metric"); m != nullptr && m->is_object()) {
      for (const auto& [k, lv] : m->as_object()) {
        if (lv.is_string()) s.labels[std::string(k)] = std::string(lv.as_string());
      }
    }
    const json::value* value = io->if_contains("value");
    if (value == nullptr || !value->is_array() || value->as_array().size() != 2 ||
        !value->as_array()[1].is_string()) {
      continue;
    }
    const std::string text(value->as_array()[1].as_string());
    try {
      s.value = std::stod(text);
    } catch (const std::exception&) {
      s.value = text == "+Inf" ? std::numeric_limits<double>::infinity() : std::nan("");
    }
    out.push_back(std::move(s));
  }
  return out;
}

TrackTraffic prom_track_traffic(const std::vector<PromSample>& requests, const std::vector<PromSample>& errors,
                                const std::vector<PromSample>& latency_buckets) {
  TrackTraffic t;
  for (const PromSample& s : requests) {
    if (const std::string track = label(s, "track"); !track.empty()) t.tracks[track].requests += count_of(s.value);
  }
  for (const PromSample& s : errors) {
    if (const std::string track = label(s, "track"); !track.empty()) t.tracks[track].errors += count_of(s.value);
  }
  // Cumulative buckets per track, summed over its series: upper bound -> count up to it.
  std::map<std::string, std::map<double, double>> buckets;
  for (const PromSample& s : latency_buckets) {
    const std::string track = label(s, "track");
    const std::string le = label(s, "le");
    if (track.empty() || le.empty()) continue;
    double bound = 0;
    if (le == "+Inf") {
      bound = std::numeric_limits<double>::infinity();
    } else {
      try {
        bound = std::stod(le);
      } catch (const std::exception&) {
        continue;
      }
    }
    if (std::isfinite(s.value)) buckets[track][bound] += s.value;
  }
  for (auto& [track, b] : buckets) {
    control::TrafficSample& sample = t.tracks[track];
    double below = 0;
    for (const auto& [bound, cumulative] : b) {
      const std::uint64_t n = count_of(cumulative - below);
      below = std::max(below, cumulative);
      if (std::isinf(bound)) {
        sample.counts.push_back(n);
        break;
      }
      sample.bounds.push_back(bound);
      sample.counts.push_back(n);
    }
    if (sample.counts.size() == sample.bounds.size()) sample.counts.push_back(0);  // no +Inf bucket
  }
  return t;
}

PromTrafficSource::PromTrafficSource(PromTrafficOptions options) : opts_(std::move(options)) {
  const std::string rest = opts_.url.starts_with("http://") ? opts_.url.substr(7) : opts_.url;
  const auto slash = rest.find('/');
  host_port_ = rest.substr(0, slash);
  if (slash != std::string::npos) prefix_ = rest.substr(slash);
  while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
}

std::vector<PromSample> SeriesAccumulator::add(const std::vector<PromSample>& reading,
                                               std::chrono::steady_clock::time_point now) {
  for (const PromSample& s : reading) {
    if (!std::isfinite(s.value) || s.value < 0) continue;
    std::string key;
    for (const auto& [k, v] : s.labels) key += k + "=" + v + "\n";
    auto [it, fresh] = series_.try_emplace(key);
    Series& x = it->second;
    if (fresh) {
      x.labels = s.labels;
      x.total = s.value;  // everything it counted so far
    } else {
      x.total += s.value >= x.last ? s.value - x.last : s.value;  // below: a reset, from zero
    }
    x.last = s.value;
    x.seen = now;
  }
  std::erase_if(series_, [&](const auto& e) { return now - e.second.seen > std::chrono::hours(1); });
  std::vector<PromSample> out;
  out.reserve(series_.size());
  for (const auto& [key, x] : series_) out.push_back({x.labels, x.total});
  return out;
}

Result<std::vector<PromSample>> PromTrafficSource::query(const std::string& promql, const std::string& at) const {
  http::ClientRequest req;
  req.target = prefix_ + "/api/v1/query?query=" + http::percent_encode(promql) + "&time=" + at;
  req.timeout = opts_.timeout;
  req.body_limit = 8 * 1024 * 1024;
  const http::ClientReply reply = http::blocking_call(resolve_host_port(host_port_), req);
  if (reply.status == 0) return make_error(ErrorCode::kUnavailable, "prometheus " + opts_.url + ": " + reply.error);
  auto samples = parse_prom_vector(reply.body);
  if (!samples) {
    return make_error(samples.error().code, samples.error().message + " (HTTP " + std::to_string(reply.status) +
                                                ", query " + promql + ")");
  }
  return samples;
}

Result<TrackTraffic> PromTrafficSource::read() {
  // One evaluation instant for the three, so errors never outnumber requests.
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  const std::string at = std::to_string(ms / 1000) + "." + std::to_string(1000 + ms % 1000).substr(1);
  auto requests = query(opts_.requests_query, at);
  if (!requests) return requests.error();
  auto errors = query(opts_.errors_query, at);
  if (!errors) return errors.error();
  auto latency = query(opts_.latency_query, at);
  if (!latency) return latency.error();
  const auto now = std::chrono::steady_clock::now();
  return prom_track_traffic(requests_.add(*requests, now), errors_.add(*errors, now), latency_.add(*latency, now));
}

}  // namespace sg::platform
