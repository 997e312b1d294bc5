// EmbeddedPlane: without a controller, an sgctl command on a cluster runs the engine itself.
// When the command selects the kubernetes backend and no control plane answers for its state
// dir (no `sgctl --backend kubernetes up`, no SG_CONTROL_ADDRESS), the command starts the
// control plane in this process (the engine over the cluster, its control API on loopback,
// the rollout state restored from the cluster) for as long as it runs; the command then talks
// to it as to any other. A rollout advances while such a command (or an `up`) runs, and the
// next one resumes it from the cluster. Next to a live controller it is refused (the error
// says how to reach the controller).
#pragma once

#include <atomic>
#include <memory>
#include <thread>

#include "cli/commands.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace sg::cli {

class EmbeddedPlane {
 public:
  // nullptr when not needed (local backend, or a control plane answers).
  static Result<std::unique_ptr<EmbeddedPlane>> start_if_needed(const Common& c);
  ~EmbeddedPlane();  // stops the loop (the workload keeps serving) and waits for it
  EmbeddedPlane(const EmbeddedPlane&) = delete;
  EmbeddedPlane& operator=(const EmbeddedPlane&) = delete;

 private:
  EmbeddedPlane() = default;
  UniqueFd lock_;
  std::unique_ptr<platform::LocalControlPlane> plane_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace sg::cli
