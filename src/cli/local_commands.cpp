// sgctl commands that work on the state directory directly, with or without a running
// control plane: release add|list, history, events, logs.
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli/commands.hpp"
#include "common/json_text.hpp"
#include "platform/model.hpp"
#include "platform/store/state_store.hpp"
#include "platform/store/views.hpp"

namespace sg::cli {
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

Result<std::unique_ptr<platform::StateStore>> open_store(const Common& c) {
  return platform::StateStore::open(c.state_dir);
}

std::string one_line(std::string text) {
  for (char& ch : text) {
    if (ch == '\n' || ch == '|') ch = ' ';
  }
  return text;
}

}  // namespace

int run_release_add(const Common& c, const ReleaseAdd& r) {
  if (auto st = platform::validate_release_name(r.name); !st)
    return usage_error(st.error().message);
  std::error_code ec;
  const fs::path exec = fs::absolute(r.exec, ec);
  if (ec || !fs::is_regular_file(exec, ec) || ::access(exec.c_str(), X_OK) != 0) {
    return usage_error("--exec " + r.exec + ": not an executable file");
  }
  platform::ReleaseSpec spec{r.name, exec.string(), r.args, {}};
  for (const auto& kv : r.env) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return usage_error("--env must be K=V, got '" + kv + "'");
    spec.env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  auto store = open_store(c);
  if (!store) return usage_error(store.error().message);
  if (auto st = (*store)->put_release(spec); !st) return usage_error(st.error().message);
  std::cout << "release " << r.name << " -> " << exec.string() << "\n";
  return kExitOk;
}

int run_release_list(const Common& c) {
  auto store = open_store(c);
  if (!store) return usage_error(store.error().message);
  auto releases = (*store)->releases();
  if (!releases) return usage_error(releases.error().message);
  json::array out;
  for (const auto& r : *releases) {
    json::array args, env;
    for (const auto& a : r.args) args.emplace_back(a);
    for (const auto& [k, v] : r.env) env.emplace_back(k + "=" + v);
    out.push_back(json::object{{"name", r.name}, {"exec", r.exec}, {"args", args}, {"env", env}});
    if (c.output != "json") {
      std::cout << r.name << "  " << r.exec;
      for (const auto& a : r.args) std::cout << " " << a;
      std::cout << "\n";
    }
  }
  if (c.output == "json") std::cout << json_text(out) << "\n";
  return kExitOk;
}

int run_history(const Common& c, int limit, bool journal) {
  auto store = open_store(c);
  if (!store) return usage_error(store.error().message);
  auto deployments = (*store)->deployments(limit);
  if (!deployments) return usage_error(deployments.error().message);
  std::vector<platform::DeploymentView> views;
  for (const auto& d : *deployments) {
    views.push_back(platform::deployment_view(d));
    if (!journal) views.back().journal.clear();
  }
  if (c.output == "json") {
    json::array out;
    for (const auto& v : views) out.push_back(platform::to_json(v));
    std::cout << json_text(out) << "\n";
    return kExitOk;
  }
  auto synthetic = [](const platform::DeploymentView& v) -> std::string {
    if (!v.evidence) return "-";
    double synthetic = -1, requests = -1;
    for (const auto& [k, x] : v.evidence->numbers) {
      if (k == "synthetic_requests") synthetic = x;
      if (k == "requests") requests = x;
    }
    if (synthetic < 0 || requests < 0) return "-";
    return std::to_string(static_cast<long long>(synthetic)) + "/" +
           std::to_string(static_cast<long long>(requests));
  };
  if (c.output == "markdown") {
    std::cout << "# Deployment log\n\n"
              << "| # | started (UTC) | finished (UTC) | strategy | from | to | result | "
                 "synthetic/requests | reason |\n"
              << "|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& v : views) {
      std::cout << "| " << v.id << " | " << v.started << " | " << v.finished.value_or("-")
                << " | " << v.strategy << " | " << v.from << " | " << v.to << " | " << v.result
                << " | " << synthetic(v) << " | " << one_line(v.reason) << " |\n";
    }
    return kExitOk;
  }
  std::printf("%-4s %-24s %-10s %-12s %-12s %-12s %-10s %s\n", "ID", "STARTED", "STRATEGY", "FROM",
              "TO", "RESULT", "SYNTHETIC", "REASON");
  for (const auto& v : views) {
    std::printf("%-4lld %-24s %-10s %-12s %-12s %-12s %-10s %s\n", static_cast<long long>(v.id),
                v.started.c_str(), v.strategy.c_str(), v.from.c_str(), v.to.c_str(),
                v.result.c_str(), synthetic(v).c_str(), one_line(v.reason).c_str());
    for (const auto& e : v.journal) {
      std::printf("       %s [%s] %s\n", e.ts.c_str(), e.phase.c_str(), one_line(e.reason).c_str());
    }
  }
  return kExitOk;
}

int run_events(const Common& c, int tail) {
  auto store = open_store(c);
  if (!store) return usage_error(store.error().message);
  auto events = (*store)->events(tail);
  if (!events) return usage_error(events.error().message);
  json::array out;
  for (const auto& e : *events) {
    const platform::EventView v = platform::event_view(e);
    if (c.output == "json") {
      out.push_back(platform::to_json(v));
    } else {
      std::cout << v.ts << "  " << v.kind << "  " << v.message << "\n";
    }
  }
  if (c.output == "json") std::cout << json_text(out) << "\n";
  return kExitOk;
}

int run_logs(const Common& c, const std::string& version, int tail, bool follow) {
  std::string filter = version;
  if (filter == "stable" || filter == "active") {
    // The active colour, from the saved platform settings.
    auto store = open_store(c);
    if (!store) return usage_error(store.error().message);
    auto settings = (*store)->setting("platform");
    filter = "blue";
    if (settings && *settings) {
      boost::system::error_code ec;
      auto v = json::parse(**settings, ec);
      if (!ec && v.is_object() && v.as_object().contains("active")) {
        filter = std::string(v.as_object().at("active").as_string());
      }
    }
  }
  const fs::path dir = c.state_dir / "logs";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return usage_error("no logs under " + dir.string());
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".log") continue;
    // TRACK-RELEASE-N.log: match the track or the release.
    if (!filter.empty() && !name.starts_with(filter + "-") &&
        name.find("-" + filter + "-") == std::string::npos && name != filter + ".log") {
      continue;
    }
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  if (files.empty())
    return usage_error("no log files match '" + filter + "' under " + dir.string());
  std::map<fs::path, std::uintmax_t> offsets;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    offsets[f] = text.size();
    std::size_t start = text.size();
    for (int n = 0; n <= tail && start > 0;) {
      start = text.rfind('\n', start - 1);
      if (start == std::string::npos) {
        start = 0;
        break;
      }
      if (++n > tail) {
        ++start;
        break;
      }
    }
    if (tail == 0) start = text.size();
    if (files.size() > 1) std::cout << "==> " << f.filename().string() << " <==\n";
    std::cout << text.substr(start);
  }
  std::cout << std::flush;
  while (follow) {
    std::this_thread::sleep_for(500ms);
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      in.seekg(static_cast<std::streamoff>(offsets[f]));
      std::string more((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (more.empty()) continue;
      offsets[f] += more.size();
      std::cout << more << std::flush;
    }
  }
  return kExitOk;
}

}  // namespace sg::cli
