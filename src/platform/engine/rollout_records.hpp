// How a rollout's pieces are written into the deployment record and the settings table:
// the machine's state map, the journal and the traffic baseline as JSON text. Reading back
// never throws; a damaged state map is an error the engine turns into a safe rollback.
#pragma once

#include <string>
#include <vector>

#include "common/result.hpp"
#include "control/rollout.hpp"
#include "platform/model.hpp"
#include "platform/track_traffic.hpp"

namespace sg::platform {

std::string state_map_to_json(const control::StateMap& map);
Result<control::StateMap> state_map_from_json(const std::string& text);

std::string journal_to_json(const std::vector<JournalEntry>& journal);
// Entries that do not parse are skipped (the journal is a log, not state).
std::vector<JournalEntry> journal_from_json(const std::string& text);

boost::json::value traffic_to_json(const TrackTraffic& traffic);
TrackTraffic traffic_from_json(const std::string& text);  // {} when unreadable

}  // namespace sg::platform
