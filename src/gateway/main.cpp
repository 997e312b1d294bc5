// streamgate-gateway: the data plane (Proxy on an HttpServer), the admin API on its own
// listener, active health checks, SIGHUP reload and a graceful stop on SIGTERM/SIGINT.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "common/cpu_affinity.hpp"
#include "common/fd_limits.hpp"
#include "common/host_port.hpp"
#include "common/http/http_server.hpp"
#include "common/log.hpp"
#include "common/process_metrics.hpp"
#include "gateway/admin_api.hpp"
#include "gateway/gateway_cli.hpp"
#include "gateway/gateway_metrics.hpp"
#include "gateway/health_checker.hpp"
#include "gateway/proxy.hpp"

namespace {

using namespace sg;
using namespace sg::gateway;

http::ServerOptions listener_options(const std::string& host_port, const GatewayConfig& c,
                                     unsigned threads) {
  http::ServerOptions o;
  // The config was validated (validate_gateway_config): the address parses.
  if (auto hp = parse_host_port(host_port, {.allow_port_zero = true})) {
    o.host = hp->host;
    o.port = hp->port;
  }
  o.threads = threads;
  o.header_limit = static_cast<std::uint32_t>(c.limits.header_bytes);
  o.header_timeout = std::chrono::seconds(std::max(1, c.timeouts.header_ms / 1000));
  o.idle_timeout = std::chrono::seconds(std::max(1, c.timeouts.idle_ms / 1000));
  o.max_connections = static_cast<std::uint32_t>(c.limits.max_connections);
  return o;
}

// The admin listener's connections (operators and the control plane).
constexpr std::uint32_t kAdminConnections = 64;

struct Capacity {
  std::uint32_t client_connections = 0;
  std::int64_t pooled_per_worker = 0;
};

// Raises the descriptor limit and sizes the data plane to it: a proxied request holds two
// descriptors (client and upstream); kept aside are the idle upstream pools, the admin
// listener's connections, health checks, listeners and event loops.
Capacity plan_capacity(const GatewayConfig& cfg, unsigned threads) {
  const FdLimit fds = raise_fd_limit();
  Capacity c;
  c.pooled_per_worker = static_cast<std::int64_t>(
      std::clamp<std::uint64_t>(fds.soft / (8 * std::max(1u, threads)), 8, 1024));
  const std::uint64_t reserved = 64 + 8 * threads + kAdminConnections +
                                 static_cast<std::uint64_t>(c.pooled_per_worker) * threads;
  const auto wanted = static_cast<std::uint32_t>(cfg.limits.max_connections);
  c.client_connections = connections_for(fds.soft, 2, reserved, wanted);
  const log::Level level = c.client_connections < wanted ? log::Level::kWarn : log::Level::kInfo;
  log::write(level,
             c.client_connections < wanted
                 ? "max_connections lowered to what the descriptor limit allows"
                 : "connection capacity",
             {{"fd_limit_at_start", fds.before},
              {"fd_limit", fds.soft},
              {"fd_limit_hard", fds.hard},
              {"max_connections", c.client_connections},
              {"configured_max_connections", wanted},
              {"pooled_upstream_per_worker", c.pooled_per_worker}});
  return c;
}

// Serves SIGHUP (reload the config file; a bad one is logged and the old config keeps
// serving) until SIGTERM or SIGINT, which it returns.
int wait_for_stop(const GatewayCli& cli, GatewayState& state,
                  const std::function<Status(const GatewayConfig&)>& apply_live) {
  boost::asio::io_context signals_io;
  boost::asio::signal_set signals(signals_io, SIGTERM, SIGINT, SIGHUP);
  int stop_signal = 0;
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig != SIGHUP) {
          stop_signal = sig;
          return;
        }
        auto next = reload_gateway_config(cli);
        Status st = next ? apply_live(*next) : Status(next.error());
        if (st) {
          log::info("configuration reloaded", {{"generation", state.table()->generation}});
        } else {
          log::error("configuration reload rejected; the previous configuration keeps serving",
                     {{"error", st.error().message}});
        }
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);
  signals_io.run();
  return stop_signal;
}

