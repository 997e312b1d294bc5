#include "cli/control_client.hpp"

#include <cstdlib>

#include <boost/json.hpp>
#include <fstream>
#include <thread>

#include "common/http/blocking_client.hpp"
#include "platform/kube/control_inbox.hpp"
#include "platform/kube/lease.hpp"
#include "platform/store/state_store.hpp"
#include "common/json_text.hpp"

namespace sg::cli {
namespace json = boost::json;
namespace bhttp = boost::beast::http;

namespace {

std::string first_line(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

Result<json::value> decode(const http::ClientReply& reply, const std::string& what) {
  if (reply.status == 0) {
    return make_error(ErrorCode::kUnavailable, "control plane unreachable (" + reply.error + ")");
  }
  boost::system::error_code ec;
  auto v = json::parse(reply.body, ec);
  if (reply.status >= 200 && reply.status < 300 && !ec) return v;
  std::string message = reply.body;
  ErrorCode code = ErrorCode::kInternal;
  if (!ec && v.is_object()) {
    if (auto* e = v.as_object().if_contains("error"); e && e->is_object()) {
      if (auto* m = e->as_object().if_contains("message"); m && m->is_string()) {
        message = std::string(m->as_string());
      }
    }
  }
  switch (reply.status) {
    case 400:
      code = ErrorCode::kInvalidArgument;
      break;
    case 404:
      code = ErrorCode::kNotFound;
      break;
    case 409:
      code = ErrorCode::kConflict;
      break;
    case 503:
      code = ErrorCode::kUnavailable;
      break;
    default:
      break;
  }
  return make_error(code, what + ": " + message);
}

// set_cluster(): the kubernetes backend's kubectl options and Lease, when selected.
std::optional<std::pair<platform::KubectlOptions, std::string>>& cluster() {
  static std::optional<std::pair<platform::KubectlOptions, std::string>> c;
  return c;
}

}  // namespace

void ControlClient::set_cluster(const platform::KubePlaneOptions& kube) {
  if (!kube.enabled) return;
  cluster().emplace(platform::KubectlOptions{.kubectl = kube.kubectl, .context = kube.context, .ns = kube.ns},
                    kube.lease_name);
}

Result<ControlClient> ControlClient::connect(const std::filesystem::path& state_dir) {
  const std::string hint = "no control plane is running for state dir " + state_dir.string() +
                           "; start it with: sgctl up --state-dir " + state_dir.string();
  // A control plane elsewhere (`sgctl controller` in a cluster, reached through kubectl
  // port-forward): SG_CONTROL_ADDRESS (IP:PORT) and SG_CONTROL_TOKEN instead of the files.
  const char* env_address = std::getenv("SG_CONTROL_ADDRESS");
  const char* env_token = std::getenv("SG_CONTROL_TOKEN");
  if (env_address != nullptr && *env_address != '\0') {
    if (env_token == nullptr || *env_token == '\0') {
      return make_error(ErrorCode::kInvalidArgument, "SG_CONTROL_ADDRESS is set but SG_CONTROL_TOKEN is not");
    }
    auto reply = http::blocking_call(
        env_address, {.target = "/health", .timeout = std::chrono::milliseconds(2000)});
    if (reply.status != 200) {
      return make_error(ErrorCode::kUnavailable,
                        std::string("no control plane answers at SG_CONTROL_ADDRESS ") + env_address);
    }
    return ControlClient(env_address, env_token);
  }
  const std::string address = first_line(state_dir / "control-address");
  auto secret = platform::read_secret_file(state_dir / "control-token");
  if (!secret) return secret.error();
  const std::string token = secret->value_or("");
  if (!address.empty() && !token.empty()) {
    auto reply = http::blocking_call(
        address, {.target = "/health", .timeout = std::chrono::milliseconds(2000)});
    if (reply.status == 200) return ControlClient(address, token);
  }
  if (!cluster()) return make_error(ErrorCode::kUnavailable, hint);
  // No control plane of our own: the controller in the cluster, if one holds the Lease.
  const auto& [kubectl, lease] = *cluster();
  platform::KubectlOptions quick = kubectl;
  quick.timeout = std::chrono::seconds(10);
  auto holder = platform::live_lease_holder(platform::Kubectl(quick), lease, std::chrono::seconds(30));
  if (holder && *holder) return ControlClient(kubectl);
  return make_error(ErrorCode::kUnavailable, hint + " (and no controller holds lease " + lease + " in namespace " +
                                                 kubectl.ns + ")");
}

Result<http::ClientReply> ControlClient::exchange(const std::string& method, const std::string& path,
                                                 const std::string& body) const {
  if (through_) {
    auto r = platform::call_through_cluster(platform::Kubectl(*through_), method, path, body,
                                            std::chrono::seconds(method == "GET" ? 30 : 60));
    if (!r) {
      return make_error(r.error().code, "the controller, through configmap " +
                                            std::string(platform::kControlRequests) + ": " + r.error().message);
    }
    http::ClientReply reply;
    reply.status = r->status;
    reply.body = std::move(r->body);
    return reply;
  }
  http::ClientRequest req{.target = path, .headers = {{"Authorization", "Bearer " + token_}}};
  if (method == "POST") {
    req.method = bhttp::verb::post;
    req.body = body;
    req.headers.emplace_back("Content-Type", "application/json");
    req.timeout = std::chrono::milliseconds(30000);
  }
  return http::blocking_call(address_, req);
}

Result<json::value> ControlClient::get(const std::string& path) const {
  auto reply = exchange("GET", path, "");
  if (!reply) return reply.error();
  return decode(*reply, "GET " + path);
}

Result<json::value> ControlClient::post(const std::string& path, const json::value& body) const {
  auto reply = exchange("POST", path, json_text(body));
  if (!reply) return reply.error();
  return decode(*reply, "POST " + path);
}

Result<json::value> ControlClient::post_when_ready(const std::string& path, const json::value& body,
                                                   std::chrono::seconds max_wait) const {
  const auto deadline = std::chrono::steady_clock::now() + max_wait;
  const std::string text = json_text(body);
  for (;;) {
    auto reply = exchange("POST", path, text);
    if (!reply) return reply.error();
    // 503: the control plane answered and started nothing. No answer at all (status 0) is not
    // retried: a POST that timed out may have been carried out.
    if (reply->status != 503 || std::chrono::steady_clock::now() >= deadline) return decode(*reply, "POST " + path);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace sg::cli
