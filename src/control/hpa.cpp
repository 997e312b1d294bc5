#include "control/hpa.hpp"

#include <algorithm>
#include <climits>
#include <cmath>

namespace sg::control {

namespace {

using std::chrono::seconds;

std::string metric_label(HpaMetric m) {
  return m == HpaMetric::kCpu ? "cpu resource utilization (percentage of request)"
                              : std::string("pods metric ") + hpa_metric_name(m);
}

// Replicas added (or removed) by the events inside the last `period_seconds`.
template <class Events>
int change_in_period(int period_seconds, const Events& events, TimePoint now) {
  const TimePoint cutoff = now - seconds(period_seconds);
  int n = 0;
  for (const auto& e : events) {
    if (e.at > cutoff) n += e.change;
  }
  return n;
}

}  // namespace

void HorizontalAutoscaler::set(const std::string& type, bool status, std::string reason,
                               std::string message) {
  HpaCondition c{type, status, std::move(reason), std::move(message)};
  for (auto& existing : conditions_) {
    if (existing.type == type) {
      existing = std::move(c);
      return;
    }
  }
  conditions_.push_back(std::move(c));
}

std::vector<HpaCondition> HorizontalAutoscaler::conditions() const {
  std::vector<HpaCondition> out;
  for (const char* type : {"AbleToScale", "ScalingActive", "ScalingLimited"}) {
    for (const auto& c : conditions_) {
      if (c.type == type) out.push_back(c);
    }
  }
  return out;
}

std::optional<int> HorizontalAutoscaler::compute_metrics(const HpaSpec& spec, int current,
                                                         const std::vector<HpaPod>& pods,
                                                         TimePoint now, HpaRecord& record) {
  std::optional<int> best;
  std::string best_metric;
  int invalid = 0;
  std::string first_reason, first_message;
  for (const auto& target : spec.metrics) {
    HpaMetricStatus status;
    status.metric = target.metric;
    status.target = target.target;
    auto r = metric_replicas(spec, target, current, pods, now);
    if (!r) {
      status.error = r.error().message;
      if (invalid++ == 0) {
        first_reason = target.metric == HpaMetric::kCpu ? "FailedGetResourceMetric"
                                                        : "FailedGetPodsMetric";
        first_message = "the HPA was unable to compute the replica count: failed to get " +
                        std::string(hpa_metric_name(target.metric)) + " metric value: " +
                        r.error().message;
      }
    } else {
      status.current = r->current;
      status.raw_average = r->raw_average;
      status.proposal = r->replicas;
      status.ready = r->ready;
      status.unready = r->unready;
      status.missing = r->missing;
      status.ignored = r->ignored;
      status.recomputed = r->recomputed;
      if (!best || r->replicas > *best) {
        best = r->replicas;
        best_metric = metric_label(target.metric);
      }
    }
    record.metrics.push_back(std::move(status));
  }
  const int n = static_cast<int>(spec.metrics.size());
  if (invalid >= n || (invalid > 0 && best && *best < current)) {
    set("ScalingActive", false, first_reason, first_message);
    record.reason = invalid >= n ? first_message
                                 : "a metric failed and the others would scale down: " +
                                       first_message;
    return std::nullopt;
  }
  set("ScalingActive", true, "ValidMetricFound",
      "the HPA was able to successfully calculate a replica count from " + best_metric);
  if (*best > current) record.reason = best_metric + " above target";
  if (*best < current) record.reason = "All metrics below target";
  return best;
}

int HorizontalAutoscaler::stabilize(const HpaSpec& spec, int current, int desired,
                                    TimePoint now) {
  const TimePoint up_cutoff = now - seconds(spec.behavior.scale_up.stabilization_window_seconds);
  const TimePoint down_cutoff =
      now - seconds(spec.behavior.scale_down.stabilization_window_seconds);
  int up = desired;
  int down = desired;
  std::optional<std::size_t> old;
  for (std::size_t i = 0; i < recommendations_.size(); ++i) {
    const auto& r = recommendations_[i];
    if (r.at > up_cutoff) up = std::min(up, r.replicas);
    if (r.at > down_cutoff) down = std::max(down, r.replicas);
    if (r.at < up_cutoff && r.at < down_cutoff) old = i;
  }
  int out = std::max(current, up);
  out = std::min(out, down);
  if (old) {
    recommendations_[*old] = {desired, now};
  } else {
    recommendations_.push_back({desired, now});
  }
  if (out != desired) {
    if (desired >= current) {
      set("AbleToScale", true, "ScaleUpStabilized",
          "recent recommendations were lower than current one, applying the lowest recent "
          "recommendation");
    } else {
      set("AbleToScale", true, "ScaleDownStabilized",
          "recent recommendations were higher than current one, applying the highest recent "
          "recommendation");
    }
  } else {
    set("AbleToScale", true, "ReadyForNewScale", "recommended size matches current size");
  }
  return out;
}

int HorizontalAutoscaler::rate_limit(const ScalingRules& rules, bool up, int current,
                                     TimePoint now) const {
  if (rules.select_policy == SelectPolicy::kDisabled) return current;
  // For a scale up the policy allowing the most change gives the highest limit; for a scale
  // down the lowest. Min picks the other end.
  const bool highest = up == (rules.select_policy == SelectPolicy::kMax);
  int limit = highest ? INT_MIN : INT_MAX;
  for (const auto& p : rules.policies) {
    const int start = current - change_in_period(p.period_seconds, up_events_, now) +
                      change_in_period(p.period_seconds, down_events_, now);
    int proposed = 0;
    if (up) {
      proposed = p.type == ScalingPolicyType::kPods
                     ? start + p.value
                     : static_cast<int>(std::ceil(start * (1.0 + p.value / 100.0)));
    } else {
      proposed = p.type == ScalingPolicyType::kPods
                     ? start - p.value
                     : static_cast<int>(start * (1.0 - p.value / 100.0));
    }
    limit = highest ? std::max(limit, proposed) : std::min(limit, proposed);
  }
  return limit;
}

int HorizontalAutoscaler::limit_rate(const HpaSpec& spec, int current, int desired,
                                     TimePoint now) {
  std::string reason = "DesiredWithinRange";
  std::string message = "the desired count is within the acceptable range";
  int out = desired;
  if (desired > current) {
    const int limit = std::max(rate_limit(spec.behavior.scale_up, true, current, now), current);
    const bool by_rate = spec.max_replicas > limit;
    const int allowed = by_rate ? limit : spec.max_replicas;
    if (desired > allowed) {
      out = allowed;
      reason = by_rate ? "ScaleUpLimit" : "TooManyReplicas";
      message = by_rate
                    ? "the desired replica count is increasing faster than the maximum scale rate"
                    : "the desired replica count is more than the maximum replica count";
    }
  } else if (desired < current) {
    const int limit =
        std::min(rate_limit(spec.behavior.scale_down, false, current, now), current);
    const bool by_rate = spec.min_replicas < limit;
    const int allowed = by_rate ? limit : spec.min_replicas;
    if (desired < allowed) {
      out = allowed;
      reason = by_rate ? "ScaleDownLimit" : "TooFewReplicas";
      message = by_rate
                    ? "the desired replica count is decreasing faster than the maximum scale rate"
                    : "the desired replica count is less than the minimum replica count";
    }
  }
  set("ScalingLimited", out != desired, reason, message);
  return out;
}

void HorizontalAutoscaler::store_scale_event(const HpaSpec& spec, int before, int after,
                                             TimePoint now) {
  const bool up = after > before;
  const ScalingRules& rules = up ? spec.behavior.scale_up : spec.behavior.scale_down;
  auto& events = up ? up_events_ : down_events_;
  int longest = 0;
  for (const auto& p : rules.policies) longest = std::max(longest, p.period_seconds);
  const TimePoint cutoff = now - seconds(longest);
  std::optional<std::size_t> reuse;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i].at < cutoff) events[i].outdated = true;
    if (events[i].outdated) reuse = i;
  }
  const ScaleEvent e{up ? after - before : before - after, now, false};
  if (reuse) {
    events[*reuse] = e;
  } else {
    events.push_back(e);
  }
}

