// LocalBackend: the Backend (backend.hpp) for one machine with no cluster: replicas are
// local streamgate-server processes (ReplicaSet), the traffic path is a local
// streamgate-gateway process (GatewayProcess) configured through its admin API, and what
// they are is recorded in the state dir (ProcessRecords) so a restarted control plane adopts
// them. Tracks in the gateway: "blue" and "green" (one of them active) and "canary".
//
// Thread: the engine's thread (see backend.hpp).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/log_rotation.hpp"
#include "common/process.hpp"
#include "common/result.hpp"
#include "gateway/core/gateway_config.hpp"
#include "platform/backend.hpp"
#include "platform/local/gateway_process.hpp"
#include "platform/local/process_records.hpp"
#include "platform/local/replica_set.hpp"

namespace sg::platform {

struct LocalBackendOptions {
  std::filesystem::path state_dir;
  std::string listen = "127.0.0.1:8080";        // the gateway's client listener
  std::string admin_listen = "127.0.0.1:8081";  // the gateway's admin listener
  std::filesystem::path gateway_bin;
  int gateway_threads = 0;
  std::string gateway_token;
  std::chrono::seconds drain_timeout{30};
  std::chrono::seconds grace_period{30};
  std::chrono::seconds restart_backoff{10};
  control::SessionDrainPolicy session_drain{};  // see ReplicaSetOptions
  // Environment every replica gets (storage, cache, media dir, API tokens, drain timings).
  std::vector<std::pair<std::string, std::string>> replica_env;
  // What the replicas and the gateway inherit of our environment (process.hpp pass_env).
  std::vector<std::string> pass_env = default_pass_env();
  bool admin_insecure_listen = false;  // gateway admin.insecure_listen
  LogRotation log_rotation;            // replica and gateway logs
};

class LocalBackend final : public Backend {
 public:
  using ResolveFn = std::function<Result<ReleaseSpec>(const std::string& release)>;
  using EventFn = std::function<void(const std::string& kind, const std::string& message)>;

  // Opens the process records, adopts the gateway and replicas an earlier control plane left
  // running.
  static Result<std::unique_ptr<LocalBackend>> open(LocalBackendOptions options, ResolveFn resolve,
                                                    EventFn events);

  std::string_view name() const override { return "local"; }
  void set_track(const std::string& track, const control::TrackTarget& target) override;
  void set_weights(const std::map<std::string, int>& weights) override;
  void reconcile(std::chrono::steady_clock::time_point now) override;
  void sync_routes() override;
  std::vector<ReplicaInfo> replicas() const override;
  GatewayInfo gateway() const override;
  Result<TrackTraffic> traffic() override;
  Result<std::vector<EndpointLoad>> endpoint_load() override;
  std::uint64_t traffic_epoch() const override { return traffic_epoch_; }
  std::optional<std::string> track_version(const std::string& track) override;
  std::vector<std::string> track_endpoints(const std::string& track) const override;
  std::string log_tail(const ReplicaInfo& replica, std::size_t max_bytes) const override;
  void shutdown() override;

 private:
  LocalBackend(LocalBackendOptions options, std::unique_ptr<ProcessRecords> records,
               EventFn events);
  gateway::GatewayConfig desired_gateway_config() const;
  void measure_gateway(std::chrono::steady_clock::time_point now);
  // Rotates the replica and gateway logs that passed the size cap (every few seconds).
  void rotate_logs(std::chrono::steady_clock::time_point now);

  LocalBackendOptions opts_;
  std::unique_ptr<ProcessRecords> records_;
  EventFn events_;
  std::unique_ptr<ReplicaSet> replicas_;
  std::unique_ptr<GatewayProcess> gateway_;
  std::map<std::string, int> weights_;
  std::optional<gateway::GatewayConfig> applied_;
  std::uint64_t traffic_epoch_ = 0;
  double gateway_cpu_seconds_ = -1;
  std::chrono::steady_clock::time_point gateway_cpu_at_{};
  std::optional<double> gateway_cpu_cores_;
  std::optional<double> gateway_memory_;
  std::chrono::steady_clock::time_point next_log_check_{};
  std::set<std::string> rotation_failing_;  // log files whose rotation failed, reported
};

}  // namespace sg::platform
