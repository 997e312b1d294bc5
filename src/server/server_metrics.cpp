#include "server/server_metrics.hpp"

#include <chrono>

namespace sg::server {
namespace {

constexpr double kQueryBuckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                    0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   2.5};

class InstrumentedStorage final : public Storage {
 public:
  InstrumentedStorage(std::unique_ptr<Storage> inner, ServerMetrics& m)
      : inner_(std::move(inner)), m_(m), backend_(inner_->backend()) {}

  // Defined first: the overrides below deduce its return type.
  template <class F>
  auto timed(std::string_view op, F&& f) {
    const auto start = std::chrono::steady_clock::now();
    auto r = f();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    m_.storage_query.with({backend_, op}).observe(secs);
    if (!r.is_ok()) {
      const auto code = r.error().code;
      if (code == ErrorCode::kUnavailable || code == ErrorCode::kInternal ||
          code == ErrorCode::kTimeout) {
        m_.storage_errors.with({backend_, op}).inc();
      }
    }
    return r;
  }

  Result<Content> create(const Content& item) override {
    return timed("create", [&] { return inner_->create(item); });
  }
  Result<Content> get(std::string_view id) override {
    return timed("get", [&] { return inner_->get(id); });
  }
  Result<ListPage> list(const ListQuery& q) override {
    return timed("list", [&] { return inner_->list(q); });
  }
  Result<Content> update(std::string_view id, std::int64_t rev, const ContentFields& f,
                         std::string_view at) override {
    return timed("update", [&] { return inner_->update(id, rev, f, at); });
  }
  Result<Content> remove(std::string_view id, std::optional<std::int64_t> rev) override {
    return timed("delete", [&] { return inner_->remove(id, rev); });
  }
  Result<MediaChange> set_media(std::string_view id, const MediaInfo& media,
                                std::string_view at) override {
    return timed("set_media", [&] { return inner_->set_media(id, media, at); });
  }
  Result<std::vector<std::string>> media_files() override {
    return timed("media_files", [&] { return inner_->media_files(); });
  }
  Status ping() override {
    return timed("ping", [&] { return inner_->ping(); });
  }
  std::string_view backend() const override { return backend_; }

 private:
  std::unique_ptr<Storage> inner_;
  ServerMetrics& m_;
  std::string backend_;
};

}  // namespace

ServerMetrics::ServerMetrics(metrics::Registry& r, const std::string& version_label)
    : registry(r),
      requests(r.counter("http_requests_total",
                         "HTTP requests answered, by method, route template and status code.",
                         {"method", "route", "code"})),
      duration(
          r.histogram("http_request_duration_seconds",
                      "Time from a request head received to its response sent, by route template.",
                      {"method", "route"})),
      cache_requests(
          r.counter("streamgate_cache_requests_total", "Cache lookups by result.", {"result"})),
      cache_hit(cache_requests.with({"hit"})),
      cache_miss(cache_requests.with({"miss"})),
      cache_error(cache_requests.with({"error"})),
      storage_query(r.histogram("streamgate_storage_query_duration_seconds",
                                "Duration of storage calls by backend and operation.",
                                {"backend", "operation"}, kQueryBuckets)),
      storage_errors(r.counter("streamgate_storage_errors_total",
                               "Storage calls that failed because the database failed.",
                               {"backend", "operation"})),
      media_bytes_sent(
          r.counter("streamgate_media_bytes_sent_total", "Media body bytes sent.").with({})),
      media_bytes_received(r.counter("streamgate_media_bytes_received_total",
                                     "Media body bytes received and committed.")
                               .with({})),
      hls_requests(r.counter("streamgate_hls_requests_total",
                             "HLS playlist and segment requests by kind and result.",
                             {"kind", "result"})),
      hls_segment_bytes(r.counter("streamgate_hls_segment_bytes_total",
                                  "Body bytes of HLS fMP4 (init section and segment) responses.")
                            .with({})),
      sessions_started(r.counter("streamgate_stream_sessions_started_total",
                                 "Playback sessions admitted for the first time.")
                           .with({})),
      sessions_refused(r.counter("streamgate_stream_sessions_refused_total",
                                 "Requests of new playback sessions refused by the stream cap.")
                           .with({})) {
  r.gauge("streamgate_version", "The version label this replica serves; always 1.", {"version"})
      .with({version_label})
      .set(1);
  r.gauge("streamgate_build_info", "Build information; always 1.", {"version", "compiler"})
      .with({SG_VERSION, __VERSION__})
      .set(1);
}

std::unique_ptr<Storage> instrument_storage(std::unique_ptr<Storage> inner,
                                            ServerMetrics& metrics) {
  return std::make_unique<InstrumentedStorage>(std::move(inner), metrics);
}

}  // namespace sg::server
