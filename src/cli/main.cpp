// sgctl: the StreamGate operator CLI and local control plane. See commands.hpp for exit
// statuses and README.md for the commands.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/control_client.hpp"
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

// Every command's options, filled by CLI11; each add_* registers one command group and
// returns what runs it once it was parsed.
struct CommandLine {
  CLI::App app{"sgctl: StreamGate releases (blue-green, canary), status and history"};
  Common common;
  std::vector<std::pair<CLI::App*, std::function<int()>>> commands;

  void add(CLI::App* cmd, std::function<int()> run) { commands.emplace_back(cmd, std::move(run)); }

  void add_common() {
    app.require_subcommand(1);
    app.fallthrough();  // --state-dir and --output may follow the command too
    const char* env_dir = std::getenv("SG_STATE_DIR");
    if (env_dir != nullptr && *env_dir != '\0') common.state_dir = env_dir;
    app.add_option("--state-dir", common.state_dir, "state directory (env SG_STATE_DIR)");
    app.add_option("--output,-o", common.output, "text | json (history, report: also markdown)")
        ->check(CLI::IsMember({"text", "json", "markdown"}));
    const char* env_backend = std::getenv("SG_BACKEND");
    if (env_backend != nullptr && *env_backend != '\0') backend = env_backend;
    const char* env_kubectl = std::getenv("SG_KUBECTL");
    if (env_kubectl != nullptr && *env_kubectl != '\0') up.kube.kubectl = env_kubectl;
    app.add_option("--backend", backend,
                   "local (processes on this machine) | kubernetes (env SG_BACKEND): up, controller, "
                   "and deploy/rollback/promote/abort/status, which run the engine themselves when "
                   "no control plane answers");
    app.add_option("--context", up.kube.context, "kubernetes: the kubeconfig context");
    app.add_option("-n,--namespace", up.kube.ns, "kubernetes: the namespace (streamgate)");
    app.add_option("--kubectl", up.kube.kubectl, "kubernetes: the kubectl to run (env SG_KUBECTL)");
    for (const auto& [env, into] : {std::pair{"SG_ROUTING", &up.kube.routing},
                                    std::pair{"SG_PROMETHEUS", &up.kube.prometheus}}) {
      if (const char* v = std::getenv(env); v != nullptr && *v != '\0') *into = v;
    }
    app.add_option("--routing", up.kube.routing,
                   "kubernetes: gateway (weights on our gateway) | replicas (no gateway: Service "
                   "streamgate-live, replica-ratio canary, traffic from --prometheus) (env SG_ROUTING)");
    app.add_option("--prometheus", up.kube.prometheus,
                   "kubernetes: http://HOST:PORT of Prometheus: per-track traffic from it instead of "
                   "the gateways (env SG_PROMETHEUS)");
    app.add_option("--prom-requests", up.kube.prom_requests,
                   "kubernetes: PromQL of requests by track (default: the server pods' http_requests_total)");
    app.add_option("--prom-errors", up.kube.prom_errors, "kubernetes: PromQL of 5xx responses by track");
    app.add_option("--prom-latency", up.kube.prom_latency,
                   "kubernetes: PromQL of cumulative latency buckets by track and le");
  }

  std::string backend = "local";

