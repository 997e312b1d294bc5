#include "platform/kube/cluster_state.hpp"

#include <algorithm>
#include <boost/json.hpp>

#include "platform/kube/json_path.hpp"


namespace sg::platform {
namespace json = boost::json;

namespace {

json::object record_json(const DeploymentRecord& d) {
  return {{"id", d.id},           {"strategy", d.strategy}, {"from_release", d.from_release},
          {"to_release", d.to_release}, {"result", d.result}, {"reason", d.reason},
          {"started_ms", d.started_ms}, {"finished_ms", d.finished_ms}, {"options", d.options},
          {"state", d.state},     {"evidence", d.evidence}, {"journal", d.journal}};
}

DeploymentRecord record_from(const json::object& o) {
  DeploymentRecord d;
  d.id = int_of(o, "id");
  d.strategy = text_of(o, "strategy");
  d.from_release = text_of(o, "from_release");
  d.to_release = text_of(o, "to_release");
  d.result = text_of(o, "result");
  d.reason = text_of(o, "reason");
  d.started_ms = int_of(o, "started_ms");
  d.finished_ms = int_of(o, "finished_ms");
  d.options = text_of(o, "options");
  d.state = text_of(o, "state");
  d.evidence = text_of(o, "evidence");
  d.journal = text_of(o, "journal");
  return d;
}

// The journal (a JSON array) without its oldest entries, keeping the newest `keep`.
std::string newest_entries(const std::string& journal, std::size_t keep) {
  boost::system::error_code ec;
  json::value v = json::parse(journal, ec);
  if (ec || !v.is_array() || v.as_array().size() <= keep) return journal;
  json::array& a = v.as_array();
  a.erase(a.begin(), a.end() - static_cast<std::ptrdiff_t>(keep));
  return json::serialize(a);
}

}  // namespace

namespace {

// Closes, as failed, every deployment the store holds as in progress except `keep` (the
// cluster's open one; 0: none).
Status close_other_open(StateStore& store, std::int64_t keep) {
  auto all = store.deployments(1000000);
  if (!all) return all.error();
  for (DeploymentRecord d : *all) {
    if (d.result != "in_progress" || d.id == keep) continue;
    d.result = "failed";
    d.reason = std::string("not in progress in the cluster's state (configmap ") + ClusterState::kName + ")";
    d.finished_ms = unix_ms_now();
    if (Status st = store.update_deployment(d); !st) return st;
  }
  return Status::ok();
}

}  // namespace

Result<bool> ClusterState::restore(StateStore& store) {
  auto cm = kubectl_.get_json({"get", std::string("configmap/") + kName});
  json::object data;
  resource_version_.clear();
  if (!cm) {
    if (cm.error().code != ErrorCode::kNotFound) return cm.error();
  } else {
    if (!cm->is_object()) return make_error(ErrorCode::kUnavailable, std::string("configmap ") + kName + ": not an object");
    const json::object& obj = cm->as_object();
    if (const auto* meta = obj.if_contains("metadata"); meta && meta->is_object()) {
      resource_version_ = text_of(meta->as_object(), "resourceVersion");
    }
    if (const auto* d = obj.if_contains("data"); d && d->is_object()) data = d->as_object();
  }
  boost::system::error_code ec;
  json::value settings = json::parse(text_of(data, "settings.json").empty() ? "{}" : text_of(data, "settings.json"), ec);
  if (ec || !settings.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, std::string("configmap ") + kName + ": settings.json is not a JSON object");
  }
  json::value deployments =
      json::parse(text_of(data, "deployments.json").empty() ? "[]" : text_of(data, "deployments.json"), ec);
  if (ec || !deployments.is_array()) {
    return make_error(ErrorCode::kInvalidArgument, std::string("configmap ") + kName + ": deployments.json is not a JSON array");
  }
  // The cluster is the truth: its settings replace the cache's (none without a ConfigMap).
  auto local = store.settings();
  if (!local) return local.error();
  for (const auto& [key, value] : *local) {
    if (!settings.as_object().contains(key)) {
      if (Status st = store.delete_setting(key); !st) return st.error();
    }
  }
  for (const auto& [key, value] : settings.as_object()) {
    if (!value.is_string()) continue;
    if (Status st = store.set_setting(std::string(key), std::string(value.as_string())); !st) return st.error();
  }
  std::int64_t open_id = 0;
  for (const auto& item : deployments.as_array()) {
    if (!item.is_object()) continue;
    DeploymentRecord d = record_from(item.as_object());
    if (d.id <= 0) continue;
    if (d.result == "in_progress") open_id = std::max(open_id, d.id);
    if (Status st = store.put_deployment(d); !st) return st.error();
  }
  if (Status st = close_other_open(store, open_id); !st) return st.error();
  written_ = json::serialize(json::object{{"settings.json", text_of(data, "settings.json")},
                                          {"deployments.json", text_of(data, "deployments.json")}});
  return cm.is_ok();
}

