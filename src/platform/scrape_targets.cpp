#include "platform/scrape_targets.hpp"

#include <boost/json.hpp>
#include <fstream>

namespace sg::platform {
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

json::object group(const std::string& target, json::object labels) {
  labels["namespace"] = "streamgate";
  return json::object{{"targets", json::array{json::value(target)}}, {"labels", labels}};
}

}  // namespace

std::map<std::string, std::string> scrape_target_files(const PlatformStatus& status,
                                                       const std::string& control_address) {
  json::array control{group(control_address, {})};
  json::array gateway;
  if (!status.gateway.admin.empty()) {
    gateway.push_back(group(status.gateway.admin, {{"pod", "streamgate-gateway"}}));
  }
  json::array servers;
  for (const auto& [track, t] : status.tracks) {
    for (const ReplicaView& r : t.replicas) {
      if (r.address.empty()) continue;
      servers.push_back(group(r.address, {{"pod", r.name},
                                          {"deployment", "streamgate-" + track},
                                          {"track", track},
                                          {"release", r.release}}));
    }
  }
  return {{"control.json", json::serialize(control) + "\n"},
          {"gateway.json", json::serialize(gateway) + "\n"},
          {"servers.json", json::serialize(servers) + "\n"}};
}

Status ScrapeTargets::update(const PlatformStatus& status, const std::string& control_address) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    return make_error(ErrorCode::kUnavailable, dir_.string() + ": " + ec.message());
  }
  for (auto& [name, text] : scrape_target_files(status, control_address)) {
    auto it = written_.find(name);
    if (it != written_.end() && it->second == text) continue;
    const fs::path tmp = dir_ / (name + ".tmp");
    {
      std::ofstream f(tmp, std::ios::trunc);
      f << text;
      if (!f.flush()) return make_error(ErrorCode::kUnavailable, "cannot write " + tmp.string());
    }
    fs::rename(tmp, dir_ / name, ec);
    if (ec)
      return make_error(ErrorCode::kUnavailable, (dir_ / name).string() + ": " + ec.message());
    written_[name] = std::move(text);
  }
  return Status::ok();
}

}  // namespace sg::platform
