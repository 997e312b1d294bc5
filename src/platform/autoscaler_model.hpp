// The autoscaler's part of the typed model (model.hpp): what `sgctl get hpa` and
// `sgctl status -o json` ("autoscaler") show, and what monitoring exports. Field names are a
// contract (README, "JSON output"): only ever added to.
//
//   "autoscaler": null (autoscaling off) | {
//     "min_replicas", "max_replicas", "cpu_request_millicores", "sync_period_s",
//     "tolerance", "scale_up_window_s", "scale_down_window_s",
//     "scale_up_select_policy", "scale_down_select_policy"  (Max | Min | Disabled),
//     "targets": [{"metric" (cpu|rps|in_flight), "target"}],
//     "tracks": {TRACK: {
//        "release", "min_replicas", "max_replicas",
//        "current_replicas"  (the track's count when last evaluated: the HPA's currentReplicas),
//        "desired_replicas"  (the HPA's result),
//        "ready_replicas",
//        "metrics": [{"metric", "target", "current", "current_average", "proposal",
//                     "ready", "unready", "missing", "ignored", "error", "recomputed"}],
//        "conditions": [{"type" (AbleToScale|ScalingActive|ScalingLimited), "status" (bool),
//                        "reason", "message"}],
//        "last_scale_time" (ISO 8601 | null), "last_evaluation" (ISO 8601 | null),
//        "last_decision": null | {"at", "current_replicas", "desired_replicas",
//                                 "metric_replicas", "stabilized", "rescale", "reason"},
//        "recent_evaluations": [  (the last kRecentEvaluations passes, oldest first)
//           {"seq" (numbers every pass of the loop, all tracks: a gap is a pass that is no
//                   longer kept), "at", "current_replicas", "min_replicas", "max_replicas",
//            "metrics": [as above; "recomputed" (bool): the conservative recompute ran],
//            "metric_replicas", "stabilized", "desired_replicas", "rescale", "reason"}]}}}
//
// Units: "target" and "current" are percent of the CPU request for cpu, requests per second
// per replica for rps, requests in flight per replica for in_flight; "current_average" is
// millicores per replica for cpu and equals "current" otherwise. "current" is the HPA's base
// value (before the conservative recompute), null when the metric could not be computed
// ("error" says why).
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace sg::platform {

struct HpaMetricView {
  std::string metric;
  double target = 0;
  std::optional<double> current;
  std::optional<double> current_average;
  std::optional<int> proposal;
  int ready = 0;
  int unready = 0;
  int missing = 0;
  int ignored = 0;
  std::string error;
  bool recomputed = false;  // the conservative recompute ran
};

struct HpaConditionView {
  std::string type;
  bool status = false;
  std::string reason;
  std::string message;
};

struct HpaDecisionView {
  std::string at;
  int current_replicas = 0;
  int desired_replicas = 0;
  std::optional<int> metric_replicas;
  std::optional<int> stabilized;
  bool rescale = false;
  std::string reason;
};

// One HPA pass as recorded: what it saw (current count, bounds, per-metric values and replica
// counts) and what it decided, so a reader can recompute the decision on its own.
struct HpaEvaluationView {
  std::int64_t seq = 0;
  std::string at;
  int current_replicas = 0;
  int min_replicas = 0;
  int max_replicas = 0;
  std::vector<HpaMetricView> metrics;
  std::optional<int> metric_replicas;
  std::optional<int> stabilized;
  int desired_replicas = 0;
  bool rescale = false;
  std::string reason;
};

// How many passes each track keeps in "recent_evaluations".
inline constexpr std::size_t kRecentEvaluations = 60;

struct HpaTrackView {
  std::string release;
  int min_replicas = 0;
  int max_replicas = 0;
  int current_replicas = 0;
  int desired_replicas = 0;
  int ready_replicas = 0;
  std::vector<HpaMetricView> metrics;
  std::vector<HpaConditionView> conditions;
  std::optional<std::string> last_scale_time;
  std::optional<std::string> last_evaluation;
  std::optional<HpaDecisionView> last_decision;
  std::vector<HpaEvaluationView> recent_evaluations;
};

struct HpaTargetView {
  std::string metric;
  double target = 0;
};

struct AutoscalerView {
  int min_replicas = 0;
  int max_replicas = 0;
  double cpu_request_millicores = 0;
  double sync_period_s = 0;
  double tolerance = 0;
  int scale_up_window_s = 0;
  int scale_down_window_s = 0;
  std::string scale_up_select_policy;
  std::string scale_down_select_policy;
  std::vector<HpaTargetView> targets;
  std::map<std::string, HpaTrackView> tracks;
};

boost::json::value to_json(const AutoscalerView& v);
Result<AutoscalerView> autoscaler_from_json(const boost::json::value& v);

}  // namespace sg::platform
