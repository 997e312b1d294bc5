// KubeBackend: the Backend (backend.hpp) on Kubernetes. Each track is a Deployment that the
// manifests ship (deploy/k8s: streamgate-blue, streamgate-green, streamgate-canary); a
// track's desired release and replicas become that Deployment's container image
// (REPOSITORY:RELEASE, the repository kept from its current image, with env
// STREAMGATE_VERSION_LABEL=RELEASE, which /api/v1/health reports for the smoke test) and
// spec.replicas, set by a strategic-merge patch; Kubernetes starts, probes, restarts and stops the pods. The active
// colour is Service streamgate-active's selector (version=COLOUR; streamgate-preview selects
// the other). Weights go to our gateway (its admin API: a whole config with each track's
// ready pod IP:PORT as endpoints), whose /metrics give the per-track traffic. Replica state
// comes from pod status: readiness, restartCount, CrashLoopBackOff, lastState.terminated,
// deletionTimestamp. It never creates or deletes workloads, and shutdown() leaves them
// serving.
//
// Each reconcile() reads the namespace once (one `kubectl get deployments,services,pods`),
// then applies routes, the active Service, and the Deployments that differ from the desired
// state. Routes go first: a track loses its weight before its Deployment is scaled down.
// Kubernetes picks which pod of a shrinking Deployment stops; that pod leaves the gateway's
// endpoints when the next read shows it terminating (the server's preStop delay and the
// gateway's health checks cover the gap). Session-aware draining is not done here.
//
// Thread: the engine's thread (see backend.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "gateway/core/gateway_config.hpp"
#include "platform/backend.hpp"
#include "platform/gateway_client.hpp"
#include "platform/kube/kubectl.hpp"
#include "platform/prom_traffic.hpp"

namespace sg::platform {

// How user traffic reaches the tracks.
//  * kGateway: through our gateway, whose weights sgctl sets (exact per-request weights).
//  * kReplicas: without our gateway, through Service streamgate-live. Outside a canary it
//    selects version=<active colour> (switched like streamgate-active); while a canary has
//    weight it selects streamgate.dev/live=true, a label sgctl keeps on the pods of every
//    weighted track, and sgctl sizes the canary Deployment so that its share of the pods is
//    nearest the canary's weight (canary_replicas_for_weight): kube-proxy spreads
//    connections at random over the ready pods, so a canary's real share is
//    canary pods / (stable pods + canary pods), of connections, not requests.
//    Per-track traffic then comes from Prometheus (KubeBackendOptions::prometheus).
enum class KubeRouting { kGateway, kReplicas };
inline constexpr const char* kLiveLabel = "streamgate.dev/live";

// Canary replicas whose share of the pods is nearest `weight` % next to `stable_replicas`
// (at least `min_replicas`, and at least 1 while weighted); 0 when the weight is 0.
int canary_replicas_for_weight(int stable_replicas, int weight, int min_replicas);

struct KubeBackendOptions {
  KubectlOptions kubectl;
  KubeRouting routing = KubeRouting::kGateway;
  // Per-track traffic from Prometheus instead of the gateways' /metrics (required with
  // kReplicas).
  std::optional<PromTrafficOptions> prometheus;
  // The gateways: every ready pod labelled `gateway_selector` (KEY=VALUE), each configured
  // and read at POD_IP:ADMIN_PORT (its container port named "admin", else 8081), so that all
  // replicas of the gateway Deployment route alike and their counters add up. Or, when
  // gateway_admin is set, the one gateway at that HOST:PORT (a name is resolved; behind a
  // Service only when it has one replica).
  std::string gateway_admin;
  std::string gateway_selector = "app=streamgate-gateway";
  std::string gateway_token;
  std::string prefix = "streamgate-";  // Deployment streamgate-TRACK, Services streamgate-active/-preview
  std::chrono::milliseconds read_every{1000};  // at most one namespace read per this period
  // False: write nothing (Deployments, Services, gateways); the controller without its Lease.
  std::function<bool()> may_write;
};

// What a Deployment's and its pods' JSON say, as the backend uses it (exposed for tests).
struct KubeTrack {
  bool exists = false;
  std::string container;   // the first container's name
  std::string repository;  // image without the tag
  std::string release;     // the image's tag
  int replicas = 0;        // spec.replicas
};
std::pair<std::string, std::string> split_image(const std::string& image);
// ReplicaInfo of a pod (track from label version); nullopt for a pod that is not one of ours.
std::optional<ReplicaInfo> replica_from_pod(const boost::json::value& pod, bool was_ready);
// Adds one gateway's counters to `into` (several gateway replicas: the traffic path's total).
void add_traffic(TrackTraffic& into, const TrackTraffic& more);

class KubeBackend final : public Backend {
 public:
  using EventFn = std::function<void(const std::string& kind, const std::string& message)>;

