// `sgctl up`: the local control plane in the foreground (LocalPlatform + its control API).
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/address_v4.hpp>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli/commands.hpp"
#include "common/http/http_server.hpp"
#include "common/unique_fd.hpp"
#include "platform/local/control_api.hpp"

namespace sg::cli {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// The first existing candidate for a sibling binary: beside sgctl (an installed layout) or
// in the build tree (build/src/cli/sgctl -> build/src/NAME_DIR/NAME).
fs::path find_binary(const std::string& name, const std::string& build_dir) {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  for (const fs::path& candidate :
       {self.parent_path() / name, self.parent_path().parent_path() / build_dir / name}) {
    if (fs::exists(candidate, ec)) return candidate;
  }
  return {};
}

// HOST:PORT with HOST an IPv4 literal (the control plane talks to it with a client that does
// not resolve names).
bool parse_host_port(const std::string& text, std::string& host, std::uint16_t& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = text.substr(0, colon);
  boost::system::error_code ec;
  boost::asio::ip::make_address_v4(host, ec);
  if (ec) return false;
  try {
    std::size_t used = 0;
    const int p = std::stoi(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1 || p < 0 || p > 65535) return false;
    port = static_cast<std::uint16_t>(p);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

}  // namespace

int run_up(const Common& c, UpOptions o) {
  auto& p = o.platform;
  if (p.gateway_bin.empty()) p.gateway_bin = find_binary("streamgate-gateway", "gateway");
  if (p.server_bin.empty()) p.server_bin = find_binary("streamgate-server", "server");
  if (p.gateway_bin.empty() || !fs::exists(p.gateway_bin)) {
    return usage_error("streamgate-gateway not found; pass --gateway-bin PATH");
  }
  std::string control_host;
  std::uint16_t control_port = 0;
  for (const auto& [flag, value] : {std::pair<std::string, std::string>{"--listen", p.listen},
                                    {"--admin-listen", p.admin_listen},
                                    {"--control-listen", o.control_listen}}) {
    if (!parse_host_port(value, control_host, control_port)) {
      return usage_error(flag + " must be IPV4:PORT (e.g. 127.0.0.1:8080), got '" + value + "'");
    }
  }
  (void)parse_host_port(o.control_listen, control_host, control_port);
  std::error_code ec;
  fs::create_directories(c.state_dir, ec);
  if (ec) return usage_error("state dir " + c.state_dir.string() + ": " + ec.message());
  // One control plane per state dir.
  UniqueFd lock(::open((c.state_dir / "up.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock.valid() || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    return usage_error("another sgctl up is running for state dir " + c.state_dir.string());
  }

  // Signals are taken by one thread with sigtimedwait; every other thread (and, through the
  // spawn attributes, no child) has them blocked.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto platform = platform::LocalPlatform::start(p);
  if (!platform) return usage_error(platform.error().message);
  auto token = platform::read_or_create_secret(c.state_dir / "control-token");
  if (!token) return usage_error(token.error().message);

  platform::ControlApi api(**platform, *token);
  http::ServerOptions so;
  so.host = control_host;
  so.port = control_port;
  so.threads = 1;
  http::HttpServer server(so, api);
  if (Status st = server.start(); !st) {
    return usage_error("control API on " + o.control_listen + ": " + st.error().message);
  }
  const std::string address = control_host + ":" + std::to_string(server.port());
  {
    const fs::path tmp = c.state_dir / "control-address.tmp";
    std::ofstream(tmp, std::ios::trunc) << address << "\n";
    fs::rename(tmp, c.state_dir / "control-address", ec);
  }
  std::cerr << "sgctl up: gateway http://" << p.listen << " (admin " << p.admin_listen
            << "), control API " << address << ", state " << c.state_dir.string() << "\n";

  std::atomic<bool> stop{false};
  std::thread signal_thread([&] {
    const timespec wait{0, 200 * 1000 * 1000};
    while (!stop.load()) {
      const int sig = sigtimedwait(&signals, nullptr, &wait);
      if (sig == SIGINT || sig == SIGTERM) {
        std::cerr << "sgctl up: signal " << sig << ", stopping the gateway and replicas\n";
        stop.store(true);
      }
    }
  });
  (*platform)->run(stop);
  stop.store(true);
  signal_thread.join();
  server.stop_accepting();
  server.stop();
  fs::remove(c.state_dir / "control-address", ec);
  return kExitOk;
}

}  // namespace sg::cli
