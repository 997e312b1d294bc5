// Per-track traffic from Prometheus: three instant queries (requests, 5xx, latency buckets),
// each answering a vector labelled by `track` (and `le` for the buckets), become the
// cumulative TrackTraffic the engine reads from our gateway otherwise. For a platform where
// traffic does not pass our gateway (sgctl's kubernetes backend with --routing replicas):
// the servers' own counters, as Prometheus scrapes them.
//
// The defaults read the server pods as deploy/k8s/base/prometheus-scrape.yaml labels them
// (namespace, pod, track = the pod's version label), leaving out probes and scrapes:
//   sum by (track) (http_requests_total{namespace="NS",route!~"PROBES"})
//   sum by (track) (http_requests_total{namespace="NS",route!~"PROBES",code=~"5.."})
//   sum by (track, le) (http_request_duration_seconds_bucket{namespace="NS",route!~"PROBES"})
// Any query may be replaced (e.g. with the gateway's or an ingress's metrics) as long as it
// answers the same shape. A sum over pods goes down when a pod goes away; the caller counts
// such a drop as a new epoch (TrackTraffic::since counts a counter that went backwards from
// zero). The figures lag the traffic by up to one scrape interval.
//
// Thread-safety: no mutable state; read() makes three blocking requests.
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

class PromTrafficSource {
 public:
  explicit PromTrafficSource(PromTrafficOptions options);
  Result<TrackTraffic> read() const;
  const PromTrafficOptions& options() const { return opts_; }

 private:
  Result<std::vector<PromSample>> query(const std::string& promql) const;
  PromTrafficOptions opts_;
  std::string host_port_;  // from url
  std::string prefix_;     // path before /api/v1/query, without a trailing '/'
};

}  // namespace sg::platform