  // Reads the namespace and checks that the three track Deployments and the two Services
  // exist (the error names what is missing and which overlay ships it).
  static Result<std::unique_ptr<KubeBackend>> open(KubeBackendOptions options, EventFn events);

  std::string_view name() const override { return "kubernetes"; }
  void set_track(const std::string& track, const control::TrackTarget& target) override;
  void set_weights(const std::map<std::string, int>& weights) override;
  void reconcile(std::chrono::steady_clock::time_point now) override;
  void sync_routes() override;
  std::vector<ReplicaInfo> replicas() const override { return replicas_; }
  GatewayInfo gateway() const override;
  Result<TrackTraffic> traffic() override;
  Result<std::vector<EndpointLoad>> endpoint_load() override;
  // Gateways joining or leaving start a new epoch of their counters; Prometheus' accumulated
  // counters never need one.
  std::uint64_t traffic_epoch() const override { return prometheus_ ? 0 : traffic_epoch_; }
  std::optional<std::string> track_version(const std::string& track) override;
  std::vector<std::string> track_endpoints(const std::string& track) const override;
  std::string log_tail(const ReplicaInfo& replica, std::size_t max_bytes) const override;
  void shutdown() override {}

  // The active colour and each track's Deployment as last read (for the control plane's
  // first start: what the cluster runs).
  const std::string& active_colour() const { return active_; }
  const std::map<std::string, KubeTrack>& tracks() const { return tracks_; }

 private:
  KubeBackend(KubeBackendOptions options, EventFn events);
  Status read_namespace();
  bool may_write() const;
  void apply_routes();
  void apply_desired();
  void apply_active_service();
  void apply_deployments();
  void apply_live_labels();
  bool label_pods(const std::vector<std::string>& pods, bool live);
  bool patch_live_selector(const boost::json::object& selector, const std::string& what);
  int effective_replicas(const std::string& track, const control::TrackTarget& target) const;
  std::string weighted_colour() const;  // the colour with the most weight; "" if none
  int stable_replicas() const;          // desired replicas of that colour (else the active one)
  int canary_weight() const;
  Result<TrackTraffic> prometheus_traffic();
  void connect_gateways(std::chrono::steady_clock::time_point now);
  void verify_gateways(std::chrono::steady_clock::time_point now);
  gateway::GatewayConfig desired_gateway_config(const gateway::GatewayConfig& base,
                                                const std::optional<gateway::GatewayConfig>& applied) const;
  void problem(const std::string& key, const std::string& message);
  void solved(const std::string& key);

  KubeBackendOptions opts_;
  Kubectl kubectl_;
  EventFn events_;
  std::map<std::string, control::TrackTarget> desired_;
  std::map<std::string, int> weights_;
  std::map<std::string, KubeTrack> tracks_;
  std::string active_;   // streamgate-active's selector, as read
  std::string preview_;  // streamgate-preview's selector, as read
  std::vector<ReplicaInfo> replicas_;
  std::map<std::string, bool> pod_live_;  // server pod -> carries streamgate.dev/live=true
  bool live_service_ = false;             // Service streamgate-live exists
  bool live_by_label_ = false;            // its selector is streamgate.dev/live=true
  std::string live_version_;              // else its selector's version
  std::optional<PromTrafficSource> prometheus_;
  std::set<std::string> ready_pods_;  // pods seen ready (for readiness flaps)
  std::map<std::string, int> flaps_;
  struct Gateway {
    std::unique_ptr<GatewayClient> client;
    gateway::GatewayConfig base;                    // its own config (listeners, checks, ...)
    std::optional<gateway::GatewayConfig> applied;  // what we last applied
  };
  std::optional<std::pair<std::string, std::string>> gateway_key_;  // gateway_selector
  std::map<std::string, std::string> gateway_targets_;  // name -> admin HOST:PORT, as read
  std::map<std::string, Gateway> gateways_;             // connected, by name
  std::map<std::string, std::chrono::steady_clock::time_point> gateway_retry_;
  std::chrono::steady_clock::time_point next_read_{};
  std::chrono::steady_clock::time_point next_verify_{};
  std::uint64_t traffic_epoch_ = 0;
  std::uint64_t last_total_ = 0;
  std::set<std::string> problems_;  // reported once until solved
  bool fresh_ = false;              // the last namespace read worked
  bool connected_once_ = false;     // some gateway was connected (the first round is not a new epoch)
  mutable std::map<std::string, std::pair<int, std::string>> logs_;  // pod -> (restarts, tail)
};

}  // namespace sg::platform
