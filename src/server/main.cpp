// streamgate-server: wires configuration, storage, cache, media store, metrics and the HTTP
// server together, and runs the graceful stop sequence on SIGTERM/SIGINT:
//   readiness 503 at once -> keep serving for the drain delay -> stop accepting ->
//   in-flight requests finish within the grace period -> exit 0.
#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "common/fd_limits.hpp"
#include "common/http/http_server.hpp"
#include "common/http/url.hpp"
#include "common/log.hpp"
#include "common/process_metrics.hpp"
#include "server/cache/cache.hpp"
#include "server/config.hpp"
#include "server/content_api.hpp"
#include "server/media/playback_token.hpp"
#include "server/media/stream_sessions.hpp"
#include "server/media_store.hpp"
#include "server/server_metrics.hpp"
#include "server/storage/storage.hpp"

namespace {

using namespace sg;
using namespace sg::server;

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

// Raises the descriptor limit and clamps max_connections to it: a connection may hold its
// socket and one file (a media download or upload); kept aside are the database and cache
// pools, listeners, event loops, logs.
std::uint32_t plan_connections(const ServerConfig& cfg) {
  const FdLimit fds = raise_fd_limit();
  const std::uint64_t reserved =
      64 + static_cast<std::uint64_t>(cfg.db_pool_size) + 16 + 4 * std::max(1u, cfg.threads);
  const std::uint32_t allowed = connections_for(fds.soft, 2, reserved, cfg.max_connections);
  log::write(allowed < cfg.max_connections ? log::Level::kWarn : log::Level::kInfo,
             allowed < cfg.max_connections
                 ? "max connections lowered to what the descriptor limit allows"
                 : "connection capacity",
             {{"fd_limit_at_start", fds.before},
              {"fd_limit", fds.soft},
              {"fd_limit_hard", fds.hard},
              {"max_connections", allowed},
              {"configured_max_connections", cfg.max_connections}});
  return allowed;
}

// Removes what crashed or failed uploads left in the media dir. A failure is logged, not
// fatal: the files only take space.
void sweep_media(MediaStore& media, Storage& storage, std::chrono::seconds min_age) {
  auto referenced = storage.media_files();
  if (!referenced) {
    log::warn("media sweep skipped: cannot list recorded media",
              {{"error", referenced.error().message}});
    return;
  }
  auto swept = media.sweep(*referenced, min_age);
  if (!swept) {
    log::warn("media sweep failed", {{"error", swept.error().message}});
    return;
  }
  log::info("media dir swept", {{"temp_files_removed", swept->temp_files},
                                {"orphan_files_removed", swept->orphan_files},
                                {"bytes_removed", swept->bytes},
                                {"min_age_s", static_cast<std::int64_t>(min_age.count())}});
}

// What the content API stands on: storage (instrumented), cache and media dir.
struct Dependencies {
  std::unique_ptr<Storage> storage;
  std::unique_ptr<Cache> cache;
  std::unique_ptr<MediaStore> media;
};

Result<Dependencies> open_dependencies(const ServerConfig& cfg, ServerMetrics& server_metrics) {
  StorageOptions storage_opts;
  storage_opts.pool_size = cfg.db_pool_size;
  auto storage = open_storage(cfg.storage, storage_opts);
  if (!storage) {
    log::error("cannot open storage",
               {{"storage", http::redact_url(cfg.storage)}, {"error", storage.error().message}});
    return storage.error();
  }
  Dependencies d;
  d.storage = instrument_storage(std::move(*storage), server_metrics);
  auto cache = open_cache(cfg.cache, CacheOptions{});
  if (!cache) {
    log::error("cannot open cache",
               {{"cache", http::redact_url(cfg.cache)}, {"error", cache.error().message}});
    return cache.error();
  }
  d.cache = std::move(*cache);
  d.media = std::make_unique<MediaStore>(cfg.media_dir);
  if (Status st = d.media->init(); !st) {
    log::error("cannot use media dir", {{"error", st.error().message}});
    return st.error();
  }
  sweep_media(*d.media, *d.storage, std::chrono::seconds(cfg.media_sweep_age_seconds));
  return d;
}

ApiOptions api_options(const ServerConfig& cfg) {
  ApiOptions api_opts;
  api_opts.version_label = cfg.version_label;
  api_opts.api_tokens = cfg.api_tokens;
  api_opts.chaos_error_rate = cfg.chaos_error_rate;
  api_opts.chaos_latency = std::chrono::milliseconds(cfg.chaos_latency_ms);
  api_opts.chaos_segment_error_rate = cfg.chaos_segment_error_rate;
  api_opts.chaos_segment_delay = std::chrono::milliseconds(cfg.chaos_segment_delay_ms);
  api_opts.max_body_bytes = cfg.max_body_bytes;
  api_opts.max_media_bytes = cfg.max_media_bytes;
  api_opts.cache_ttl = std::chrono::seconds(cfg.cache_ttl_seconds);
  api_opts.access_log = cfg.access_log;
  api_opts.cors_origins = cfg.cors_origins;
  api_opts.cors_write_origins = cfg.cors_write_origins;
  if (!cfg.playback_keys.empty()) {
    // Validated by the configuration parser; the secrets are never logged.
    api_opts.playback_keys = std::move(*media::parse_playback_keys(cfg.playback_keys));
  }
  api_opts.playback_ttl = std::chrono::seconds(cfg.playback_ttl_seconds);
  api_opts.analysis.segment_target = cfg.hls_segment_seconds;
  api_opts.analysis.time_limit = std::chrono::seconds(cfg.media_analysis_timeout_seconds);
  api_opts.sessions.max_sessions = cfg.max_streams;
  return api_opts;
}

http::ServerOptions http_options(const ServerConfig& cfg) {
  http::ServerOptions http_opts;
  http_opts.host = cfg.listen_host;
  http_opts.port = cfg.listen_port;
  http_opts.threads = cfg.threads;
  http_opts.header_timeout = std::chrono::seconds(cfg.header_timeout_seconds);
  http_opts.idle_timeout = std::chrono::seconds(cfg.idle_timeout_seconds);
  http_opts.response_headers = {{"X-StreamGate-Version", cfg.version_label}};
  http_opts.max_buffered_body_bytes = cfg.max_buffered_body_bytes;
  http_opts.blocking_threads = cfg.blocking_threads;
  http_opts.blocking_queue = cfg.blocking_queue;
  http_opts.max_connections = plan_connections(cfg);
  return http_opts;
}

// Waits for SIGTERM/SIGINT on the main thread, then drains: readiness false at once, keep
// serving for the drain delay, stop accepting, finish in-flight requests within the grace
// period. A second signal skips the remaining drain. Returns whether it ended idle.
bool drain_on_signal(const ServerConfig& cfg, ContentApi& api, http::HttpServer& server) {
  boost::asio::io_context signals_io;
  boost::asio::signal_set signals(signals_io, SIGTERM, SIGINT);
  int received = 0;
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (!ec) received = sig;
  });
  signals_io.run();
  log::info("stopping: readiness is now false", {{"signal", received},
                                                 {"drain_delay_s", cfg.drain_delay_seconds},
                                                 {"grace_period_s", cfg.grace_period_seconds}});
  api.set_draining(true);
  signals_io.restart();
  bool hurry = false;
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) hurry = true;
  });
  signals_io.run_for(to_ms(cfg.drain_delay_seconds));
  server.stop_accepting();
  const bool idle =
      server.wait_idle(std::chrono::steady_clock::now() +
                       (hurry ? std::chrono::milliseconds(0) : to_ms(cfg.grace_period_seconds)));
  if (!idle) {
    log::warn("grace period over with requests in flight; closing them",
              {{"in_flight", server.in_flight()}, {"connections", server.connections()}});
  }
  return idle;
}

