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

// SIGINT and SIGTERM, taken by one thread with sigtimedwait: blocks them on the calling
// thread first (so on every thread it starts later and, through the spawn attributes, in no
// child); a signal prints `message` and sets `stop`. The destructor ends the thread.
class StopOnSignal {
 public:
  StopOnSignal(std::atomic<bool>& stop, std::string message) : stop_(stop), message_(std::move(message)) {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
  }
  // Starts the watching thread.
  void start() {
    thread_ = std::thread([this] {
      const timespec wait{0, 200 * 1000 * 1000};
      while (!done_.load()) {
        const int sig = sigtimedwait(&signals_, nullptr, &wait);
        if (sig == SIGINT || sig == SIGTERM) {
          std::cerr << message_ << " (signal " << sig << ")\n";
          stop_.store(true);
        }
      }
    });
  }
  ~StopOnSignal() {
    done_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

 private:
  std::atomic<bool>& stop_;
  std::string message_;
  sigset_t signals_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// One control plane per state dir: an exclusive lock on STATE_DIR/up.lock, held while the
// returned descriptor is open (invalid: another holds it).
UniqueFd lock_state_dir(const fs::path& dir) {
  UniqueFd lock(::open((dir / "up.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock.valid() || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) return UniqueFd();
  return lock;
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
  const UniqueFd lock = lock_state_dir(c.state_dir);
  if (!lock.valid()) {
    return usage_error("another sgctl up or controller is running for state dir " + c.state_dir.string());
  }
  std::atomic<bool> stop{false};
  StopOnSignal signals(stop, p.kube.enabled ? "sgctl up: stopping (the workload keeps serving)"
                                            : "sgctl up: stopping the gateway and replicas");

  const std::string listen = p.listen;
  const std::string admin = p.admin_listen;
  const platform::KubePlaneOptions kube = p.kube;
  auto plane = platform::LocalControlPlane::start(std::move(p));
  if (!plane) return usage_error(plane.error().message);
  if (kube.enabled) {
    std::cerr << "sgctl up: kubernetes namespace " << kube.ns
              << (kube.context.empty() ? std::string() : " (context " + kube.context + ")")
              << (kube.routing == "replicas"
                      ? ", no gateway: Service streamgate-live, replica-ratio canary"
                      : ", gateways " + (kube.gateway_admin.empty() ? "pods " + kube.gateway_selector
                                                                    : kube.gateway_admin))
              << (kube.prometheus.empty() ? std::string() : ", traffic from Prometheus " + kube.prometheus)
              << ", control API "
              << (*plane)->control_address() << ", state " << c.state_dir.string() << "\n";
  } else {
    std::cerr << "sgctl up: gateway http://" << listen << " (admin " << admin << "), control API "
              << (*plane)->control_address() << ", state " << c.state_dir.string() << "\n";
  }

  signals.start();
  if (Status st = (*plane)->run(stop); !st) {
    std::cerr << "sgctl up: stopped driving: " << st.error().message << "\n";
    return kExitRolledBack;
  }
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
  const UniqueFd lock = lock_state_dir(c.state_dir);
  if (!lock.valid()) {
    return usage_error("another sgctl up or controller is running for state dir " + c.state_dir.string());
  }
  std::atomic<bool> stop{false};
  StopOnSignal signals(stop, "sgctl controller: stopping and handing over the lease");
  signals.start();
  Status st = platform::run_kube_controller(p, stop, [&](const std::string& address) {
    std::cerr << "sgctl controller: driving namespace " << p.kube.ns << ", control API " << address
              << ", state " << c.state_dir.string() << "\n";
  });
  if (!st) return usage_error(st.error().message);
  return kExitOk;
}

}  // namespace sg::cli
