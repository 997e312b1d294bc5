// `sgctl up`: the local control plane in the foreground (platform/control_plane.hpp).
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <iostream>
#include <thread>

#include "cli/commands.hpp"
#include "common/host_port.hpp"
#include "common/unique_fd.hpp"

namespace sg::cli {
namespace fs = std::filesystem;

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

}  // namespace

int run_up(const Common& c, platform::LocalPlaneOptions p) {
  if (p.gateway_bin.empty()) p.gateway_bin = find_binary("streamgate-gateway", "gateway");
  if (p.server_bin.empty()) p.server_bin = find_binary("streamgate-server", "server");
  if (!p.kube.enabled && (p.gateway_bin.empty() || !fs::exists(p.gateway_bin))) {
    return usage_error("streamgate-gateway not found; pass --gateway-bin PATH");
  }
  // The control plane talks to these with a client that does not resolve names.
  for (const auto& [flag, value] : {std::pair<std::string, std::string>{"--listen", p.listen},
                                    {"--admin-listen", p.admin_listen},
                                    {"--control-listen", p.control_listen}}) {
    auto hp = parse_host_port(value, {.allow_port_zero = true, .require_ip_literal = true});
    if (!hp) return usage_error(flag + " " + hp.error().message);
    if (flag != "--listen" && !p.insecure_listen && !is_loopback_host(hp->host)) {
      return usage_error(flag + " " + value +
                         " is not a loopback address and the API has no TLS; use 127.0.0.1 "
                         "(reach it through a tunnel) or add --insecure-listen");
    }
  }
  for (const std::string& name : p.pass_env) {
    const bool ok = !name.empty() && name.size() <= 128 &&
                    std::all_of(name.begin(), name.end(), [&](const char& ch) {
                      return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' ||
                             (ch == '*' && &ch == &name.back());
                    });
    if (!ok) return usage_error("--pass-env '" + name + "' is not a variable name (or NAME_*)");
  }
  p.state_dir = c.state_dir;
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

  const std::string listen = p.listen;
  const std::string admin = p.admin_listen;
  const platform::KubePlaneOptions kube = p.kube;
  auto plane = platform::LocalControlPlane::start(std::move(p));
  if (!plane) return usage_error(plane.error().message);
  if (kube.enabled) {
    std::cerr << "sgctl up: kubernetes namespace " << kube.ns
              << (kube.context.empty() ? std::string() : " (context " + kube.context + ")")
              << ", gateways "
              << (kube.gateway_admin.empty() ? "pods " + kube.gateway_selector : kube.gateway_admin)
              << ", control API "
              << (*plane)->control_address() << ", state " << c.state_dir.string() << "\n";
  } else {
    std::cerr << "sgctl up: gateway http://" << listen << " (admin " << admin << "), control API "
              << (*plane)->control_address() << ", state " << c.state_dir.string() << "\n";
  }

  std::atomic<bool> stop{false};
  std::thread signal_thread([&] {
    const timespec wait{0, 200 * 1000 * 1000};
    while (!stop.load()) {
      const int sig = sigtimedwait(&signals, nullptr, &wait);
      if (sig == SIGINT || sig == SIGTERM) {
        std::cerr << "sgctl up: signal " << sig
                  << (kube.enabled ? ", stopping (the workload keeps serving)\n"
                                   : ", stopping the gateway and replicas\n");
        stop.store(true);
      }
    }
  });
  (*plane)->run(stop);
  stop.store(true);
  signal_thread.join();
  return kExitOk;
}

int run_controller(const Common& c, platform::LocalPlaneOptions p) {
  auto hp = parse_host_port(p.control_listen, {.allow_port_zero = true, .require_ip_literal = true});
  if (!hp) return usage_error("--control-listen " + hp.error().message);
  if (!p.insecure_listen && !is_loopback_host(hp->host)) {
    return usage_error("--control-listen " + p.control_listen +
                       " is not a loopback address and the API has no TLS; add --insecure-listen");
  }
  p.state_dir = c.state_dir;
  std::error_code ec;
  fs::create_directories(c.state_dir, ec);
  if (ec) return usage_error("state dir " + c.state_dir.string() + ": " + ec.message());
  UniqueFd lock(::open((c.state_dir / "up.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock.valid() || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    return usage_error("another sgctl up or controller is running for state dir " + c.state_dir.string());
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::atomic<bool> stop{false};
  std::atomic<bool> finished{false};
  std::thread signal_thread([&] {
    const timespec wait{0, 200 * 1000 * 1000};
    while (!finished.load()) {
      const int sig = sigtimedwait(&signals, nullptr, &wait);
      if (sig == SIGINT || sig == SIGTERM) {
        std::cerr << "sgctl controller: signal " << sig << ", handing over the lease\n";
        stop.store(true);
      }
    }
  });
  Status st = platform::run_kube_controller(p, stop, [&](const std::string& address) {
    std::cerr << "sgctl controller: driving namespace " << p.kube.ns << ", control API " << address
              << ", state " << c.state_dir.string() << "\n";
  });
  finished.store(true);
  signal_thread.join();
  if (!st) return usage_error(st.error().message);
  return kExitOk;
}

}  // namespace sg::cli
