#include "platform/local/gateway_process.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <thread>

#include "common/process.hpp"

namespace sg::platform {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::string tail(const fs::path& file, std::size_t bytes = 600) {
  std::ifstream in(file, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

}  // namespace

void write_gateway_config(const fs::path& file, const gateway::GatewayConfig& config) {
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << gateway::gateway_config_to_json_text(config) << "\n";
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
}

GatewayProcess::GatewayProcess(GatewayProcessOptions options, ProcessRecords& records,
                               EventFn events)
    : opts_(std::move(options)), records_(records), events_(std::move(events)) {}

std::optional<pid_t> GatewayProcess::pid() const {
  if (pid_ <= 0) return std::nullopt;
  return pid_;
}

void GatewayProcess::adopt() {
  auto recorded = records_.gateway();
  if (!recorded || !*recorded) return;
  const auto p = static_cast<pid_t>((*recorded)->pid);
  if (same_process_alive(p, (*recorded)->start_ticks)) {
    pid_ = p;
    start_ticks_ = (*recorded)->start_ticks;
    adopted_ = true;
    events_("adopt", "adopting the running gateway (pid " + std::to_string(p) + ")");
  } else {
    (void)records_.set_gateway(std::nullopt);
  }
}

bool GatewayProcess::check_alive() {
  if (!adopted_) {
    if (auto status = reap_if_exited(pid_)) {
      events_("gateway_exited",
              "gateway exited (" + describe_wait_status(*status) + "); restarting; log " +
                  (opts_.state_dir / "logs" / "gateway.log").string());
      return false;
    }
  }
  if (!same_process_alive(pid_, start_ticks_)) {
    events_("gateway_exited", "gateway (pid " + std::to_string(pid_) + ") is gone; restarting");
    return false;
  }
  return true;
}

bool GatewayProcess::ensure(const gateway::GatewayConfig& config, Clock::time_point now) {
  if (pid_ > 0) {
    if (check_alive()) {
      if (!client_) {
        auto client = std::make_unique<GatewayClient>(opts_.admin_listen, opts_.token);
        if (client->alive()) {
          client_ = std::move(client);
          events_("adopt", "gateway (pid " + std::to_string(pid_) + ") answers on " +
                               opts_.admin_listen);
        }
      }
      return false;
    }
    pid_ = -1;
    client_.reset();
    (void)records_.set_gateway(std::nullopt);
  }
  if (now < retry_at_) return false;
  if (!gateway::validate_gateway_config(config)) return false;  // no ready endpoint yet
  retry_at_ = now + 5s;
  return spawn(config, now);
}

bool GatewayProcess::spawn(const gateway::GatewayConfig& config, Clock::time_point) {
  const fs::path config_file = opts_.state_dir / "gateway.yaml";
  write_gateway_config(config_file, config);
  const fs::path log = opts_.state_dir / "logs" / "gateway.log";
  SpawnSpec spec{.argv = {opts_.binary.string(), "--config", config_file.string()},
                 .env = {{"STREAMGATE_ADMIN_TOKEN", opts_.token}},
                 .pass_env = opts_.pass_env,
                 .log_file = log,
                 .new_session = true};
  auto pid = spawn_process(spec);
  if (!pid) {
    events_("gateway_failed", pid.error().message);
    return false;
  }
  // Recorded before any wait: a control plane killed from here on leaves a gateway the next
  // one recognises as its own.
  pid_ = *pid;
  start_ticks_ = process_start_ticks(*pid).value_or(0);
  adopted_ = false;
  (void)records_.set_gateway(GatewayRecord{pid_, start_ticks_});
  auto client = std::make_unique<GatewayClient>(opts_.admin_listen, opts_.token);
  bool reaped = false;
  for (int i = 0; i < 100 && !client->alive(); ++i) {
    if (reap_if_exited(*pid)) {
      reaped = true;
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  if (!client->alive()) {
    // Never a signal or a wait for a PID already reaped: it may be someone else's now.
    if (!reaped) {
      if (same_process_alive(pid_, start_ticks_)) ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
    (void)records_.set_gateway(std::nullopt);
    events_("gateway_failed", "gateway did not start on " + opts_.listen + " / " +
                                  opts_.admin_listen + "; log: " + tail(log));
    return false;
  }
  client_ = std::move(client);
  events_("gateway_started", "gateway pid " + std::to_string(pid_) + " serving " + opts_.listen +
                                 " (admin " + opts_.admin_listen + ")");
  return true;
}

void GatewayProcess::stop() {
  if (pid_ > 0 && same_process_alive(pid_, start_ticks_)) {
    ::kill(-pid_, SIGTERM);  // its process group (it leads its own session)
    const auto limit = Clock::now() + opts_.grace_period + 5s;
    while (same_process_alive(pid_, start_ticks_) && Clock::now() < limit) {
      if (!adopted_) (void)reap_if_exited(pid_);
      std::this_thread::sleep_for(50ms);
    }
    if (same_process_alive(pid_, start_ticks_)) ::kill(-pid_, SIGKILL);
    if (!adopted_) (void)reap_if_exited(pid_);
  }
  pid_ = -1;
  client_.reset();
  (void)records_.set_gateway(std::nullopt);
}

}  // namespace sg::platform