int run(const GatewayCli& cli) {
  const GatewayConfig& cfg = cli.config;
  const unsigned threads =
      cfg.threads > 0 ? static_cast<unsigned>(cfg.threads) : usable_cpu_count();
  GatewayState state(threads);
  if (Status st = state.apply(cfg); !st) {
    std::fprintf(stderr, "streamgate-gateway: %s\n", st.error().message.c_str());
    return 2;
  }
  if (cfg.route.sticky && !state.table()->sticky_key_from_env) {
    log::warn(
        "sticky key not set: using a random key, so stickiness holds per gateway "
        "instance only; give every instance the same key (16+ bytes) in the variable",
        {{"key_env", cfg.route.sticky->key_env}});
  }
  metrics::Registry registry;
  GatewayMetrics gateway_metrics(registry, state);
  metrics::register_process_metrics(registry);
  const char* token = std::getenv(cfg.admin_token_env.c_str());
  if (token == nullptr || *token == '\0') {
    log::warn("admin API token not set: admin writes are disabled",
              {{"token_env", cfg.admin_token_env}});
  }
  const Capacity capacity = plan_capacity(cfg, threads);
  ProxyOptions proxy_options{cli.access_log, capacity.pooled_per_worker};
  Proxy proxy(state, gateway_metrics, proxy_options);
  // Listeners and threads are fixed for the life of the process; everything else may change.
  auto apply_live = [&state, &cfg](const GatewayConfig& c) -> Status {
    if (c.listen != cfg.listen || c.admin_listen != cfg.admin_listen || c.threads != cfg.threads ||
        c.cpu_affinity != cfg.cpu_affinity) {
      return make_error(ErrorCode::kInvalidArgument,
                        "listen, admin.listen, threads and cpu_affinity cannot change at run time; "
                        "restart the gateway");
    }
    return state.apply(c);
  };
  AdminApi admin(state, registry, token ? token : "", apply_live);
  http::ServerOptions data_options = listener_options(cfg.listen, cfg, threads);
  data_options.pin_workers = cfg.cpu_affinity == CpuAffinity::kAuto;
  data_options.thread_name = "sg-proxy";
  data_options.max_connections = capacity.client_connections;
  http::ServerOptions admin_options = listener_options(cfg.admin_listen, cfg, 1);
  admin_options.thread_name = "sg-admin";
  admin_options.max_connections = kAdminConnections;
  http::HttpServer data(data_options, proxy);
  http::HttpServer admin_server(admin_options, admin);
  if (Status st = data.start(); !st) {
    log::error("cannot start the data plane", {{"error", st.error().message}});
    return 1;
  }
  if (Status st = admin_server.start(); !st) {
    log::error("cannot start the admin API", {{"error", st.error().message}});
    return 1;
  }
  registry.add_collector([&data, &capacity](std::string& out) {
    auto sample = [&out](const char* name, const char* type, const char* help, double v) {
      metrics::append_family_head(out, name, type, help);
      metrics::append_sample(out, name, {}, {}, v);
    };
    sample("streamgate_gateway_connections", "gauge", "Client connections open now.",
           static_cast<double>(data.connections()));
    sample("streamgate_gateway_max_connections", "gauge",
           "Client connections allowed at once (limits.max_connections, clamped to what "
           "RLIMIT_NOFILE allows).",
           capacity.client_connections);
    sample("streamgate_gateway_accept_errors_total", "counter",
           "Failed accept(2) calls on the data listener (out of descriptors, say).",
           static_cast<double>(data.accept_errors()));
    sample("streamgate_gateway_connections_rejected_total", "counter",
           "Client connections closed at accept because max_connections were open.",
           static_cast<double>(data.connections_rejected()));
  });
  HealthChecker checker(state);
  checker.start();
  log::info("streamgate-gateway listening",
            {{"listen", cfg.listen},
             {"port", static_cast<int>(data.port())},
             {"admin", cfg.admin_listen},
             {"admin_port", static_cast<int>(admin_server.port())},
             {"threads", threads},
             {"cpu_affinity", cpu_affinity_name(cfg.cpu_affinity)},
             {"tracks", static_cast<std::int64_t>(cfg.tracks.size())}});

  const int stop_signal = wait_for_stop(cli, state, apply_live);
  log::info("stopping", {{"signal", stop_signal}, {"grace_period_s", cli.grace_period_seconds}});
  data.stop_accepting();
  const bool idle = data.wait_idle(
      std::chrono::steady_clock::now() +
      std::chrono::milliseconds(static_cast<std::int64_t>(cli.grace_period_seconds * 1000)));
  checker.stop();
  admin_server.stop_accepting();
  admin_server.stop();
  data.stop();
  state.close_idle_connections();
  log::info("stopped", {{"clean", idle}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto cli = parse_gateway_cli(argc, argv);
  if (!cli.run) {
    std::fputs(cli.message.c_str(), cli.exit_code == 0 ? stdout : stderr);
    return cli.exit_code;
  }
  std::signal(SIGPIPE, SIG_IGN);
  return run(cli);
}
