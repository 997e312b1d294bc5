// HorizontalAutoscaler: one HPA control loop pass for one scale target (a track), pure, with
// the autoscaling/v2 semantics (kubernetes.io, "Horizontal Pod Autoscaling": "Algorithm
// details", "Configurable scaling behavior"; the walkthrough's "Appendix: Horizontal Pod
// Autoscaler Status Conditions"). The caller passes the spec, the target's current replica
// count (its desired count now, the HPA's scale.spec.replicas), its replicas with their
// metric values, and the time; evaluate() returns a record and keeps the state the HPA keeps
// between passes (recent recommendations, recent scale events, conditions).
//
// One pass:
//   1. The first pass records the current count as a recommendation (so a fresh autoscaler
//      does not scale down before a full stabilization window has passed).
//   2. Outside [min, max] the count goes to the nearest bound at once ("Current number of
//      replicas above Spec.MaxReplicas" / "below Spec.MinReplicas").
//   3. Otherwise each metric proposes a count (hpa_replicas.hpp) and the largest wins. When
//      every metric fails, or some fail and the rest would scale down, nothing changes and
//      ScalingActive is False with the first failure's reason (FailedGetResourceMetric,
//      FailedGetPodsMetric); else ScalingActive is True (ValidMetricFound).
//   4. Stabilization: the proposal is recorded; the result is the current count brought
//      within [the lowest recommendation of the scale-up window, the highest of the
//      scale-down window] (AbleToScale reason ScaleUpStabilized / ScaleDownStabilized when
//      that changed it, else ReadyForNewScale).
//   5. Rate: the policies bound the change against the count at the start of each policy's
//      period (current - added + removed within it): Pods adds/removes `value`, Percent
//      multiplies by (1 +/- value/100) (rounded up for scale up, down for scale down);
//      selectPolicy Max takes the policy allowing the most change, Min the least, Disabled
//      none. Then [min, max]. ScalingLimited is True when this changed the count (reason
//      ScaleUpLimit, ScaleDownLimit, TooManyReplicas, TooFewReplicas), else False
//      (DesiredWithinRange).
//   6. A change is a rescale: AbleToScale SucceededRescale, the scale event is recorded for
//      the rate policies, and last_scale_time is now. The caller carries it out.
//
// Single-threaded; time only from the caller.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "control/hpa_replicas.hpp"
#include "control/hpa_spec.hpp"

namespace sg::control {

struct HpaCondition {
  std::string type;  // AbleToScale | ScalingActive | ScalingLimited
  bool status = false;
  std::string reason;
  std::string message;
  bool operator==(const HpaCondition&) const = default;
};

struct HpaMetricStatus {
  HpaMetric metric = HpaMetric::kCpu;
  std::int64_t target = 0;  // as in HpaMetricTarget
  // The base (original) value: CPU utilization percent, else the average in milli-units;
  // none when it could not be computed (see error).
  std::optional<std::int64_t> current;
  std::optional<std::int64_t> raw_average;  // milli-units (CPU: millicores)
  std::optional<int> proposal;              // this metric's desired count
  int ready = 0, unready = 0, missing = 0, ignored = 0;
  bool recomputed = false;
  std::string error;
};

// What one pass saw and decided.
struct HpaRecord {
  TimePoint at{};
  int current_replicas = 0;
  int min_replicas = 0;
  int max_replicas = 0;
  std::vector<HpaMetricStatus> metrics;
  std::optional<int> metric_replicas;  // the largest proposal; none when metrics failed
  std::optional<int> stabilized;       // after the stabilization windows
  int desired_replicas = 0;            // what the target should have now
  bool rescale = false;                // desired != current
  std::string reason;                  // why it rescales, or why not
  std::vector<HpaCondition> conditions;  // AbleToScale, ScalingActive, ScalingLimited (as set)
};

class HorizontalAutoscaler {
 public:
  HpaRecord evaluate(const HpaSpec& spec, int current_replicas, const std::vector<HpaPod>& pods,
                     TimePoint now);

  std::optional<TimePoint> last_scale_time() const { return last_scale_; }
  std::vector<HpaCondition> conditions() const;

 private:
  struct Recommendation {
    int replicas;
    TimePoint at;
  };
  struct ScaleEvent {
    int change;  // > 0
    TimePoint at;
    bool outdated = false;
  };

  std::optional<int> compute_metrics(const HpaSpec& spec, int current,
                                     const std::vector<HpaPod>& pods, TimePoint now,
                                     HpaRecord& record);
  int stabilize(const HpaSpec& spec, int current, int desired, TimePoint now);
  int limit_rate(const HpaSpec& spec, int current, int desired, TimePoint now);
  // The count the policies of one direction allow now (current when Disabled).
  int rate_limit(const ScalingRules& rules, bool up, int current, TimePoint now) const;
  void store_scale_event(const HpaSpec& spec, int before, int after, TimePoint now);
  void set(const std::string& type, bool status, std::string reason, std::string message);

  bool initialised_ = false;
  std::vector<Recommendation> recommendations_;
  std::vector<ScaleEvent> up_events_;
  std::vector<ScaleEvent> down_events_;
  std::vector<HpaCondition> conditions_;
  std::optional<TimePoint> last_scale_;
};

}  // namespace sg::control
