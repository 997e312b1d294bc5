// A Backend for engine tests: replicas that become ready, crash, restart and answer with a
// chosen error rate and latency, all on the injected (simulated) clock, and a gateway that
// splits `organic_rps` requests a second between tracks by the weights last applied. No
// processes, no sockets. FakeSyntheticTraffic sends the engine's synthetic requests to the
// same simulated replicas.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "platform/backend.hpp"
#include "platform/engine/synthetic_traffic.hpp"

namespace sg::platform::test {

struct FakeRelease {
  std::chrono::seconds ready_after{2};
  bool never_ready = false;
  std::optional<std::chrono::seconds> crash_after{};  // exits this long after every start
  std::chrono::seconds restart_backoff{10};
  double error_rate = 0;   // of its answers
  double latency_s = 0.01;
  double cpu_seconds_per_request = 0;  // CPU a replica burns per request it answers
  std::optional<std::string> version{};  // what its health answer says (default: its name)
};

struct FakeReplica {
  ReplicaInfo info;
  std::chrono::steady_clock::time_point started{};
  std::chrono::steady_clock::time_point restart_at{};
};

class FakeBackend final : public Backend {
 public:
  explicit FakeBackend(const Clock& clock);

  std::map<std::string, FakeRelease> releases;
  double organic_rps = 0;
  bool gateway_up = true;

  std::string_view name() const override { return "fake"; }
  void set_track(const std::string& track, const control::TrackTarget& target) override;
  void set_weights(const std::map<std::string, int>& weights) override { desired_weights_ = weights; }
  void reconcile(std::chrono::steady_clock::time_point now) override;
  void sync_routes() override;
  std::vector<ReplicaInfo> replicas() const override;
  GatewayInfo gateway() const override;
  Result<TrackTraffic> traffic() override;
  std::uint64_t traffic_epoch() const override { return epoch_; }
  std::optional<std::string> track_version(const std::string& track) override;
  std::vector<std::string> track_endpoints(const std::string& track) const override;
  // Each ready replica's share of its track's organic traffic; in flight = rps * latency.
  Result<std::vector<EndpointLoad>> endpoint_load() override;
  std::string log_tail(const ReplicaInfo& replica, std::size_t max_bytes) const override;
  void shutdown() override { shut_down = true; }

  // Simulates `n` requests answered by `release` into `sample`.
  void answer(const std::string& release, double n, double& carry, control::TrafficSample& sample);
  const FakeRelease& release(const std::string& name);
  // The release a track's replicas run, when it has a ready one.
  std::optional<std::string> serving_release(const std::string& track) const;

  // For assertions.
  std::map<std::string, int> applied_weights;
  std::vector<std::map<std::string, int>> route_log;  // every change of applied weights
  std::map<std::string, control::TrackTarget> targets;
  std::map<std::string, std::uint64_t> served_by_release;  // organic requests answered
  bool shut_down = false;
  void restart_gateway() { ++epoch_; counters_ = TrackTraffic{}; }

 private:
  void reconcile_replicas(std::chrono::steady_clock::time_point now);
  void route_traffic(double seconds);
  double replica_rps(const FakeReplica& r) const;

  const Clock& clock_;
  std::map<std::string, int> desired_weights_;
  std::vector<FakeReplica> replicas_;
  int next_id_ = 1;
  std::uint64_t epoch_ = 1;
  TrackTraffic counters_;
  std::map<std::string, double> carries_;
  std::optional<std::chrono::steady_clock::time_point> last_;
};

class FakeSyntheticTraffic final : public SyntheticTraffic {
 public:
  FakeSyntheticTraffic(FakeBackend& backend, const Clock& clock)
      : backend_(backend), clock_(clock) {}
  void set_plan(std::vector<std::string> endpoints, std::vector<std::string> paths,
                double rps) override;
  void reset() override;
  control::TrafficSample sample() const override;

  mutable std::uint64_t total_sent = 0;  // over every rollout
  double max_rps_seen = 0;

 private:
  void accrue() const;
  FakeBackend& backend_;
  const Clock& clock_;
  std::vector<std::string> endpoints_;
  double rps_ = 0;
  mutable std::optional<std::chrono::steady_clock::time_point> last_;
  mutable double carry_ = 0;
  mutable control::TrafficSample sample_;
  mutable std::uint64_t sent_ = 0;
};

}  // namespace sg::platform::test
