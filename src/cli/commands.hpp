// sgctl's commands. Each returns the process exit status: 0 success (for deploy: the new
// version serves all traffic), 1 rolled back / failed (reason printed), 2 usage or
// configuration error (one line on stderr naming the problem).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "control/hpa_spec.hpp"
#include "control/rollout_options.hpp"
#include "platform/control_plane.hpp"

namespace sg::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRolledBack = 1;
inline constexpr int kExitUsage = 2;

struct Common {
  std::filesystem::path state_dir = ".streamgate";
  std::string output = "text";  // text | json (| markdown for history)
  // --backend kubernetes (with its --context, -n, --kubectl): deploy, rollback, promote, abort
  // and status run the engine themselves when no control plane answers (embedded_plane.hpp).
  platform::KubePlaneOptions kube;
};

int run_up(const Common& c, platform::LocalPlaneOptions options);
// `sgctl controller` (platform::run_kube_controller) in the foreground until SIGTERM/SIGINT.
int run_controller(const Common& c, platform::LocalPlaneOptions options);

struct ReleaseAdd {
  std::string name;
  std::string exec;
  std::vector<std::string> env;  // K=V
  std::vector<std::string> args;
};
int run_release_add(const Common& c, const ReleaseAdd& r);
int run_release_list(const Common& c);

// Starts the rollout and follows it until it ends (or, for blue-green, until the new colour
// is verified and serves all traffic).
int run_deploy(const Common& c, const control::RolloutOptions& request);
int run_rollback(const Common& c);
int run_promote(const Common& c);
int run_abort(const Common& c);
int run_scale(const Common& c, int replicas);
int run_status(const Common& c, bool watch);

// sgctl autoscale: the HPA spec from flags (defaults: min 2, max 10, cpu 70 % of 250m,
// sync period 15 s); a behavior file (JSON, the HPA's behavior shape) first, then
// --scale-down-window over it.
struct AutoscaleArgs {
  int min_replicas = 2;
  int max_replicas = 10;
  std::optional<std::int64_t> cpu;  // percent of the request
  std::string cpu_request;          // "250m", "0.5"
  std::optional<double> rps;
  std::optional<double> in_flight;
  int sync_period_s = 15;
  std::optional<int> scale_down_window_s;
  std::string behavior_file;
};
Result<control::HpaSpec> autoscale_spec(const AutoscaleArgs& args);
int run_autoscale(const Common& c, const AutoscaleArgs& args);
int run_autoscale_off(const Common& c);
// Targets, current/desired replicas, conditions and last scale time per autoscaled track.
int run_get_hpa(const Common& c);
int run_history(const Common& c, int limit, bool journal);
int run_events(const Common& c, int tail);
// CPU and memory per process (gateway, replicas), measured over one second.
int run_top(const Common& c);
int run_logs(const Common& c, const std::string& version, int tail, bool follow);
// The incident runbook, automated: 0 healthy, 1 an incident (printed with evidence and the
// recommended action; --apply carries out the safe one and records it as an event).
int run_diagnose(const Common& c, bool apply);
// The runbook's daily, weekly or monthly checks from the state store (platform/report.hpp).
int run_report(const Common& c, const std::string& kind);

// Prints "sgctl: MESSAGE" on stderr and returns kExitUsage.
int usage_error(const std::string& message);

}  // namespace sg::cli
