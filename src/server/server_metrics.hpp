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
  // streamgate_hls_requests_total{kind="playlist|segment",result}: result is ok, not_modified,
  // missing_token, bad_token, expired, stream_limit, not_found, no_hls, error
  metrics::Family<metrics::Counter>& hls_requests;
  // streamgate_hls_segment_bytes_total: body bytes of fMP4 (init and segment) responses
  metrics::Counter& hls_segment_bytes;
  // streamgate_stream_sessions_started_total / _refused_total (503 stream_limit_reached)
  metrics::Counter& sessions_started;
  metrics::Counter& sessions_refused;
};

// Wraps `inner`, observing each call's duration (and failures other than not-found /
// precondition / conflict outcomes) in `metrics`.
std::unique_ptr<Storage> instrument_storage(std::unique_ptr<Storage> inner, ServerMetrics& metrics);

}  // namespace sg::server