HpaRecord HorizontalAutoscaler::evaluate(const HpaSpec& spec, int current,
                                         const std::vector<HpaPod>& pods, TimePoint now) {
  HpaRecord record;
  record.at = now;
  record.current_replicas = current;
  record.min_replicas = spec.min_replicas;
  record.max_replicas = spec.max_replicas;
  if (!initialised_) {
    recommendations_.push_back({current, now});
    initialised_ = true;
  }
  set("AbleToScale", true, "SucceededGetScale",
      "the HPA controller was able to get the target's current scale");
  int desired = current;
  if (current == 0) {
    set("ScalingActive", false, "ScalingDisabled",
        "scaling is disabled since the replica count of the target is zero");
    record.reason = "the target has no replicas";
  } else if (current > spec.max_replicas) {
    record.reason = "Current number of replicas above Spec.MaxReplicas";
    desired = spec.max_replicas;
  } else if (current < spec.min_replicas) {
    record.reason = "Current number of replicas below Spec.MinReplicas";
    desired = spec.min_replicas;
  } else if (auto proposal = compute_metrics(spec, current, pods, now, record)) {
    record.metric_replicas = *proposal;
    record.stabilized = stabilize(spec, current, *proposal, now);
    desired = limit_rate(spec, current, *record.stabilized, now);
  }
  record.desired_replicas = desired;
  record.rescale = desired != current;
  if (record.rescale) {
    set("AbleToScale", true, "SucceededRescale",
        "the HPA controller was able to update the target scale to " + std::to_string(desired));
    store_scale_event(spec, current, desired, now);
    last_scale_ = now;
  } else if (record.metric_replicas) {
    if (*record.metric_replicas == current) {
      record.reason = "metrics within the tolerance of their targets";
    } else {
      // Held by a stabilization window or a rate policy: say which.
      const bool by_window = record.stabilized && *record.stabilized != *record.metric_replicas;
      for (const auto& c : conditions_) {
        if ((by_window && c.type == "AbleToScale") || (!by_window && c.type == "ScalingLimited")) {
          record.reason += "; held at " + std::to_string(current) + " (" + c.reason + ")";
        }
      }
    }
  }
  record.conditions = conditions();
  return record;
}

}  // namespace sg::control
