// JSON codecs of the autoscaler's spec (control/hpa_spec.hpp): the body of the control API's
// POST /control/v1/autoscale, what the engine persists (setting "autoscaler"), and the
// behavior file of `sgctl autoscale --behavior FILE`.
//
// Spec: {"min_replicas", "max_replicas", "metrics": [{"metric": "cpu"|"rps"|"in_flight",
// "target": N}], "cpu_request_millicores", "tolerance", "sync_period_s",
// "cpu_initialization_period_s", "initial_readiness_delay_s", "behavior": BEHAVIOR}; a cpu
// target is a percent of the request, an rps or in_flight target a per-replica value (a
// number; it travels as milli-units inside).
// BEHAVIOR is the HPA's own shape: {"scaleUp"|"scaleDown": {"stabilizationWindowSeconds",
// "selectPolicy": "Max"|"Min"|"Disabled", "policies": [{"type": "Pods"|"Percent", "value",
// "periodSeconds"}]}}; a direction or a field left out keeps the HPA's default.
// Parsing is strict: unknown keys and wrong types are refused (kInvalidArgument naming the
// key path), and the spec is validated.
#pragma once

#include <boost/json/value.hpp>

#include "common/result.hpp"
#include "control/hpa_spec.hpp"

namespace sg::platform {

boost::json::value to_json(const control::HpaSpec& spec);
boost::json::value to_json(const control::HpaBehavior& behavior);
Result<control::HpaSpec> hpa_spec_from_json(const boost::json::value& v);
Result<control::HpaBehavior> hpa_behavior_from_json(const boost::json::value& v);

}  // namespace sg::platform