Status ClusterState::save(StateStore& store, std::chrono::milliseconds min_interval) {
  auto settings = store.settings();
  if (!settings) return settings.error();
  auto recent = store.deployments(kDeploymentsKept);
  if (!recent) return recent.error();
  json::object s;
  for (const auto& [k, v] : *settings) s[k] = v;
  const std::string settings_text = json::serialize(s);
  std::string key;
  for (const auto& d : *recent) {
    if (d.result == "in_progress") key = std::to_string(d.id);
  }
  key += "/" + (recent->empty() ? std::string() : std::to_string(recent->front().id) + recent->front().result);
  // The newest deployments, fewer while too big, never without the open one; last, journals
  // cut to their newest 50 entries.
  std::vector<DeploymentRecord> kept = *recent;
  std::string deployments_text;
  auto serialize = [&] {
    json::array a;
    for (const auto& d : kept) a.push_back(record_json(d));
    deployments_text = json::serialize(a);
    return deployments_text.size() + settings_text.size() < kMaxBytes;
  };
  while (!serialize() && kept.size() > 1) {
    kept.resize(kept.size() / 2);
    if (auto open = std::find_if(recent->begin(), recent->end(), [](const DeploymentRecord& d) { return d.result == "in_progress"; });
        open != recent->end() && std::none_of(kept.begin(), kept.end(), [&](const DeploymentRecord& d) { return d.id == open->id; })) {
      kept.back() = *open;
    }
  }
  if (deployments_text.size() + settings_text.size() >= kMaxBytes) {
    for (auto& d : kept) d.journal = newest_entries(d.journal, 50);
    if (!serialize()) {
      return make_error(ErrorCode::kTooLarge, std::string("the rollout state does not fit in configmap ") + kName +
                                                  " (" + std::to_string(deployments_text.size() + settings_text.size()) +
                                                  " bytes)");
    }
  }
  const std::string text = json::serialize(
      json::object{{"settings.json", settings_text}, {"deployments.json", deployments_text}});
  const auto now = std::chrono::steady_clock::now();
  if (text == written_) return Status::ok();
  if (key == written_key_ && now - written_at_ < min_interval) return Status::ok();
  json::object cm{
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata", json::object{{"name", kName},
                                {"labels", json::object{{"app.kubernetes.io/part-of", "streamgate"}}},
                                {"annotations", json::object{{"streamgate.dev/writer", writer_}}}}},
      {"data", json::object{{"settings.json", settings_text}, {"deployments.json", deployments_text}}}};
  Result<std::string> out = make_error(ErrorCode::kInternal, "unset");
  if (resource_version_.empty()) {
    out = kubectl_.run({"create", "-f", "-", "-o", "json"}, json::serialize(cm));
  } else {
    cm["metadata"].as_object()["resourceVersion"] = resource_version_;
    out = kubectl_.run({"replace", "-f", "-", "-o", "json"}, json::serialize(cm));
  }
  if (!out) {
    if (out.error().code == ErrorCode::kConflict) {
      return make_error(ErrorCode::kConflict,
                        std::string("configmap ") + kName +
                            " was changed by another writer (another sgctl up or controller drives this "
                            "namespace): " + out.error().message);
    }
    return out.error();
  }
  boost::system::error_code ec;
  json::value v = json::parse(*out, ec);
  if (!ec && v.is_object()) {
    if (const auto* meta = v.as_object().if_contains("metadata"); meta && meta->is_object()) {
      resource_version_ = text_of(meta->as_object(), "resourceVersion");
    }
  }
  written_ = text;
  written_key_ = key;
  written_at_ = now;
  return Status::ok();
}

}  // namespace sg::platform
