// streamgate-gateway: the data plane (Proxy on an HttpServer), the admin API on its own
// listener, active health checks, SIGHUP reload and a graceful stop on SIGTERM/SIGINT.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "common/cpu_affinity.hpp"
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

int run(const GatewayCli& cli) {
  const GatewayConfig& cfg = cli.config;
  const unsigned threads =
      cfg.threads > 0 ? static_cast<unsigned>(cfg.threads) : usable_cpu_count();
  GatewayState state(threads);
  if (Status st = state.apply(cfg); !st) {
    std::fprintf(stderr, "streamgate-gateway: %s\n", st.error().message.c_str());
    return 2;
  }
  metrics::Registry registry;
  GatewayMetrics gateway_metrics(registry, state);
  metrics::register_process_metrics(registry);
  const char* token = std::getenv(cfg.admin_token_env.c_str());
  if (token == nullptr || *token == '\0') {
    log::warn("admin API token not set: admin writes are disabled",
              {{"token_env", cfg.admin_token_env}});
  }
  Proxy proxy(state, gateway_metrics, ProxyOptions{cli.access_log});
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
  http::ServerOptions admin_options = listener_options(cfg.admin_listen, cfg, 1);
  admin_options.thread_name = "sg-admin";
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
