#include "gateway/gateway_cli.hpp"

#include <CLI/CLI.hpp>
#include <fstream>
#include <sstream>

namespace sg::gateway {
namespace {

using Overrides = GatewayFlagOverrides;

Result<std::vector<std::pair<std::string, std::string>>> split_pairs(const std::string& text,
                                                                     const std::string& what) {
  std::vector<std::pair<std::string, std::string>> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return make_error(ErrorCode::kInvalidArgument, what + ": '" + item + "' is not NAME=VALUE");
    }
    out.emplace_back(item.substr(0, eq), item.substr(eq + 1));
  }
  return out;
}

Status apply_overrides(GatewayConfig& c, const Overrides& o) {
  if (!o.listen.empty()) c.listen = o.listen;
  if (!o.admin_listen.empty()) c.admin_listen = o.admin_listen;
  if (o.threads >= 0) c.threads = o.threads;
  if (!o.cpu_affinity.empty()) {
    const auto affinity = parse_cpu_affinity(o.cpu_affinity);
    if (!affinity) {
      return make_error(ErrorCode::kInvalidArgument,
                        "--cpu-affinity: must be none or auto, got '" + o.cpu_affinity + "'");
    }
    c.cpu_affinity = *affinity;
  }
  if (!o.tracks.empty()) {
    c.tracks.clear();
    for (const auto& t : o.tracks) {
      const auto eq = t.find('=');
      if (eq == std::string::npos || eq == 0) {
        return make_error(ErrorCode::kInvalidArgument,
                          "--track '" + t + "' is not NAME=HOST:PORT[,HOST:PORT]");
      }
      TrackConfig tc;
      std::stringstream ss(t.substr(eq + 1));
      std::string ep;
      while (std::getline(ss, ep, ',')) {
        if (!ep.empty()) tc.endpoints.push_back(ep);
      }
      c.tracks[t.substr(0, eq)] = tc;
    }
  }
  if (!o.weights.empty()) {
    auto pairs = split_pairs(o.weights, "--weights");
    if (!pairs) return pairs.error();
    c.route.weights.clear();
    for (const auto& [name, w] : *pairs) {
      try {
        std::size_t used = 0;
        const int v = std::stoi(w, &used);
        if (used != w.size()) throw std::invalid_argument(w);
        c.route.weights.push_back({name, v});
      } catch (const std::exception&) {
        return make_error(ErrorCode::kInvalidArgument, "--weights: '" + w + "' is not an integer");
      }
    }
  } else if (!o.tracks.empty() && c.route.weights.empty() && c.tracks.size() == 1) {
    c.route.weights.push_back({c.tracks.begin()->first, 100});
  }
  return validate_gateway_config(c);
}

Result<GatewayConfig> load(const std::string& file, const Overrides& o) {
  GatewayConfig c;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in)
      return make_error(ErrorCode::kInvalidArgument, "cannot read config file '" + file + "'");
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = parse_gateway_config_yaml(text.str());
    if (!parsed)
      return make_error(ErrorCode::kInvalidArgument, file + ": " + parsed.error().message);
    c = std::move(*parsed);
  }
  if (Status st = apply_overrides(c, o); !st) return st.error();
  return c;
}

}  // namespace

GatewayCli parse_gateway_cli(int argc, const char* const* argv) {
  GatewayCli out;
  Overrides& o = out.overrides;
  CLI::App app{
      "streamgate-gateway: the StreamGate traffic gateway (weighted tracks, health checks, "
      "retries, admin API).",
      "streamgate-gateway"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--config", out.config_file, "YAML configuration file (SIGHUP reloads it)")
      ->envname("STREAMGATE_GATEWAY_CONFIG");
  app.add_option("--listen", o.listen, "HOST:PORT for clients (default 127.0.0.1:8080)");
  app.add_option("--admin-listen", o.admin_listen,
                 "HOST:PORT of the admin API (default 127.0.0.1:8081)");
  app.add_option("--threads", o.threads, "worker threads (0 = one per CPU the process may use)");
  app.add_option("--cpu-affinity", o.cpu_affinity,
                 "none | auto: pin worker i to the i-th CPU the process may use");
  app.add_option("--track", o.tracks, "NAME=HOST:PORT[,HOST:PORT...] (repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--weights", o.weights, "NAME=PERCENT[,NAME=PERCENT...], summing to 100");
  app.add_option("--grace-period", out.grace_period_seconds,
                 "seconds in-flight requests get to finish on SIGTERM")
      ->capture_default_str();
  app.add_option("--access-log", out.access_log, "log one line per proxied request (true/false)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out.message = app.help();
    return out;
  } catch (const CLI::ParseError& e) {
    out.exit_code = 2;
    out.message = std::string("streamgate-gateway: ") + e.what() + "\n";
    return out;
  }
  if (out.config_file.empty() && o.tracks.empty()) {
    out.exit_code = 2;
    out.message = "streamgate-gateway: give --config FILE or at least one --track NAME=HOST:PORT\n";
    return out;
  }
  auto c = load(out.config_file, o);
  if (!c) {
    out.exit_code = 2;
    out.message = "streamgate-gateway: " + c.error().message + "\n";
    return out;
  }
  out.config = std::move(*c);
  out.run = true;
  return out;
}

Result<GatewayConfig> reload_gateway_config(const GatewayCli& cli) {
  return load(cli.config_file, cli.overrides);
}

}  // namespace sg::gateway
