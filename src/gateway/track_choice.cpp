#include "gateway/track_choice.hpp"

#include "gateway/request_rules.hpp"

namespace sg::gateway {
namespace {

namespace bhttp = boost::beast::http;

// The track named `name` when it is configured and has an available endpoint; else null.
const Track* available_track(const RouteTable& table, std::string_view name,
                             Endpoint::Clock::time_point now) {
  for (const auto& t : table.tracks) {
    if (t.name != name) continue;
    for (const auto& ep : t.endpoints) {
      if (ep->available(now)) return &t;
    }
    return nullptr;
  }
  return nullptr;
}

// The track by the route: sticky key when configured and present, else the schedule.
const Track* choose_by_weights(GatewayState& state, const RouteTable& table,
                               const http::RequestHeader& head, Endpoint::Clock::time_point now) {
  thread_local std::vector<bool> eligible;
  eligible.assign(table.schedule.track_count(), false);
  for (std::size_t i = 0; i < eligible.size(); ++i) {
    for (const auto& ep : table.tracks[table.schedule_track[i]].endpoints) {
      if (ep->available(now)) {
        eligible[i] = true;
        break;
      }
    }
  }
  std::optional<std::size_t> pick;
  if (const auto& sticky = table.config.route.sticky) {
    std::string key = sticky->source == StickyConfig::Source::kHeader
                          ? std::string(head[sticky->name])
                          : cookie_value(head[bhttp::field::cookie], sticky->name);
    if (!key.empty()) pick = table.schedule.pick_sticky_hash(table.sticky_key->hash(key), eligible);
  }
  if (!pick) pick = table.schedule.pick(state.next_ticket(), eligible);
  return pick ? &table.tracks[table.schedule_track[*pick]] : nullptr;
}

}  // namespace

const Track* choose_track(GatewayState& state, const RouteTable& table,
                          const http::RequestHeader& head, const std::string& session,
                          Endpoint::Clock::time_point now) {
  if (session.empty()) return choose_by_weights(state, table, head, now);
  if (const auto name = state.sessions().pinned_track(session, now)) {
    if (const Track* pinned = available_track(table, *name, now)) return pinned;
    return choose_by_weights(state, table, head, now);
  }
  const Track* chosen = choose_by_weights(state, table, head, now);
  if (!chosen) return nullptr;
  const auto pinned = state.sessions().pin(session, chosen->name, now);
  if (pinned && *pinned != chosen->name) {
    // Another request of the session was routed first: go where it went.
    if (const Track* first = available_track(table, *pinned, now)) return first;
  }
  return chosen;
}

}  // namespace sg::gateway
