#include "platform/kube/control_inbox.hpp"

#include <unistd.h>

#include <boost/json.hpp>
#include <thread>

#include "common/random_hex.hpp"
#include "platform/kube/json_path.hpp"

namespace sg::platform {
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t kStaleMs = 10 * 60 * 1000;
constexpr std::size_t kMaxBody = 256 * 1024;  // a ConfigMap holds 1 MiB in all

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string host_pid() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return std::string(host) + "/" + std::to_string(::getpid());
}

Status patch_keys(const Kubectl& kubectl, json::object data) {
  return kubectl.merge_patch(std::string("configmap/") + kControlRequests, json::object{{"data", std::move(data)}});
}

json::object keys_of(const json::value& configmap) {
  const json::value* data = json_at(configmap, {"data"});
  return data != nullptr && data->is_object() ? data->as_object() : json::object{};
}

}  // namespace

Result<InboxResponse> call_through_cluster(const Kubectl& kubectl, const std::string& method,
                                           const std::string& path, const std::string& body,
                                           std::chrono::milliseconds timeout) {
  if (body.size() > kMaxBody) return make_error(ErrorCode::kTooLarge, "request body over 256 KiB");
  const std::string id = random_hex(16);
  const std::string request = json::serialize(
      json::object{{"method", method}, {"path", path}, {"body", body}, {"at_ms", now_ms()}, {"by", host_pid()}});
  Status put = patch_keys(kubectl, {{"req-" + id, request}});
  if (!put && put.error().code == ErrorCode::kNotFound) {
    // The first request in this namespace: create the ConfigMap (someone else may just have).
    const json::value cm = {{"apiVersion", "v1"},
                            {"kind", "ConfigMap"},
                            {"metadata",
                             {{"name", kControlRequests},
                              {"labels", {{"app.kubernetes.io/part-of", "streamgate"}}}}}};
    if (Status made = kubectl.create(cm); !made && made.error().code != ErrorCode::kConflict) return made.error();
    put = patch_keys(kubectl, {{"req-" + id, request}});
  }
  if (!put) return put.error();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Result<InboxResponse> out = make_error(ErrorCode::kTimeout, "no controller answered " + method + " " + path +
                                                                  " within " +
                                                                  std::to_string(timeout.count() / 1000) + " s");
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(250ms);
    auto cm = kubectl.get_json({"get", std::string("configmap/") + kControlRequests});
    if (!cm) continue;  // a hiccup: try again until the deadline
    const json::object data = keys_of(*cm);
    const json::value* resp = data.if_contains("resp-" + id);
    if (resp == nullptr || !resp->is_string()) continue;
    boost::system::error_code ec;
    const json::value v = json::parse(resp->as_string(), ec);
    if (ec || !v.is_object()) {
      out = make_error(ErrorCode::kInternal, "the controller's answer is not JSON");
    } else {
      out = InboxResponse{static_cast<int>(int_at(v, {"status"})), text_at(v, {"body"})};
    }
    break;
  }
  (void)patch_keys(kubectl, {{"req-" + id, nullptr}, {"resp-" + id, nullptr}});
  return out;
}

Result<int> serve_control_requests(const Kubectl& kubectl,
                                   const std::function<InboxResponse(const InboxRequest&)>& handle,
                                   std::int64_t now) {
  auto cm = kubectl.get_json({"get", std::string("configmap/") + kControlRequests});
  if (!cm) {
    if (cm.error().code == ErrorCode::kNotFound) return 0;
    return cm.error();
  }
  const json::object data = keys_of(*cm);
  json::object answers;
  int answered = 0;
  for (const auto& [key, value] : data) {
    if (!key.starts_with("req-")) continue;
    const std::string id(key.substr(4));
    boost::system::error_code ec;
    const json::value v = value.is_string() ? json::parse(value.as_string(), ec) : json::value();
    InboxRequest r;
    r.id = id;
    if (!ec && v.is_object()) {
      r.method = text_at(v, {"method"});
      r.path = text_at(v, {"path"});
      r.body = text_at(v, {"body"});
      r.at_ms = int_at(v, {"at_ms"});
      r.by = text_at(v, {"by"});
    }
    if (now - r.at_ms > kStaleMs) {  // its sender gave up long ago (or it is unreadable)
      answers["req-" + id] = nullptr;
      answers["resp-" + id] = nullptr;
      continue;
    }
    if (data.contains("resp-" + id)) continue;
    InboxResponse resp;
    if ((r.method != "GET" && r.method != "POST") || !r.path.starts_with("/control/v1/")) {
      resp = {400, json::serialize(json::object{
                       {"error", {{"code", "invalid_argument"},
                                  {"message", "only GET and POST of /control/v1/... are carried"}}}})};
    } else {
      resp = handle(r);
    }
    if (resp.body.size() > kMaxBody) {
      resp = {413, json::serialize(json::object{
                       {"error", {{"code", "too_large"}, {"message", "the answer is over 256 KiB"}}}})};
    }
    answers["resp-" + id] = json::serialize(json::object{{"status", resp.status}, {"body", resp.body}});
    ++answered;
  }
  if (answers.empty()) return 0;
  if (Status st = patch_keys(kubectl, std::move(answers)); !st) return st.error();
  return answered;
}

}  // namespace sg::platform
