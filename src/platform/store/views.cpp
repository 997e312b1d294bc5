#include "platform/store/views.hpp"

#include <boost/json.hpp>

namespace sg::platform {
namespace json = boost::json;

DeploymentView deployment_view(const DeploymentRecord& d) {
  DeploymentView v;
  v.id = d.id;
  v.strategy = d.strategy;
  v.from = d.from_release;
  v.to = d.to_release;
  v.result = d.result;
  v.reason = d.reason;
  v.started = iso8601_utc(d.started_ms);
  if (d.finished_ms > 0) v.finished = iso8601_utc(d.finished_ms);
  boost::system::error_code ec;
  const json::value evidence = json::parse(d.evidence, ec);
  if (!ec) {
    if (auto parsed = verdict_from_json(evidence)) v.evidence = std::move(*parsed);
  }
  const json::value journal = json::parse(d.journal, ec);
  if (!ec && journal.is_array()) {
    json::object wrapper = to_json(v).as_object();
    wrapper["journal"] = journal;
    if (auto parsed = deployment_from_json(wrapper)) v.journal = std::move(parsed->journal);
  }
  return v;
}

EventView event_view(const EventRecord& e) { return {iso8601_utc(e.ts_ms), e.kind, e.message}; }

}  // namespace sg::platform
