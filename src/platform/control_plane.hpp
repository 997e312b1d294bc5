// The local control plane that `sgctl up` runs: the engine over the local backend, with its
// control API on loopback. This is the one place that assembles a backend; the CLI includes
// only this header, never src/platform/local.
//
// State dir layout: state.db (0600), api-token, gateway-admin-token and control-token
// (0600), control-address (while running), logs/, media/, gateway.yaml.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "control/session_drain.hpp"

namespace sg::platform {

// The Kubernetes backend (platform/kube): the engine carried out on the Deployments and
// Services of one namespace through kubectl, weights on our gateway through its admin API,
// rollout state in ConfigMap streamgate-rollout-state (kube/cluster_state.hpp).
struct KubePlaneOptions {
  bool enabled = false;
  std::string kubectl = "kubectl";
  std::string context;  // kubectl --context; empty: the kubeconfig's current one
  std::string ns = "streamgate";
  // The gateway's admin HOST:PORT (a name is resolved); empty: every ready pod labelled
  // gateway_selector, each at its pod IP (kube/kube_backend.hpp).
  std::string gateway_admin;
  std::string gateway_selector = "app=streamgate-gateway";
  std::filesystem::path gateway_token_file;       // else env STREAMGATE_ADMIN_TOKEN
  // "gateway" (weights on our gateway) or "replicas" (no gateway: Service streamgate-live and a
  // replica-ratio canary; traffic from Prometheus): kube/kube_backend.hpp, KubeRouting.
  std::string routing = "gateway";
  // Prometheus' URL: per-track traffic from it (prom_traffic.hpp) instead of the gateways;
  // required with routing "replicas". Empty queries take the defaults for the namespace.
  std::string prometheus;
  std::string prom_requests, prom_errors, prom_latency;
  // `sgctl controller`: drive only while holding this coordination.k8s.io Lease.
  bool controller = false;
  std::string lease_name = "streamgate-controller";
  std::chrono::seconds lease_duration{15};
};

struct LocalPlaneOptions {
  std::filesystem::path state_dir = ".streamgate";
  std::string listen = "127.0.0.1:8080";        // the gateway's client listener
  std::string admin_listen = "127.0.0.1:8081";  // the gateway's admin listener
  std::string control_listen = "127.0.0.1:0";   // the control API (port 0: any free one)
  std::string release;                          // first release, when nothing is active yet
  int replicas = 2;                             // of the first release
  std::string storage;                          // default sqlite:STATE_DIR/streamgate.db
  std::string cache = "memory";
  std::filesystem::path gateway_bin;  // streamgate-gateway
  std::filesystem::path server_bin;   // streamgate-server: the default catalog's release
  int gateway_threads = 0;
  std::chrono::milliseconds tick{500};
  std::chrono::seconds drain_timeout{30};
  std::chrono::seconds grace_period{30};
  std::chrono::seconds replica_drain_delay{1};  // STREAMGATE_DRAIN_DELAY for replicas
  std::chrono::seconds restart_backoff{10};     // first restart delay of a crashed replica
  // Session-aware draining of a track that stops (control/session_drain.hpp): idle 30 s,
  // bounded by 300 s; max 0 turns it off.
  control::SessionDrainPolicy session_drain{};
  // The admin and control APIs speak plain HTTP: a non-loopback address for either is
  // refused unless this is set (--insecure-listen).
  bool insecure_listen = false;
  // Variables of our environment that releases and the gateway inherit besides
  // default_pass_env() (process.hpp); names, or prefixes ending in '*'.
  std::vector<std::string> pass_env;
  // Replica and gateway logs: rotated when one passes log_max_bytes, log_keep files kept.
  std::uint64_t log_max_bytes = 64ULL << 20;
  int log_keep = 3;
  // The rollups behind `sgctl report` (store/rollup_store.hpp): one row per track and
  // replica per period. Shorter periods are for tests and drills.
  std::chrono::milliseconds rollup_period{std::chrono::minutes(1)};
  KubePlaneOptions kube;  // enabled: drive a cluster instead of local processes
};

Status run_kube_controller(LocalPlaneOptions options, const std::atomic<bool>& stop,
                           const std::function<void(const std::string&)>& started);

class LocalControlPlane {
 public:
  // Opens the state, registers the default release, adopts or starts the gateway and the
  // replicas, resumes a rollout, starts the control API. Fails with a message naming what is
  // wrong (state dir, binary, listener, release).
  static Result<std::unique_ptr<LocalControlPlane>> start(LocalPlaneOptions options);
  ~LocalControlPlane();

  // Runs the control loop until `stop`, then stops the gateway and the replicas gracefully
  // (on Kubernetes the workload keeps serving). Kubernetes: an error (kConflict) when it
  // stopped on its own because another control plane wrote the rollout state.
  Status run(const std::atomic<bool>& stop);
  // Where the control API listens ("127.0.0.1:PORT").
  const std::string& control_address() const;

 private:
  friend Status run_kube_controller(LocalPlaneOptions options, const std::atomic<bool>& stop,
                                    const std::function<void(const std::string&)>& started);
  struct Parts;
  explicit LocalControlPlane(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

// `sgctl controller`: waits for the Lease (options.kube.lease_name), then runs the control
// plane over the Kubernetes backend while it holds it: restoring the rollout state from the
// cluster, resuming the rollout in progress. A lost Lease stops the plane (the workload keeps
// serving) and it waits again; `stop` ends it, handing the Lease over at once. `started` is
// called with the control API's address each time it starts driving. Errors: the plane could
// not start (the message names why).
Status run_kube_controller(LocalPlaneOptions options, const std::atomic<bool>& stop,
                           const std::function<void(const std::string&)>& started);

}  // namespace sg::platform