int run(const ServerConfig& cfg) {
  log::Level level = log::Level::kInfo;
  log::parse_level(cfg.log_level, level);
  log::set_level(level);

  metrics::Registry registry;
  ServerMetrics server_metrics(registry, cfg.version_label);
  metrics::register_process_metrics(registry);
  auto deps = open_dependencies(cfg, server_metrics);
  if (!deps) return 1;
  const ApiOptions api_opts = api_options(cfg);
  auto sessions = media::open_stream_sessions(cfg.cache, api_opts.sessions);
  if (!sessions) {
    log::error("cannot open stream sessions", {{"error", sessions.error().message}});
    return 1;
  }
  registry.add_collector([&sessions](std::string& out) {
    metrics::append_family_head(out, "streamgate_stream_sessions_active", "gauge",
                                "Playback sessions with a request in the last 60 s (across "
                                "replicas with Redis).");
    metrics::append_sample(out, "streamgate_stream_sessions_active", {}, {},
                           static_cast<double>((**sessions).active()));
  });
  ContentApi api(api_opts, *deps->storage, *deps->cache, *deps->media, server_metrics,
                 sessions->get());
  const http::ServerOptions http_opts = http_options(cfg);
  http::HttpServer server(http_opts, api);
  registry.add_collector([&server, max_connections = http_opts.max_connections](std::string& out) {
    auto sample = [&out](const char* name, const char* type, const char* help, double v) {
      metrics::append_family_head(out, name, type, help);
      metrics::append_sample(out, name, {}, {}, v);
    };
    sample("http_requests_in_flight", "gauge", "Requests being served now.",
           static_cast<double>(server.in_flight()));
    sample("http_connections", "gauge", "Client connections open now.",
           static_cast<double>(server.connections()));
    sample("http_max_connections", "gauge",
           "Client connections allowed at once (--max-connections, clamped to what "
           "RLIMIT_NOFILE allows).",
           max_connections);
    sample("http_accept_errors_total", "counter",
           "Failed accept(2) calls (out of descriptors, say).",
           static_cast<double>(server.accept_errors()));
    sample("http_connections_rejected_total", "counter",
           "Connections closed at accept because max connections were open.",
           static_cast<double>(server.connections_rejected()));
    if (const auto* pool = server.blocking_pool()) {
      sample("streamgate_blocking_pool_pending", "gauge",
             "Requests queued or running on the blocking pool.",
             static_cast<double>(pool->pending()));
      sample("streamgate_blocking_pool_refused_total", "counter",
             "Requests answered 503 because the blocking pool's queue was full.",
             static_cast<double>(pool->refused()));
    }
    sample("streamgate_buffered_body_bytes", "gauge",
           "Request-body bytes held in memory now (of --max-buffered-body-bytes).",
           static_cast<double>(server.body_budget().in_use()));
  });
  if (Status st = server.start(); !st) {
    log::error("cannot start HTTP server", {{"error", st.error().message}});
    return 1;
  }
  log::info("streamgate-server listening",
            {{"listen", cfg.listen_host + ":" + std::to_string(server.port())},
             {"version", cfg.version_label},
             {"storage", deps->storage->backend()},
             {"cache", deps->cache->backend()},
             {"media_dir", cfg.media_dir},
             {"write_tokens", static_cast<std::int64_t>(cfg.api_tokens.size())},
             {"playback_signing", !cfg.playback_keys.empty()},
             {"playback_key_ids", static_cast<std::int64_t>(api_opts.playback_keys.size())},
             {"max_streams", cfg.max_streams}});
  const bool idle = drain_on_signal(cfg, api, server);
  server.stop();
  log::info("stopped", {{"clean", idle}});
  return 0;
}

// If the parent closed stdin/stdout/stderr, later sockets would take those numbers and logs
// would be written into a database connection. Park /dev/null on any closed standard fd.
void ensure_standard_fds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) == -1) {
      const int null_fd = ::open("/dev/null", O_RDWR);
      if (null_fd >= 0 && null_fd != fd) {
        ::dup2(null_fd, fd);
        ::close(null_fd);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  ensure_standard_fds();
  auto outcome = parse_server_config(argc, argv);
  if (!outcome.run) {
    std::fputs(outcome.message.c_str(), outcome.exit_code == 0 ? stdout : stderr);
    return outcome.exit_code;
  }
  std::signal(SIGPIPE, SIG_IGN);
  return run(outcome.config);
}
