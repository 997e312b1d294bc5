#include "platform/engine/rollout_records.hpp"

#include <boost/json.hpp>

#include "common/json_text.hpp"
#include "platform/store/views.hpp"

namespace sg::platform {
namespace json = boost::json;

std::string state_map_to_json(const control::StateMap& map) {
  json::object o;
  for (const auto& [k, v] : map) o[k] = v;
  return json_text(o);
}

Result<control::StateMap> state_map_from_json(const std::string& text) {
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, "its rollout state is not a JSON object");
  }
  control::StateMap out;
  for (const auto& [k, x] : v.as_object()) {
    if (!x.is_string()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "its rollout state has a non-text value at '" + std::string(k) + "'");
    }
    out[std::string(k)] = std::string(x.as_string());
  }
  return out;
}

std::string journal_to_json(const std::vector<JournalEntry>& journal) {
  json::array a;
  for (const auto& e : journal) a.push_back(to_json(e));
  return json_text(a);
}

std::vector<JournalEntry> journal_from_json(const std::string& text) {
  DeploymentRecord record;
  record.journal = text;
  return deployment_view(record).journal;
}

json::value traffic_to_json(const TrackTraffic& t) {
  json::object o;
  for (const auto& [track, s] : t.tracks) {
    json::array bounds, counts;
    for (double b : s.bounds) bounds.emplace_back(b);
    for (auto c : s.counts) counts.emplace_back(c);
    o[track] = json::object{{"requests", s.requests},
                            {"errors", s.errors},
                            {"bounds", std::move(bounds)},
                            {"counts", std::move(counts)}};
  }
  return o;
}

TrackTraffic traffic_from_json(const std::string& text) {
  TrackTraffic t;
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return t;
  for (const auto& [track, s] : v.as_object()) {
    const json::object* o = s.if_object();
    if (o == nullptr) continue;
    control::TrafficSample sample;
    auto count = [](const json::value* x) -> std::uint64_t {
      return x != nullptr && (x->is_uint64() || (x->is_int64() && x->as_int64() >= 0))
                 ? x->to_number<std::uint64_t>()
                 : 0;
    };
    sample.requests = count(o->if_contains("requests"));
    sample.errors = count(o->if_contains("errors"));
    if (const json::value* b = o->if_contains("bounds"); b != nullptr && b->is_array()) {
      for (const auto& x : b->as_array()) {
        if (x.is_number()) sample.bounds.push_back(x.to_number<double>());
      }
    }
    if (const json::value* c = o->if_contains("counts"); c != nullptr && c->is_array()) {
      for (const auto& x : c->as_array()) sample.counts.push_back(count(&x));
    }
    t.tracks[std::string(track)] = std::move(sample);
  }
  return t;
}

}  // namespace sg::platform
