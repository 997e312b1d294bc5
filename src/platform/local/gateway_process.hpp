// GatewayProcess: the local backend's streamgate-gateway process. It starts the gateway with
// a config file (STATE_DIR/gateway.yaml) and the admin token in its environment, in a
// session of its own (it outlives a control plane killed with SIGKILL), records its PID and
// start time before anything else can happen (ProcessRecords), adopts the one an earlier
// control plane recorded when that exact process still runs, restarts it when it exits, and
// stops it gracefully (SIGTERM to its process group, SIGKILL after the grace period).
//
// Thread: owned by the local backend, used from the engine's thread only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/process.hpp"
#include "gateway/core/gateway_config.hpp"
#include "platform/gateway_client.hpp"
#include "platform/local/process_records.hpp"

namespace sg::platform {

struct GatewayProcessOptions {
  std::filesystem::path binary;
  std::filesystem::path state_dir;
  std::string listen;
  std::string admin_listen;
  std::string token;
  std::vector<std::string> pass_env = default_pass_env();  // what it inherits of ours
  std::chrono::seconds grace_period{30};
};

class GatewayProcess {
 public:
  using EventFn = std::function<void(const std::string& kind, const std::string& message)>;
  GatewayProcess(GatewayProcessOptions options, ProcessRecords& records, EventFn events);

  // Adopts the recorded gateway when that process still runs.
  void adopt();
  // Keeps a gateway running with `config` as its starting config (used only when it must
  // start one). Returns true when a new gateway process started (its counters start at 0).
  bool ensure(const gateway::GatewayConfig& config, std::chrono::steady_clock::time_point now);
  // The admin API client while the gateway answers; null otherwise.
  const GatewayClient* client() const { return client_.get(); }
  std::optional<pid_t> pid() const;
  // SIGTERM, wait up to the grace period, SIGKILL; forgets the record.
  void stop();
  const GatewayProcessOptions& options() const { return opts_; }

 private:
  bool check_alive();
  bool spawn(const gateway::GatewayConfig& config, std::chrono::steady_clock::time_point now);

  GatewayProcessOptions opts_;
  ProcessRecords& records_;
  EventFn events_;
  pid_t pid_ = -1;
  std::uint64_t start_ticks_ = 0;
  bool adopted_ = false;
  std::unique_ptr<GatewayClient> client_;
  std::chrono::steady_clock::time_point retry_at_{};
};

// Writes `config` as the gateway's config file (JSON is YAML), atomically.
void write_gateway_config(const std::filesystem::path& file, const gateway::GatewayConfig& config);

}  // namespace sg::platform
