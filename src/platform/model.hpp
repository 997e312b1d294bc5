// The control plane's typed model: what `sgctl status`, `top`, `history`, `events` and
// `deploy` show. The engine fills it, the control API sends it as JSON, the CLI reads it back
// with the same codecs; nobody reads these shapes by string paths. The JSON shapes are a
// contract for scripts (README, "JSON output"): fields are only ever added. A value that does
// not exist is null, never a magic number (a replica without a process has "pid": null).
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "control/analysis_types.hpp"
#include "control/rollout_options.hpp"
#include "platform/autoscaler_model.hpp"

namespace sg::platform {

struct VerdictView {
  std::string outcome = "inconclusive";  // pass | fail | inconclusive
  std::string reason;
  std::vector<std::pair<std::string, double>> numbers;
  std::vector<std::pair<std::string, std::string>> details;  // exit reason, log tail, ...
};
VerdictView view_of(const control::Verdict& verdict);

struct TrafficView {  // one track, over the last ~10 s of gateway counters
  double window_s = 0;
  double rps = 0;
  double error_rate = 0;
  double p95_ms = 0;
};

struct ReplicaView {
  std::string name;
  std::string track;
  std::string release;
  std::string address;
  std::optional<std::int64_t> pid;  // null: no process (backing off, stopped, not local)
  std::string phase;                // starting, ready, unready, backoff, draining, terminating
  int restarts = 0;
  int readiness_flaps = 0;
  std::string last_exit;  // "" when it never exited
  std::string log;
  std::optional<double> cpu_percent;  // of one core
  std::optional<double> rss_mib;
  std::optional<double> cpu_seconds;  // CPU time of its current process (a counter)
};

struct TrackView {
  std::string release;
  int desired = 0;
  int ready = 0;
  int weight = 0;
  std::string desired_by;  // rollout | operator | autoscaler | none
  std::vector<ReplicaView> replicas;
  std::optional<TrafficView> traffic;
};

struct GatewayView {
  std::string listen;
  std::string admin;
  std::optional<std::int64_t> pid;
  bool running = false;
  std::optional<double> cpu_percent;
  std::optional<double> rss_mib;
};

struct RolloutView {
  std::int64_t id = 0;
  std::string strategy;
  std::string from;
  std::string to;
  std::string phase;
  std::string reason;
  double elapsed_s = 0;
  VerdictView verdict;
  std::optional<int> step;  // canary: 1-based
  std::optional<int> steps;
  std::optional<int> canary_weight;
  std::optional<double> step_elapsed_s;
  bool serving_new = false;  // the new version serves all traffic (blue-green verified)
  double synthetic_rps = 0;  // synthetic GETs per second being sent now
  std::uint64_t synthetic_requests = 0;
};

struct PlatformStatus {
  std::string backend;  // local | kubernetes
  std::string state_dir;
  GatewayView gateway;
  std::string active_colour;
  std::string active_release;
  std::map<std::string, int> weights;
  std::map<std::string, TrackView> tracks;
  std::optional<RolloutView> rollout;
  std::optional<AutoscalerView> autoscaler;  // none while autoscaling is off
};

struct JournalEntry {
  std::string ts;
  std::string phase;
  std::string reason;
  std::vector<std::string> actions;
  VerdictView verdict;
};

struct DeploymentView {
  std::int64_t id = 0;
  std::string strategy;
  std::string from;
  std::string to;
  std::string result;  // in_progress | promoted | rolled_back | failed
  std::string reason;
  std::string started;
  std::optional<std::string> finished;
  std::optional<VerdictView> evidence;  // the last verdict
  std::optional<RolloutView> live;      // while in progress
  std::vector<JournalEntry> journal;    // only where asked for (history --journal, API)
};

struct EventView {
  std::string ts;
  std::string kind;
  std::string message;
};

// JSON codecs. from_json refuses a value without a required field or with a field of the
// wrong type (kInvalidArgument naming the field), so a client sees a clear error instead of
// zeros.
boost::json::value to_json(const VerdictView& v);
boost::json::value to_json(const ReplicaView& v);
boost::json::value to_json(const TrackView& v);
boost::json::value to_json(const RolloutView& v);
boost::json::value to_json(const PlatformStatus& v);
boost::json::value to_json(const JournalEntry& v);
boost::json::value to_json(const DeploymentView& v);
boost::json::value to_json(const EventView& v);
Result<VerdictView> verdict_from_json(const boost::json::value& v);
Result<PlatformStatus> status_from_json(const boost::json::value& v);
Result<DeploymentView> deployment_from_json(const boost::json::value& v);

// The deploy request: strict (unknown keys and wrong types are refused), validated
// (control::validate), "release" may be an image reference "streamgate:NAME".
Result<control::RolloutOptions> rollout_options_from_json(const boost::json::value& v);
boost::json::value to_json(const control::RolloutOptions& options);

// "streamgate:v1.3.0" or "v1.3.0" -> "v1.3.0"; other repositories are refused.
Result<std::string> release_from_image(const std::string& image);
// Ok, or what is wrong with the name ([A-Za-z0-9._-]{1,64}).
Status validate_release_name(const std::string& name);

}  // namespace sg::platform
