#include "platform/backend.hpp"

#include <boost/json.hpp>

#include "common/http/blocking_client.hpp"

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

std::optional<std::string> health_version(const std::string& address) {
  auto reply = http::blocking_call(address, {.target = "/api/v1/health", .timeout = std::chrono::milliseconds(1000)});
  if (reply.status != 200) return std::nullopt;
  boost::system::error_code ec;
  auto v = boost::json::parse(reply.body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  if (auto* version = v.as_object().if_contains("version"); version && version->is_string()) {
    return std::string(version->as_string());
  }
  return std::nullopt;
}

Result<std::vector<EndpointLoad>> Backend::endpoint_load() {
  return make_error(ErrorCode::kUnavailable,
                    "the " + std::string(name()) + " backend does not measure per-endpoint load");
}

}  // namespace sg::platform
