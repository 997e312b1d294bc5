#include "cli/control_client.hpp"

#include <cstdlib>

#include <boost/json.hpp>
#include <fstream>

#include "common/http/blocking_client.hpp"
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

}  // namespace

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
  if (address.empty() || token.empty()) return make_error(ErrorCode::kUnavailable, hint);
  auto reply = http::blocking_call(
      address, {.target = "/health", .timeout = std::chrono::milliseconds(2000)});
  if (reply.status != 200) return make_error(ErrorCode::kUnavailable, hint);
  return ControlClient(address, token);
}

Result<json::value> ControlClient::get(const std::string& path) const {
  auto reply = http::blocking_call(
      address_, {.target = path, .headers = {{"Authorization", "Bearer " + token_}}});
  return decode(reply, "GET " + path);
}

Result<json::value> ControlClient::post(const std::string& path, const json::value& body) const {
  auto reply = http::blocking_call(address_, {.method = bhttp::verb::post,
                                              .target = path,
                                              .body = json_text(body),
                                              .headers = {{"Authorization", "Bearer " + token_},
                                                          {"Content-Type", "application/json"}},
                                              .timeout = std::chrono::milliseconds(30000)});
  return decode(reply, "POST " + path);
}

}  // namespace sg::cli
