// The metrics streamgate-server exports, with fixed names, and a Storage decorator that
// times every storage call into streamgate_storage_query_duration_seconds.
#pragma once

#include <memory>
#include <string>

#include "common/metrics.hpp"
#include "server/storage/storage.hpp"

namespace sg::server {

struct ServerMetrics {
  ServerMetrics(metrics::Registry& registry, const std::string& version_label);

  metrics::Registry& registry;
  // http_requests_total{method,route,code}
  metrics::Family<metrics::Counter>& requests;
  // http_request_duration_seconds{method,route}
  metrics::Family<metrics::Histogram>& duration;
  // streamgate_cache_requests_total{result="hit|miss|error"}
  metrics::Family<metrics::Counter>& cache_requests;
  metrics::Counter& cache_hit;
  metrics::Counter& cache_miss;
  metrics::Counter& cache_error;
  // streamgate_storage_query_duration_seconds{backend,operation}
  metrics::Family<metrics::Histogram>& storage_query;
  // streamgate_storage_errors_total{backend,operation}
  metrics::Family<metrics::Counter>& storage_errors;
  // streamgate_media_bytes_sent_total / streamgate_media_bytes_received_total
  metrics::Counter& media_bytes_sent;
  metrics::Counter& media_bytes_received;
};

// Wraps `inner`, observing each call's duration (and failures other than not-found /
// precondition / conflict outcomes) in `metrics`.
std::unique_ptr<Storage> instrument_storage(std::unique_ptr<Storage> inner, ServerMetrics& metrics);

}  // namespace sg::server
