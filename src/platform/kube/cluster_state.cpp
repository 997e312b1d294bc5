#include "platform/kube/cluster_state.hpp"

#include <boost/json.hpp>


namespace sg::platform {
namespace json = boost::json;

namespace {

json::object record_json(const DeploymentRecord& d) {
  return {{"id", d.id},           {"strategy", d.strategy}, {"from_release", d.from_release},
          {"to_release", d.to_release}, {"result", d.result}, {"reason", d.reason},
          {"started_ms", d.started_ms}, {"finished_ms", d.finished_ms}, {"options", d.options},
          {"state", d.state},     {"evidence", d.evidence}, {"journal", d.journal}};
}

std::string str(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::int64_t num(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_int64() ? v->as_int64() : 0;
}

DeploymentRecord record_from(const json::object& o) {
  DeploymentRecord d;
  d.id = num(o, "id");
  d.strategy = str(o, "strategy");
  d.from_release = str(o, "from_release");
  d.to_release = str(o, "to_release");
  d.result = str(o, "result");
  d.reason = str(o, "reason");
  d.started_ms = num(o, "started_ms");
  d.finished_ms = num(o, "finished_ms");
  d.options = str(o, "options");
  d.state = str(o, "state");
  d.evidence = str(o, "evidence");
  d.journal = str(o, "journal");
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

Result<bool> ClusterState::restore(StateStore& store) {
  auto cm = kubectl_.get_json({"get", std::string("configmap/") + kName});
  if (!cm) {
    if (cm.error().code == ErrorCode::kNotFound) {
      resource_version_.clear();
      return false;
    }
    return cm.error();
  }
  const json::object& obj = cm->as_object();
  resource_version_.clear();
  if (const auto* meta = obj.if_contains("metadata"); meta && meta->is_object()) {
    resource_version_ = str(meta->as_object(), "resourceVersion");
  }
  json::object data;
  if (const auto* d = obj.if_contains("data"); d && d->is_object()) data = d->as_object();
  boost::system::error_code ec;
  json::value settings = json::parse(str(data, "settings.json").empty() ? "{}" : str(data, "settings.json"), ec);
  if (ec || !settings.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, std::string("configmap ") + kName + ": settings.json is not a JSON object");
  }
  json::value deployments =
      json::parse(str(data, "deployments.json").empty() ? "[]" : str(data, "deployments.json"), ec);
  if (ec || !deployments.is_array()) {
    return make_error(ErrorCode::kInvalidArgument, std::string("configmap ") + kName + ": deployments.json is not a JSON array");
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
    if (d.result == "in_progress") open_id = d.id;
    if (Status st = store.put_deployment(d); !st) return st.error();
  }
  // The cluster is the truth: a rollout the local cache holds as open but the cluster does not.
  if (auto local = store.open_deployment(); local && *local && (*local)->id != open_id) {
    DeploymentRecord d = **local;
    d.result = "failed";
    d.reason = std::string("not in progress in the cluster's state (configmap ") + kName + ")";
    d.finished_ms = unix_ms_now();
    (void)store.update_deployment(d);
  }
  written_ = json::serialize(json::object{{"settings.json", str(data, "settings.json")},
                                          {"deployments.json", str(data, "deployments.json")}});
  return true;
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
  std::string deployments_text;
  for (std::size_t n = recent->size();; n = n > 1 ? n / 2 : 0) {
    json::array a;
    for (std::size_t i = 0; i < recent->size() && i < n; ++i) a.push_back(record_json((*recent)[i]));
    deployments_text = json::serialize(a);
    if (deployments_text.size() + settings_text.size() < kMaxBytes || n == 0) break;
  }
  if (deployments_text.size() + settings_text.size() >= kMaxBytes && !recent->empty()) {
    DeploymentRecord newest = recent->front();
    newest.journal = newest_entries(newest.journal, 50);
    deployments_text = json::serialize(json::array{record_json(newest)});
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
      resource_version_ = str(meta->as_object(), "resourceVersion");
    }
  }
  written_ = text;
  written_key_ = key;
  written_at_ = now;
  return Status::ok();
}

}  // namespace sg::platform
