// The model's views of stored records: what `sgctl history` and `events` show, and what the
// control API returns for a deployment.
#pragma once

#include "platform/model.hpp"
#include "platform/store/state_store.hpp"

namespace sg::platform {

// With its journal (empty when the stored journal is unreadable).
DeploymentView deployment_view(const DeploymentRecord& record);
EventView event_view(const EventRecord& record);

}  // namespace sg::platform