  sg::platform::LocalPlaneOptions up;
  int grace = 30, drain = 30, tick_ms = 500, restart_backoff = 10, rollup_seconds = 60;
  int session_drain_idle = sg::control::SessionDrainPolicy::kDefaultIdleS;
  int session_drain_max = sg::control::SessionDrainPolicy::kDefaultMaxS;
  void add_up() {
    auto* cmd = app.add_subcommand("up", "run the local control plane in the foreground");
    cmd->add_option("--listen", up.listen, "gateway listener HOST:PORT");
    cmd->add_option("--admin-listen", up.admin_listen, "gateway admin HOST:PORT");
    cmd->add_option("--control-listen", up.control_listen, "control API HOST:PORT (0: any)");
    cmd->add_option("--release", up.release, "first release when nothing runs yet");
    cmd->add_option("--replicas", up.replicas, "replicas of the active release");
    cmd->add_option("--storage", up.storage, "storage URL shared by every replica");
    cmd->add_option("--cache", up.cache, "cache URL shared by every replica");
    cmd->add_option("--gateway-bin", up.gateway_bin, "streamgate-gateway binary");
    cmd->add_option("--server-bin", up.server_bin,
                    "streamgate-server binary of the default release");
    cmd->add_option("--gateway-threads", up.gateway_threads, "gateway threads (0: cores)");
    cmd->add_option("--grace-period", grace, "seconds a stopping replica gets to finish");
    cmd->add_option("--drain-timeout", drain, "seconds to wait for a replica to drain");
    cmd->add_option("--session-drain-idle", session_drain_idle,
                    "a stopping track's replicas stay until every viewing session pinned to it "
                    "was idle this long (s, 1..600; default 30)");
    cmd->add_option("--session-drain-max", session_drain_max,
                    "at most this long after the stop began (s, 0..86400; 0: do not wait for "
                    "sessions; default 300)");
    cmd->add_option("--restart-backoff", restart_backoff,
                    "first restart delay of a crashed replica (s; doubles to 300)")
        ->check(CLI::Range(1, 300));
    cmd->add_option("--tick-ms", tick_ms, "control loop period in ms")->check(CLI::Range(50, 10000));
    cmd->add_flag("--insecure-listen", up.insecure_listen,
                  "allow non-loopback --admin-listen/--control-listen (plain HTTP, no TLS)");
    cmd->add_option("--pass-env", up.pass_env,
                    "environment variable releases and the gateway inherit besides PATH, HOME, "
                    "locale, TZ and TMPDIR (repeatable; NAME or PREFIX_*)");
    cmd->add_option("--log-max-bytes", up.log_max_bytes,
                    "rotate a replica or gateway log when it passes this size")
        ->check(CLI::Range(std::uint64_t{4096}, std::uint64_t{1} << 40));
    cmd->add_option("--log-keep", up.log_keep, "rotated logs kept per process (1..100)")
        ->check(CLI::Range(1, 100));
    cmd->add_option("--gateway-admin", up.kube.gateway_admin,
                    "kubernetes: one gateway's admin HOST:PORT (default: every ready pod of "
                    "--gateway-selector, at its pod IP)");
    cmd->add_option("--gateway-selector", up.kube.gateway_selector,
                    "kubernetes: KEY=VALUE label of the gateway pods (app=streamgate-gateway)");
    cmd->add_option("--gateway-token-file", up.kube.gateway_token_file,
                    "kubernetes: file holding the gateway's admin token (else env "
                    "STREAMGATE_ADMIN_TOKEN)");
    cmd->add_option("--rollup-seconds", rollup_seconds,
                    "period of the rollups behind sgctl report (60; shorter for tests)")
        ->check(CLI::Range(1, 3600));
    add(cmd, [this] {
      up.rollup_period = std::chrono::seconds(rollup_seconds);
      up.grace_period = std::chrono::seconds(grace);
      up.drain_timeout = std::chrono::seconds(drain);
      up.session_drain = {.idle = std::chrono::seconds(session_drain_idle),
                          .max = std::chrono::seconds(session_drain_max)};
      if (const std::string bad = sg::control::validate(up.session_drain); !bad.empty()) {
        return usage_error(bad);
      }
      up.tick = std::chrono::milliseconds(tick_ms);
      up.restart_backoff = std::chrono::seconds(restart_backoff);
      if (backend != "local" && backend != "kubernetes") {
        return usage_error("--backend (or SG_BACKEND) must be local or kubernetes, got '" + backend + "'");
      }
      up.kube.enabled = backend == "kubernetes";
      return run_up(common, up);
    });
  }

  int lease_seconds = 15;
  void add_controller() {
    auto* cmd = app.add_subcommand(
        "controller",
        "kubernetes: the control plane in the cluster, active while it holds a Lease");
    cmd->add_option("--gateway-admin", up.kube.gateway_admin,
                    "one gateway's admin HOST:PORT (default: every ready pod of "
                    "--gateway-selector, at its pod IP)");
    cmd->add_option("--gateway-selector", up.kube.gateway_selector,
                    "KEY=VALUE label of the gateway pods (app=streamgate-gateway)");
    cmd->add_option("--gateway-token-file", up.kube.gateway_token_file,
                    "file holding the gateway's admin token (else env STREAMGATE_ADMIN_TOKEN)");
    cmd->add_option("--control-listen", up.control_listen, "control API HOST:PORT (0: any)");
    cmd->add_flag("--insecure-listen", up.insecure_listen,
                  "allow a non-loopback --control-listen (plain HTTP, no TLS)");
    cmd->add_option("--lease", up.kube.lease_name, "the coordination.k8s.io Lease (streamgate-controller)");
    cmd->add_option("--lease-seconds", lease_seconds, "lease duration (s; renewed every third)")
        ->check(CLI::Range(3, 300));
    cmd->add_option("--tick-ms", tick_ms, "control loop period in ms")->check(CLI::Range(50, 10000));
    add(cmd, [this] {
      if (backend != "kubernetes") {
        return usage_error("sgctl controller drives a cluster: add --backend kubernetes (or SG_BACKEND=kubernetes)");
      }
      up.tick = std::chrono::milliseconds(tick_ms);
      up.kube.enabled = true;
      up.kube.controller = true;
      up.kube.lease_duration = std::chrono::seconds(lease_seconds);
      return run_controller(common, up);
    });
  }

