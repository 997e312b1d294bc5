// ClusterState: the control plane's rollout state kept in the cluster, in ConfigMap
// streamgate-rollout-state (namespace of the backend): key settings.json (every engine
// setting: routes, replica targets, autoscaler spec, synthetic counters) and key
// deployments.json (the newest deployments, the one in progress with its state machine
// among them). The engine keeps working on its local StateStore (a cache in the state dir);
// restore() copies the cluster's state into it before the engine starts, so a restarted
// sgctl, on any machine, resumes the rollout; save() writes the store's state back after each
// tick when it changed.
//
// Why a ConfigMap: no CRD to install (namespace-scoped RBAC only: base/rbac.yaml names this
// ConfigMap), readable with kubectl, and optimistic concurrency built in. Every write
// carries the resourceVersion last read or written, so a second control plane writing the
// same namespace gets kConflict instead of silently overwriting: the caller stops. A
// ConfigMap holds at most 1 MiB: older deployments are left out (never the one in progress)
// and, last, journals cut to their newest 50 entries, to stay under 900 KiB; beyond that
// save() fails (kTooLarge) rather than lose the rollout in progress.
//
// Thread: the control loop's.
#pragma once

#include <chrono>
#include <string>

#include "common/result.hpp"
#include "platform/kube/kubectl.hpp"
#include "platform/store/state_store.hpp"

namespace sg::platform {

class ClusterState {
 public:
  static constexpr const char* kName = "streamgate-rollout-state";
  static constexpr std::size_t kMaxBytes = 900 * 1024;
  static constexpr int kDeploymentsKept = 20;

  ClusterState(const Kubectl& kubectl, std::string writer) : kubectl_(kubectl), writer_(std::move(writer)) {}

  // Makes `store` hold the ConfigMap's state: its settings replace the store's, its
  // deployments are put with their ids, and every other deployment the store holds as in
  // progress is closed as failed (the cluster is the truth). Ok(false) when there is no
  // ConfigMap yet (then the store keeps no settings and no open deployment).
  Result<bool> restore(StateStore& store);
  // Writes the store's state when it differs from what was last written (at most once per
  // `min_interval` unless a deployment started or ended). kConflict: another writer.
  Status save(StateStore& store, std::chrono::milliseconds min_interval = std::chrono::seconds(2));

 private:
  const Kubectl& kubectl_;
  std::string writer_;
  std::string resource_version_;  // empty: the ConfigMap does not exist (as far as we know)
  std::string written_;           // the data last written or read
  std::string written_key_;       // the open deployment's id and result, last written
  std::chrono::steady_clock::time_point written_at_{};
};

}  // namespace sg::platform
