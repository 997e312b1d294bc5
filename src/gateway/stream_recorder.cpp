#include "gateway/stream_recorder.hpp"

namespace sg::gateway {
namespace {

// The metric child of `track` in `family`, cached in `slot` (children never go away).
template <class M>
M& cached(std::atomic<M*>& slot, metrics::Family<M>& family, std::string_view track) {
  M* m = slot.load(std::memory_order_acquire);
  if (!m) {
    m = &family.with({std::string_view(kRouteName), track});
    slot.store(m, std::memory_order_release);
  }
  return *m;
}

}  // namespace

StreamRequest stream_request(const http::RequestHeader& head, const CmcdData* data) {
  StreamRequest req;
  const auto method = head.method();
  const bool get_or_head = method == http::bhttp::verb::get || method == http::bhttp::verb::head;
  req.kind = classify_hls(get_or_head, head.target(), data ? data->ot : std::nullopt);
  if (req.kind == HlsKind::kNone) return req;
  if (data && data->sid) {
    req.session = std::string(data->sid->view());
  } else if (const auto token = query_param(head.target(), "token")) {
    req.session = std::string(*token);
  }
  if (data) {
    req.starved = data->bs.value_or(false);
    req.throughput_kbps = data->mtp;
  }
  return req;
}

void record_stream(GatewayState& state, GatewayMetrics& metrics, const Track& track,
                   const StreamRequest& req, unsigned status, WindowStats::Clock::time_point now) {
  StreamEvent e;
  e.kind = req.kind;
  e.status = static_cast<int>(status);
  e.starved = req.starved;
  e.throughput_kbps = req.throughput_kbps;
  const bool segment = req.kind == HlsKind::kSegment || req.kind == HlsKind::kInit;
  if (segment) e.ttfb_seconds = req.ttfb_seconds;
  if (!req.session.empty()) {
    const auto out = state.sessions().record(req.session, req.kind, status / 100 == 2, track.name,
                                             req.arrived, now);
    e.session_started = out.started;
    e.startup_seconds = out.startup_seconds;
    e.session_minute = out.new_minute;
  }
  track.stream->record(now, e);

  StreamMetricCache& c = track.metrics->stream;
  const std::string_view name = track.name;
  if (req.kind == HlsKind::kPlaylist) cached(c.playlist, metrics.playlist_requests, name).inc();
  if (segment) {
    cached(c.segment, metrics.segment_requests, name).inc();
    if (status >= 500 && status < 600) cached(c.segment_errors, metrics.segment_errors, name).inc();
    if (e.ttfb_seconds) cached(c.segment_ttfb, metrics.segment_ttfb, name).observe(*e.ttfb_seconds);
  }
  if (e.session_started) cached(c.started, metrics.sessions_started, name).inc();
  if (e.startup_seconds)
    cached(c.startup, metrics.session_startup, name).observe(*e.startup_seconds);
  if (e.session_minute) cached(c.minutes, metrics.session_minutes, name).inc();
  if (e.starved) cached(c.rebuffer, metrics.rebuffer_reports, name).inc();
  if (e.throughput_kbps) {
    cached(c.throughput_reports, metrics.throughput_reports, name).inc();
    cached(c.throughput_sum, metrics.throughput_kbps, name)
        .inc(static_cast<std::uint64_t>(*e.throughput_kbps));
  }
}

}  // namespace sg::gateway