  ReleaseAdd release_add;
  void add_release() {
    auto* cmd = app.add_subcommand("release", "the release catalog");
    cmd->require_subcommand(1);
    auto* add_cmd = cmd->add_subcommand("add", "add or replace a release");
    add_cmd->add_option("name", release_add.name, "release name, e.g. v1.3.0")->required();
    add_cmd->add_option("--exec", release_add.exec, "executable")->required();
    add_cmd->add_option("--env", release_add.env, "K=V for the replicas")->take_all();
    add_cmd->add_option("args", release_add.args, "arguments (after --)");
    add(add_cmd, [this] { return run_release_add(common, release_add); });
    add(cmd->add_subcommand("list", "list releases"), [this] { return run_release_list(common); });
  }

  sg::control::RolloutOptions deploy;
  std::string image;
  std::string steps = "5,10,25,50,100";
  std::vector<std::string> synthetic_paths;
  void add_deploy_options(CLI::App* cmd) {
    cmd->add_option("image", image, "streamgate:NAME or NAME")->required();
    cmd->add_option("--timeout", deploy.timeout_s, "seconds for the new replicas to be ready");
    cmd->add_option("--max-error-rate", deploy.max_error_rate, "fail at or above this rate");
    cmd->add_option("--max-p95-ms", deploy.max_p95_ms, "fail when P95 reaches this");
    cmd->add_option("--max-segment-error-rate", deploy.max_segment_error_rate,
                    "viewers' HLS segments: fail at or above this 5xx rate (default 0.005)");
    cmd->add_option("--max-segment-ttfb-ms", deploy.max_segment_ttfb_ms,
                    "viewers' HLS segments: fail when P95 time to first byte reaches this "
                    "(default 300)");
    cmd->add_option("--min-segments", deploy.min_segments,
                    "segments before the streaming checks apply (default 50)");
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
  }

