#include "platform/backend.hpp"

namespace sg::platform {

const char* replica_phase_name(ReplicaPhase phase) {
  switch (phase) {
    case ReplicaPhase::kStarting:
      return "starting";
    case ReplicaPhase::kReady:
      return "ready";
    case ReplicaPhase::kUnready:
      return "unready";
    case ReplicaPhase::kBackoff:
      return "backoff";
    case ReplicaPhase::kDraining:
      return "draining";
    case ReplicaPhase::kTerminating:
      return "terminating";
  }
  return "?";
}

Result<std::vector<EndpointLoad>> Backend::endpoint_load() {
  return make_error(ErrorCode::kUnavailable,
                    "the " + std::string(name()) + " backend does not measure per-endpoint load");
}

}  // namespace sg::platform
