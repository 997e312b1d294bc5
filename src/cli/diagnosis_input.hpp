// What `sgctl diagnose` observes before classifying (control/diagnosis.hpp): the platform's
// typed status from the control API, the last deployment and the recent events from the
// state store, each ready replica's dependency checks (GET /api/v1/health straight to the
// replica, 2 s timeout, at most 4 replicas) and recent error lines of the replicas' logs.
#pragma once

#include "cli/commands.hpp"
#include "control/diagnosis.hpp"
#include "platform/model.hpp"

namespace sg::cli {

struct Observed {
  platform::PlatformStatus status;
  control::DiagnosisInput input;
};

// Fails when the control plane does not answer or the state store cannot be read.
Result<Observed> observe_platform(const Common& c, double recent_s);

}  // namespace sg::cli