  int run_deploy_command(sg::control::Strategy strategy) {
    deploy.strategy = strategy;
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

  void add_deploy() {
    auto* cmd = app.add_subcommand("deploy", "roll out a release");
    cmd->require_subcommand(1);
    auto* bg = cmd->add_subcommand("blue-green", "switch colours after checks");
    add_deploy_options(bg);
    bg->add_option("--verify", deploy.verify_s, "verification window after the switch (s)");
    bg->add_option("--scale-down-delay", deploy.scale_down_delay_s,
                   "seconds the old colour stays warm for an instant rollback");
    add(bg, [this] { return run_deploy_command(sg::control::Strategy::kBlueGreen); });
    auto* canary = cmd->add_subcommand("canary", "shift weight step by step");
    add_deploy_options(canary);
    canary->add_option("--step-interval", deploy.step_interval_s, "seconds per step");
    canary->add_option("--steps", steps, "canary weights, e.g. 5,10,25,50,100");
    canary->add_option("--canary-replicas", deploy.canary_replicas, "canary replicas");
    add(canary, [this] { return run_deploy_command(sg::control::Strategy::kCanary); });
  }

  int replicas = 0;
  void add_operate() {
    add(app.add_subcommand("rollback", "roll back the rollout in progress, or the last promoted one"),
        [this] { return run_rollback(common); });
    add(app.add_subcommand("promote", "promote the rollout in progress now"),
        [this] { return run_promote(common); });
    add(app.add_subcommand("abort", "abort the rollout in progress"),
        [this] { return run_abort(common); });
    auto* scale = app.add_subcommand("scale", "set the active release's replica count");
    scale->add_option("--replicas", replicas, "replicas")->required();
    add(scale, [this] { return run_scale(common, replicas); });
  }

  AutoscaleArgs autoscale;
  std::int64_t cpu_percent = 0;
  double rps = 0, in_flight = 0;
  int scale_down_window = 0;
  void add_autoscale() {
    auto* cmd = app.add_subcommand(
        "autoscale", "autoscale every track with the HPA algorithm (autoscaling/v2), or: off");
    cmd->require_subcommand(0, 1);
    cmd->add_option("--min", autoscale.min_replicas, "fewest replicas (default 2)");
    cmd->add_option("--max", autoscale.max_replicas, "most replicas (default 10)");
    auto* cpu = cmd->add_option("--cpu", cpu_percent, "target CPU, percent of the request");
    cmd->add_option("--cpu-request", autoscale.cpu_request,
                    "each replica's CPU request, e.g. 250m (default), 0.5");
    auto* r = cmd->add_option("--rps", rps, "target requests per second per replica");
    auto* f = cmd->add_option("--in-flight", in_flight, "target requests in flight per replica");
    cmd->add_option("--sync-period", autoscale.sync_period_s, "seconds between evaluations (15)");
    auto* w = cmd->add_option("--scale-down-window", scale_down_window,
                              "scale-down stabilization window in seconds (300)");
    cmd->add_option("--behavior", autoscale.behavior_file,
                    "JSON file in the HPA's behavior shape (scaleUp, scaleDown)");
    auto* off = cmd->add_subcommand("off", "autoscaling off: the active track keeps its count");
    add(off, [this] { return run_autoscale_off(common); });
    add(cmd, [this, cmd, cpu, r, f, w, off] {
      if (off->parsed()) return run_autoscale_off(common);
      (void)cmd;
      if (cpu->count() > 0) autoscale.cpu = cpu_percent;
      if (r->count() > 0) autoscale.rps = rps;
      if (f->count() > 0) autoscale.in_flight = in_flight;
      if (w->count() > 0) autoscale.scale_down_window_s = scale_down_window;
      return run_autoscale(common, autoscale);
    });
    auto* get = app.add_subcommand("get", "show a resource: hpa");
    get->require_subcommand(1);
    add(get->add_subcommand("hpa", "the autoscaler: targets, replicas, conditions"),
        [this] { return run_get_hpa(common); });
  }

  bool watch = false, journal = false, follow = false, apply_safe_action = false;
  int limit = 50, tail = 50, log_tail = 50;
  std::string version;
  std::string report_kind;
  void add_observe() {
    auto* status = app.add_subcommand("status", "active release, weights, replicas, rollout");
    status->add_flag("--watch,-w", watch, "refresh every second");
    add(status, [this] { return run_status(common, watch); });
    auto* history = app.add_subcommand("history", "deployments, newest first");
    history->add_option("--limit", limit, "at most this many")->check(CLI::Range(1, 10000));
    history->add_flag("--journal", journal, "each deployment's decisions with their evidence");
    add(history, [this] { return run_history(common, limit, journal); });
    add(app.add_subcommand("top", "CPU and memory of the gateway and every replica"),
        [this] { return run_top(common); });
    auto* events = app.add_subcommand("events", "what the control plane did");
    events->add_option("--tail", tail, "the last N events")->check(CLI::Range(1, 10000));
    add(events, [this] { return run_events(common, tail); });
    auto* logs = app.add_subcommand("logs", "replica logs");
    logs->add_option("--version", version, "blue | green | canary | stable | RELEASE");
    logs->add_option("--tail", log_tail, "last N lines per replica")->check(CLI::Range(0, 100000));
    logs->add_flag("-f,--follow", follow, "keep printing new lines");
    add(logs, [this] { return run_logs(common, version, log_tail, follow); });
    auto* diagnose = app.add_subcommand(
        "diagnose", "find the incident type and its evidence; exit 0 only when healthy");
    diagnose->add_flag("--apply", apply_safe_action,
                       "carry out the safe action (rollback, abort, scale) and record it");
    add(diagnose, [this] { return run_diagnose(common, apply_safe_action); });
    auto* report = app.add_subcommand(
        "report", "the runbook's periodic checks: daily | weekly | monthly (-o text|markdown|json)");
    report->add_option("period", report_kind, "daily | weekly | monthly")->required();
    add(report, [this] { return run_report(common, report_kind); });
  }
};

}  // namespace

int main(int argc, char** argv) {
  CommandLine cli;
  cli.add_common();
  cli.add_up();
  cli.add_controller();
  cli.add_release();
  cli.add_deploy();
  cli.add_operate();
  cli.add_observe();
  cli.add_autoscale();
  try {
    cli.app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return cli.app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "sgctl: " << e.what() << " (see sgctl --help)\n";
    return kExitUsage;
  }
  if (cli.backend != "local" && cli.backend != "kubernetes") {
    return usage_error("--backend (or SG_BACKEND) must be local or kubernetes, got '" + cli.backend + "'");
  }
  cli.common.kube = cli.up.kube;
  cli.common.kube.enabled = cli.backend == "kubernetes";
  sg::cli::ControlClient::set_cluster(cli.common.kube);
  for (const auto& [cmd, run] : cli.commands) {
    if (cmd->parsed()) return run();
  }
  return usage_error("no command given (see sgctl --help)");
}
