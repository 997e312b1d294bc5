// Per-track traffic from Prometheus: three instant queries (requests, 5xx, latency buckets),
// each answering a vector labelled by `track` (and `le` for the buckets), become the
// cumulative TrackTraffic the engine reads from our gateway otherwise. For a platform where
// traffic does not pass our gateway (sgctl's kubernetes backend with --routing replicas):
// the servers' own counters, as Prometheus scrapes them.
//
// The defaults read the server pods as deploy/k8s/base/prometheus-scrape.yaml labels them
// (namespace, pod, track = the pod's version label), per pod, leaving out probes and scrapes:
//   sum by (track, pod) (http_requests_total{namespace="NS",route!~"PROBES"})
//   sum by (track, pod) (http_requests_total{namespace="NS",route!~"PROBES",code=~"5.."})
//   sum by (track, pod, le) (http_request_duration_seconds_bucket{namespace="NS",route!~"PROBES"})
// Any query may be replaced (e.g. with the gateway's or an ingress's metrics) as long as it
// answers series labelled `track` (and `le`). read() keeps each series' counter monotone,
// as Prometheus' increase() does: a value below the last one is a counter reset (a restarted
// container) and counts from zero, and a series that goes away (a deleted pod) keeps what it
// counted; so the per-track sums only grow and a rollout's baseline stays valid. The three
// queries are evaluated at one instant; the figures lag the traffic by up to one scrape
// interval.
//
// Thread-safety: read() is for one thread (the engine's); it makes three blocking requests.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "platform/track_traffic.hpp"

namespace sg::platform {

struct PromTrafficOptions {
  std::string url;  // http://HOST:PORT[/PREFIX] of Prometheus' HTTP API (plain HTTP)
  std::string requests_query;
  std::string errors_query;
  std::string latency_query;
  std::chrono::milliseconds timeout{3000};  // per query
};

// The three default queries for the server pods of namespace `ns` (above).
PromTrafficOptions default_prom_queries(const std::string& ns);
// "" when usable; else what is wrong, naming the flag (--prometheus, --prom-requests, ...).
std::string validate_prom_options(const PromTrafficOptions& o);

struct PromSample {
  std::map<std::string, std::string> labels;
  double value = 0;
};
// The result of GET /api/v1/query: status "success" and a vector; else an error with
// Prometheus' own errorType/error text.
Result<std::vector<PromSample>> parse_prom_vector(std::string_view body);
// Builds per-track samples: requests and errors from the first two vectors, the latency
// histogram from cumulative `le` buckets. Series without a `track` label are ignored.
TrackTraffic prom_track_traffic(const std::vector<PromSample>& requests,
                                const std::vector<PromSample>& errors,
                                const std::vector<PromSample>& latency_buckets);

// Keeps each series' counter monotone across resets and disappearances (above).
class SeriesAccumulator {
 public:
  // The accumulated value of every series seen in the last hour, given this reading.
  std::vector<PromSample> add(const std::vector<PromSample>& reading, std::chrono::steady_clock::time_point now);

 private:
  struct Series {
    std::map<std::string, std::string> labels;
    double last = 0;
    double total = 0;
    std::chrono::steady_clock::time_point seen{};
  };
  std::map<std::string, Series> series_;  // by its labels
};

class PromTrafficSource {
 public:
  explicit PromTrafficSource(PromTrafficOptions options);
  Result<TrackTraffic> read();
  const PromTrafficOptions& options() const { return opts_; }

 private:
  Result<std::vector<PromSample>> query(const std::string& promql, const std::string& at) const;
  PromTrafficOptions opts_;
  SeriesAccumulator requests_, errors_, latency_;
  std::string host_port_;  // from url
  std::string prefix_;     // path before /api/v1/query, without a trailing '/'
};

}  // namespace sg::platform
