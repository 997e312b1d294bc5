#include "server/config.hpp"

#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>

#include "common/host_port.hpp"
#include "common/log.hpp"
#include "server/cors.hpp"
#include "server/media/playback_token.hpp"

namespace sg::server {
namespace {

// Fills options the command line and environment left unset from a YAML mapping.
std::string apply_yaml(CLI::App& app, const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return "config file '" + path + "': " + e.what();
  }
  if (root.IsNull()) return {};
  if (!root.IsMap()) return "config file '" + path + "': the top level must be a mapping of keys";
  for (const auto& kv : root) {
    // A key that is a list or a mapping would throw in as<std::string>().
    if (!kv.first.IsScalar()) {
      return "config file '" + path + "': keys must be plain names (the long flag names)";
    }
    std::string key = kv.first.Scalar();
    std::string flag = key;
    for (char& c : flag) {
      if (c == '_') c = '-';
    }
    CLI::Option* opt = nullptr;
    for (CLI::Option* o : app.get_options()) {
      for (const auto& l : o->get_lnames()) {
        if (l == flag) opt = o;
      }
    }
    if (opt == nullptr || flag == "config" || flag == "help") {
      return "config file '" + path + "': unknown key '" + key + "' (see --help)";
    }
    if (opt->count() > 0) continue;  // flags and environment win
    try {
      if (kv.second.IsSequence()) {
        for (const auto& item : kv.second) opt->add_result(item.as<std::string>());
      } else if (kv.second.IsScalar()) {
        opt->add_result(kv.second.as<std::string>());
      } else {
        return "config file '" + path + "': key '" + key + "' must be a scalar or a list";
      }
      opt->run_callback();
    } catch (const std::exception& e) {
      return "config file '" + path + "': key '" + key + "': " + e.what();
    }
  }
  return {};
}

// `text` with control characters written as escapes, so a message that quotes a key or a
// value from the file stays one line (a quoted YAML key may hold a newline).
std::string one_line(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else {
      out += ch;
    }
  }
  return out;
}

std::string validate(ServerConfig& c) {
  if (!split_host_port(c.listen, c.listen_host, c.listen_port)) {
    return "--listen '" + c.listen + "' must be HOST:PORT (e.g. 127.0.0.1:9090)";
  }
  if (c.version_label.empty() || c.version_label.size() > 64)
    return "--version-label must be 1..64 characters";
  if (!(c.storage.starts_with("sqlite:") || c.storage.starts_with("postgresql://") ||
        c.storage.starts_with("postgres://"))) {
    return "--storage '" + c.storage + "' must be sqlite:PATH or postgresql://...";
  }
  if (!(c.cache == "memory" || c.cache.starts_with("redis://"))) {
    return "--cache '" + c.cache + "' must be memory or redis://HOST:PORT";
  }
  if (c.media_dir.empty()) return "--media-dir must not be empty";
  if (c.media_sweep_age_seconds > 31536000) return "--media-sweep-age must be 0..31536000 seconds";
  for (const auto& o : c.cors_origins) {
    if (o != "*" && !valid_origin(o))
      return "--cors-origin '" + o + "' must be * or an origin such as https://player.example";
  }
  for (const auto& o : c.cors_write_origins) {
    if (!valid_origin(o))
      return "--cors-write-origin '" + o + "' must be an origin such as https://admin.example";
  }
  for (const auto& t : c.api_tokens) {
    if (t.size() < 8 || t.size() > 256) return "--api-token values must be 8..256 characters";
  }
  if (!(c.drain_delay_seconds >= 0 && c.drain_delay_seconds <= 3600))
    return "--drain-delay must be 0..3600 seconds";
  if (!(c.grace_period_seconds >= 0 && c.grace_period_seconds <= 3600))
    return "--grace-period must be 0..3600 seconds";
  if (!(c.chaos_error_rate >= 0 && c.chaos_error_rate <= 1))
    return "--chaos-error-rate must be between 0 and 1";
  if (c.chaos_latency_ms < 0 || c.chaos_latency_ms > 60000)
    return "--chaos-latency-ms must be 0..60000";
  if (!(c.chaos_segment_error_rate >= 0 && c.chaos_segment_error_rate <= 1))
    return "--chaos-segment-error-rate must be between 0 and 1";
  if (c.chaos_segment_delay_ms < 0 || c.chaos_segment_delay_ms > 60000)
    return "--chaos-segment-delay-ms must be 0..60000";
  log::Level level;
  if (!log::parse_level(c.log_level, level))
    return "--log-level must be debug, info, warn or error";
  if (c.max_body_bytes < 1024 || c.max_body_bytes > (64ULL << 20))
    return "--max-body-bytes must be 1 KiB..64 MiB";
  if (c.max_media_bytes < 1 || c.max_media_bytes > (1ULL << 40))
    return "--max-media-bytes must be 1 B..1 TiB";
  if (c.max_buffered_body_bytes < c.max_body_bytes || c.max_buffered_body_bytes > (1ULL << 40))
    return "--max-buffered-body-bytes must be at least --max-body-bytes and at most 1 TiB";
  if (c.blocking_threads < 1 || c.blocking_threads > 256)
    return "--blocking-threads must be 1..256";
  if (c.blocking_queue < 1 || c.blocking_queue > 1000000)
    return "--blocking-queue must be 1..1000000";
  if (c.header_timeout_seconds < 1 || c.idle_timeout_seconds < 1)
    return "timeouts must be at least 1 second";
  if (c.db_pool_size < 1 || c.db_pool_size > 256) return "--db-pool-size must be 1..256";
  if (c.threads > 256) return "--threads must be 0..256";
  if (c.max_connections < 1 || c.max_connections > 1000000)
    return "--max-connections must be 1..1000000";
  if (!c.playback_keys.empty()) {
    if (auto keys = media::parse_playback_keys(c.playback_keys); !keys) {
      return "--playback-keys: " + keys.error().message;
    }
  }
  if (c.playback_ttl_seconds < 10 || c.playback_ttl_seconds > 86400)
    return "--playback-ttl must be 10..86400 seconds";
  if (c.max_streams < 1 || c.max_streams > 10000000) return "--max-streams must be 1..10000000";
  if (!(c.hls_segment_seconds >= 1 && c.hls_segment_seconds <= 30))
    return "--hls-segment-seconds must be 1..30";
  if (c.media_analysis_timeout_seconds < 1 || c.media_analysis_timeout_seconds > 86400)
    return "--media-analysis-timeout must be 1..86400 seconds";
  return {};
}

}  // namespace

