// streamgate-gateway's command line: a YAML file (--config) and/or flags for the simple case.
//
//   streamgate-gateway --config gateway.yaml
//   streamgate-gateway --listen 127.0.0.1:8080 --admin-listen 127.0.0.1:8081
//       --track stable=127.0.0.1:9101,127.0.0.1:9102 --track canary=127.0.0.1:9201
//       --weights stable=95,canary=5
//
// Flags override the file's listen addresses and threads; --track/--weights replace its
// tracks and route. Environment: STREAMGATE_GATEWAY_CONFIG for --config.
#pragma once

#include <string>
#include <vector>

#include "gateway/core/gateway_config.hpp"

namespace sg::gateway {

// Flag values that override the file; kept so a SIGHUP reload applies them again.
struct GatewayFlagOverrides {
  std::string listen, admin_listen;
  int threads = -1;                 // -1: not given
  std::string cpu_affinity;         // "none" | "auto"; empty: not given
  std::vector<std::string> tracks;  // NAME=HOST:PORT[,HOST:PORT...]
  std::string weights;              // NAME=PERCENT[,NAME=PERCENT...]
};

struct GatewayCli {
  bool run = false;   // false: print `message`, exit with `exit_code`
  int exit_code = 0;  // 0 for --help, 2 for a usage or configuration error
  std::string message;
  std::string config_file;  // empty when configured by flags only
  GatewayFlagOverrides overrides;
  GatewayConfig config;
  double grace_period_seconds = 25;
  bool access_log = false;
};

GatewayCli parse_gateway_cli(int argc, const char* const* argv);

// Re-reads `file` and applies the same flag overrides as at start (for SIGHUP).
Result<GatewayConfig> reload_gateway_config(const GatewayCli& cli);

}  // namespace sg::gateway
