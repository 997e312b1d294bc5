// sgctl: the StreamGate operator CLI and local control plane. See commands.hpp for exit
// statuses and README.md for the commands.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "platform/model.hpp"

namespace {

using namespace sg::cli;

std::vector<int> parse_steps(const std::string& text, bool& ok) {
  std::vector<int> out;
  std::stringstream in(text);
  std::string item;
  ok = true;
  while (std::getline(in, item, ',')) {
    try {
      std::size_t used = 0;
      out.push_back(std::stoi(item, &used));
      ok = ok && used == item.size();
    } catch (const std::exception&) {
      ok = false;
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sgctl: StreamGate releases (blue-green, canary), status and history"};
  app.require_subcommand(1);
  app.fallthrough();  // --state-dir and --output may follow the command too
  Common common;
  const char* env_dir = std::getenv("SG_STATE_DIR");
  if (env_dir != nullptr && *env_dir != '\0') common.state_dir = env_dir;
  app.add_option("--state-dir", common.state_dir, "state directory (env SG_STATE_DIR)");
  app.add_option("--output,-o", common.output, "text | json (history: also markdown)")
      ->check(CLI::IsMember({"text", "json", "markdown"}));

  sg::platform::LocalPlaneOptions up;
  auto* up_cmd = app.add_subcommand("up", "run the local control plane in the foreground");
  up_cmd->add_option("--listen", up.listen, "gateway listener HOST:PORT");
  up_cmd->add_option("--admin-listen", up.admin_listen, "gateway admin HOST:PORT");
  up_cmd->add_option("--control-listen", up.control_listen, "control API HOST:PORT (0: any)");
  up_cmd->add_option("--release", up.release, "first release when nothing runs yet");
  up_cmd->add_option("--replicas", up.replicas, "replicas of the active release");
  up_cmd->add_option("--storage", up.storage, "storage URL shared by every replica");
  up_cmd->add_option("--cache", up.cache, "cache URL shared by every replica");
  up_cmd->add_option("--gateway-bin", up.gateway_bin, "streamgate-gateway binary");
  up_cmd->add_option("--server-bin", up.server_bin,
                     "streamgate-server binary of the default release");
  up_cmd->add_option("--gateway-threads", up.gateway_threads, "gateway threads (0: cores)");
  int grace = 30;
  int drain = 30;
  int tick_ms = 500;
  int restart_backoff = 10;
  up_cmd->add_option("--grace-period", grace, "seconds a stopping replica gets to finish");
  up_cmd->add_option("--drain-timeout", drain, "seconds to wait for a replica to drain");
  up_cmd
      ->add_option("--restart-backoff", restart_backoff,
                   "first restart delay of a crashed replica (s; doubles to 300)")
      ->check(CLI::Range(1, 300));
  up_cmd->add_option("--tick-ms", tick_ms, "control loop period in ms")
      ->check(CLI::Range(50, 10000));

  ReleaseAdd release_add;
  auto* release_cmd = app.add_subcommand("release", "the release catalog");
  release_cmd->require_subcommand(1);
  auto* release_add_cmd = release_cmd->add_subcommand("add", "add or replace a release");
  release_add_cmd->add_option("name", release_add.name, "release name, e.g. v1.3.0")->required();
  release_add_cmd->add_option("--exec", release_add.exec, "executable")->required();
  release_add_cmd->add_option("--env", release_add.env, "K=V for the replicas")->take_all();
  release_add_cmd->add_option("args", release_add.args, "arguments (after --)");
  auto* release_list_cmd = release_cmd->add_subcommand("list", "list releases");

  sg::control::RolloutOptions deploy;
  std::string image;
  std::vector<std::string> synthetic_paths;
  std::string steps = "5,10,25,50,100";
  auto* deploy_cmd = app.add_subcommand("deploy", "roll out a release");
  deploy_cmd->require_subcommand(1);
  auto add_common_deploy = [&](CLI::App* cmd) {
    cmd->add_option("image", image, "streamgate:NAME or NAME")->required();
    cmd->add_option("--timeout", deploy.timeout_s, "seconds for the new replicas to be ready");
    cmd->add_option("--max-error-rate", deploy.max_error_rate, "fail at or above this rate");
    cmd->add_option("--max-p95-ms", deploy.max_p95_ms, "fail when P95 reaches this");
    cmd->add_option("--ready-stability", deploy.ready_stability_s,
                    "seconds all new replicas must stay ready before traffic");
    cmd->add_option("--min-requests", deploy.min_requests, "requests before any verdict");
    cmd->add_option("--max-restarts", deploy.max_restarts,
                    "restarts of the new version's replicas tolerated (default 0)");
    cmd->add_option("--max-readiness-flaps", deploy.max_readiness_flaps,
                    "readiness flaps of the new version's replicas tolerated (default 3)");
    cmd->add_option("--synthetic-rps", deploy.synthetic_rps,
                    "cap on synthetic GETs per second when organic traffic is too thin (0: off)");
    cmd->add_option("--synthetic-max-requests", deploy.synthetic_max_requests,
                    "synthetic GETs per rollout at most");
    cmd->add_option("--synthetic-path", synthetic_paths,
                    "a GET path for synthetic requests (repeatable; default /api/v1/health and "
                    "/api/v1/content?limit=20)");
  };
  auto* bg_cmd = deploy_cmd->add_subcommand("blue-green", "switch colours after checks");
  add_common_deploy(bg_cmd);
  bg_cmd->add_option("--verify", deploy.verify_s, "verification window after the switch (s)");
  bg_cmd->add_option("--scale-down-delay", deploy.scale_down_delay_s,
                     "seconds the old colour stays warm for an instant rollback");
  auto* canary_cmd = deploy_cmd->add_subcommand("canary", "shift weight step by step");
  add_common_deploy(canary_cmd);
  canary_cmd->add_option("--step-interval", deploy.step_interval_s, "seconds per step");
  canary_cmd->add_option("--steps", steps, "canary weights, e.g. 5,10,25,50,100");
  canary_cmd->add_option("--canary-replicas", deploy.canary_replicas, "canary replicas");

  auto* rollback_cmd = app.add_subcommand("rollback",
                                          "roll back the rollout in progress, or "
                                          "the last promoted one");
  auto* promote_cmd = app.add_subcommand("promote", "promote the rollout in progress now");
  auto* abort_cmd = app.add_subcommand("abort", "abort the rollout in progress");
  int replicas = 0;
  auto* scale_cmd = app.add_subcommand("scale", "set the active release's replica count");
  scale_cmd->add_option("--replicas", replicas, "replicas")->required();
  bool watch = false;
  auto* status_cmd = app.add_subcommand("status", "active release, weights, replicas, rollout");
  status_cmd->add_flag("--watch,-w", watch, "refresh every second");
  int limit = 50;
  bool journal = false;
  auto* history_cmd = app.add_subcommand("history", "deployments, newest first");
  history_cmd->add_option("--limit", limit, "at most this many")->check(CLI::Range(1, 10000));
  history_cmd->add_flag("--journal", journal, "each deployment's decisions with their evidence");
  auto* top_cmd = app.add_subcommand("top", "CPU and memory of the gateway and every replica");
  int tail = 50;
  auto* events_cmd = app.add_subcommand("events", "what the control plane did");
  events_cmd->add_option("--tail", tail, "the last N events")->check(CLI::Range(1, 10000));
  std::string version;
  bool follow = false;
  int log_tail = 50;
  auto* logs_cmd = app.add_subcommand("logs", "replica logs");
  logs_cmd->add_option("--version", version, "blue | green | canary | stable | RELEASE");
  logs_cmd->add_option("--tail", log_tail, "last N lines per replica")
      ->check(CLI::Range(0, 100000));
  logs_cmd->add_flag("-f,--follow", follow, "keep printing new lines");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "sgctl: " << e.what() << " (see sgctl --help)\n";
    return kExitUsage;
  }

  if (up_cmd->parsed()) {
    up.grace_period = std::chrono::seconds(grace);
    up.drain_timeout = std::chrono::seconds(drain);
    up.tick = std::chrono::milliseconds(tick_ms);
    up.restart_backoff = std::chrono::seconds(restart_backoff);
    return run_up(common, up);
  }
  if (release_add_cmd->parsed()) return run_release_add(common, release_add);
  if (release_list_cmd->parsed()) return run_release_list(common);
  if (bg_cmd->parsed() || canary_cmd->parsed()) {
    deploy.strategy = bg_cmd->parsed() ? sg::control::Strategy::kBlueGreen
                                       : sg::control::Strategy::kCanary;
    if (!synthetic_paths.empty()) deploy.synthetic_paths = synthetic_paths;
    auto release = sg::platform::release_from_image(image);
    if (!release) return usage_error(release.error().message);
    deploy.release = *release;
    bool ok = true;
    deploy.steps = parse_steps(steps, ok);
    if (!ok) return usage_error("--steps must be comma-separated integers, got '" + steps + "'");
    if (auto st = sg::control::validate(deploy); !st) return usage_error(st.error().message);
    return run_deploy(common, deploy);
  }
  if (rollback_cmd->parsed()) return run_rollback(common);
  if (promote_cmd->parsed()) return run_promote(common);
  if (abort_cmd->parsed()) return run_abort(common);
  if (scale_cmd->parsed()) return run_scale(common, replicas);
  if (status_cmd->parsed()) return run_status(common, watch);
  if (history_cmd->parsed()) return run_history(common, limit, journal);
  if (events_cmd->parsed()) return run_events(common, tail);
  if (top_cmd->parsed()) return run_top(common);
  if (logs_cmd->parsed()) return run_logs(common, version, log_tail, follow);
  return usage_error("no command given (see sgctl --help)");
}