bool split_host_port(const std::string& text, std::string& host, std::uint16_t& port) {
  auto hp = parse_host_port(text, {.allow_port_zero = true});
  if (!hp) return false;
  host = hp->host;
  port = hp->port;
  return true;
}

ConfigOutcome parse_server_config(int argc, const char* const* argv) {
  ConfigOutcome out;
  ServerConfig& c = out.config;
  CLI::App app{
      "streamgate-server: the StreamGate content service.\n"
      "Precedence: flags > environment > YAML file (--config).",
      "streamgate-server"};
  // A repeated flag takes its last value (wrappers append overrides); tokens accumulate.
  app.option_defaults()->always_capture_default()->multi_option_policy(
      CLI::MultiOptionPolicy::TakeLast);
  std::string config_file;
  app.add_option("--config", config_file, "YAML file whose keys are the long flag names")
      ->envname("STREAMGATE_CONFIG");
  app.add_option("--listen", c.listen, "HOST:PORT to serve on")->envname("STREAMGATE_LISTEN");
  app.add_option("--version-label", c.version_label,
                 "Version reported in X-StreamGate-Version and metrics")
      ->envname("STREAMGATE_VERSION_LABEL");
  app.add_option("--storage", c.storage, "sqlite:PATH or postgresql://USER@HOST:PORT/DB")
      ->envname("STREAMGATE_STORAGE");
  app.add_option("--cache", c.cache, "memory or redis://HOST:PORT")->envname("STREAMGATE_CACHE");
  app.add_option("--media-dir", c.media_dir, "Directory of media files, shared by all replicas")
      ->envname("STREAMGATE_MEDIA_DIR");
  app.add_option("--media-sweep-age", c.media_sweep_age_seconds,
                 "At start, remove abandoned uploads and unreferenced media older than this (s)")
      ->envname("STREAMGATE_MEDIA_SWEEP_AGE");
  app.add_option("--api-token", c.api_tokens, "Bearer token allowed to write (repeatable)")
      ->envname("STREAMGATE_API_TOKENS")
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->always_capture_default(false);
  app.add_option("--cors-origin", c.cors_origins,
                 "Origin whose pages may read and play media cross-origin, or * (repeatable)")
      ->envname("STREAMGATE_CORS_ORIGINS")
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->always_capture_default(false);
  app.add_option("--cors-write-origin", c.cors_write_origins,
                 "Origin whose pages may also write cross-origin (repeatable; none by default)")
      ->envname("STREAMGATE_CORS_WRITE_ORIGINS")
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->always_capture_default(false);
  app.add_option("--drain-delay", c.drain_delay_seconds,
                 "Seconds to keep accepting after SIGTERM while readiness is false")
      ->envname("STREAMGATE_DRAIN_DELAY");
  app.add_option("--grace-period", c.grace_period_seconds,
                 "Seconds in-flight requests get to finish once accepting stops")
      ->envname("STREAMGATE_GRACE_PERIOD");
  app.add_option("--chaos-error-rate", c.chaos_error_rate,
                 "DRILL ONLY: fraction (0..1) of /api/ requests answered 500")
      ->envname("STREAMGATE_CHAOS_ERROR_RATE");
  app.add_option("--chaos-latency-ms", c.chaos_latency_ms,
                 "DRILL ONLY: delay added to every /api/ request")
      ->envname("STREAMGATE_CHAOS_LATENCY_MS");
  app.add_option("--chaos-segment-error-rate", c.chaos_segment_error_rate,
                 "DRILL ONLY: fraction (0..1) of HLS segment (fMP4) requests answered 500")
      ->envname("STREAMGATE_CHAOS_SEGMENT_ERROR_RATE");
  app.add_option("--chaos-segment-delay-ms", c.chaos_segment_delay_ms,
                 "DRILL ONLY: delay added to every HLS segment (fMP4) response")
      ->envname("STREAMGATE_CHAOS_SEGMENT_DELAY_MS");
  app.add_option("--threads", c.threads, "I/O threads (0 = one per CPU the process may use)")
      ->envname("STREAMGATE_THREADS");
  app.add_option("--max-connections", c.max_connections,
                 "Client connections at once (lowered to what the descriptor limit allows)")
      ->envname("STREAMGATE_MAX_CONNECTIONS");
  app.add_option("--log-level", c.log_level, "debug, info, warn or error")
      ->envname("STREAMGATE_LOG_LEVEL");
  app.add_option("--access-log", c.access_log, "Log one line per request (true/false)")
      ->envname("STREAMGATE_ACCESS_LOG");
  app.add_option("--max-body-bytes", c.max_body_bytes, "Largest JSON request body")
      ->envname("STREAMGATE_MAX_BODY_BYTES");
  app.add_option("--max-media-bytes", c.max_media_bytes, "Largest media upload")
      ->envname("STREAMGATE_MAX_MEDIA_BYTES");
  app.add_option("--max-buffered-body-bytes", c.max_buffered_body_bytes,
                 "Request-body bytes held in memory at once over all connections (503 above)")
      ->envname("STREAMGATE_MAX_BUFFERED_BODY_BYTES");
  app.add_option("--blocking-threads", c.blocking_threads,
                 "Threads that run storage, remote-cache and disk calls (never the I/O threads)")
      ->envname("STREAMGATE_BLOCKING_THREADS");
  app.add_option("--blocking-queue", c.blocking_queue,
                 "Requests queued or running on those threads at once (503 above)")
      ->envname("STREAMGATE_BLOCKING_QUEUE");
  app.add_option("--header-timeout", c.header_timeout_seconds, "Seconds to receive a request head")
      ->envname("STREAMGATE_HEADER_TIMEOUT");
  app.add_option("--idle-timeout", c.idle_timeout_seconds,
                 "Seconds a keep-alive connection may idle")
      ->envname("STREAMGATE_IDLE_TIMEOUT");
  app.add_option("--cache-ttl", c.cache_ttl_seconds, "Seconds a cached item lives")
      ->envname("STREAMGATE_CACHE_TTL");
  app.add_option("--db-pool-size", c.db_pool_size, "Database connections per replica")
      ->envname("STREAMGATE_DB_POOL_SIZE");
  app.add_option("--playback-keys", c.playback_keys,
                 "Playback signing keys KID:SECRET[,KID:SECRET...] (first signs, all verify; "
                 "secrets >= 32 bytes); empty = unsigned playback. Prefer the environment.")
      ->envname("STREAMGATE_PLAYBACK_KEYS")
      ->always_capture_default(false);
  app.add_option("--playback-ttl", c.playback_ttl_seconds, "Seconds a playback token is valid")
      ->envname("STREAMGATE_PLAYBACK_TTL");
  app.add_option("--max-streams", c.max_streams,
                 "Active playback sessions allowed (per replica with the memory cache, across "
                 "replicas with Redis)")
      ->envname("STREAMGATE_MAX_STREAMS");
  app.add_option("--hls-segment-seconds", c.hls_segment_seconds,
                 "Shortest HLS segment; segments are cut at the next keyframe")
      ->envname("STREAMGATE_HLS_SEGMENT_SECONDS");
  app.add_option("--media-analysis-timeout", c.media_analysis_timeout_seconds,
                 "Seconds an upload's probe and remux may take")
      ->envname("STREAMGATE_MEDIA_ANALYSIS_TIMEOUT");
  app.set_version_flag("--version", SG_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out.message = app.help();
    return out;
  } catch (const CLI::CallForVersion&) {
    out.message = std::string(SG_VERSION) + "\n";
    return out;
  } catch (const CLI::ParseError& e) {
    out.exit_code = 2;
    out.message = "streamgate-server: " + one_line(e.what()) + "\n";
    return out;
  }
  std::string problem;
  if (!config_file.empty()) problem = apply_yaml(app, config_file);
  if (problem.empty()) problem = validate(c);
  if (!problem.empty()) {
    out.exit_code = 2;
    out.message = "streamgate-server: " + one_line(problem) + "\n";
    return out;
  }
  out.run = true;
  return out;
}

}  // namespace sg::server
