// streamgate-server configuration: flags > environment (STREAMGATE_*) > YAML file
// (--config FILE, keys are the long flag names, '_' or '-'). `--help` documents every key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sg::server {

struct ServerConfig {
  std::string listen = "127.0.0.1:9090";
  std::string listen_host = "127.0.0.1";  // derived from `listen`
  std::uint16_t listen_port = 9090;       // derived from `listen`
  std::string version_label = SG_VERSION;
  std::string storage = "sqlite:streamgate.db";
  std::string cache = "memory";
  std::string media_dir = "media";
  unsigned media_sweep_age_seconds = 600;  // start-up sweep: leftovers older than this go
  std::vector<std::string> api_tokens;
  std::vector<std::string> cors_origins{};        // may read cross-origin ("*": any)
  std::vector<std::string> cors_write_origins{};  // may also write cross-origin
  double drain_delay_seconds = 5;
  double grace_period_seconds = 25;
  double chaos_error_rate = 0;
  int chaos_latency_ms = 0;
  double chaos_segment_error_rate = 0;
  int chaos_segment_delay_ms = 0;
  unsigned threads = 0;
  unsigned max_connections = 10000;  // clamped at start to what RLIMIT_NOFILE allows
  std::string log_level = "info";
  bool access_log = true;
  std::uint64_t max_body_bytes = 1024 * 1024;
  std::uint64_t max_media_bytes = 8ULL << 30;
  std::uint64_t max_buffered_body_bytes = 64ULL << 20;  // all connections together
  unsigned blocking_threads = 16;                       // run storage, remote-cache and disk calls
  unsigned blocking_queue = 1024;  // calls queued or running on them; more get 503
  unsigned header_timeout_seconds = 10;
  unsigned idle_timeout_seconds = 60;
  unsigned cache_ttl_seconds = 5;
  int db_pool_size = 8;
  // Playback: "KID:SECRET[,KID:SECRET...]" (the first signs); empty = unsigned playback.
  std::string playback_keys;
  unsigned playback_ttl_seconds = 1800;
  unsigned max_streams = 1000;
  double hls_segment_seconds = 4;
  unsigned media_analysis_timeout_seconds = 300;
};

struct ConfigOutcome {
  bool run = false;     // false: print `message` and exit with `exit_code`
  int exit_code = 0;    // 0 for --help/--version, 2 for invalid configuration
  std::string message;  // help text, or one line naming the problem
  ServerConfig config;
};

ConfigOutcome parse_server_config(int argc, const char* const* argv);

// Splits "HOST:PORT" ("[v6]:PORT" too). False when malformed.
bool split_host_port(const std::string& text, std::string& host, std::uint16_t& port);

}  // namespace sg::server
