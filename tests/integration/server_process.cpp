#include "integration/server_process.hpp"

#include <thread>

#include "integration/http_client.hpp"

namespace sg::test {

Status wait_ready(std::uint16_t port, ChildProcess& process, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process.running()) {
      const int status = process.wait_exit(std::chrono::milliseconds(0)).value_or(-1);
      return make_error(ErrorCode::kUnavailable,
                        "server exited (wait status " + std::to_string(status) +
                            ") before ready: " + tail_of(process.log_file()));
    }
    HttpCall c{boost::beast::http::verb::get, "/ready", {}, {}, std::chrono::milliseconds(500)};
    if (http_call(port, c).status == 200) return Status::ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return make_error(ErrorCode::kTimeout,
                    "server not ready in time: " + tail_of(process.log_file()));
}

Result<std::unique_ptr<ServerProcess>> ServerProcess::start(const ServerSetup& setup,
                                                            const std::filesystem::path& dir) {
  // free_port() hands out a port that was free a moment ago; another socket (a client's
  // ephemeral port, say) may take it before the server binds it. Then try another.
  for (int attempt = 1;; ++attempt) {
    auto started = start_once(setup, dir);
    if (started || attempt == 3 ||
        started.error().message.find("Address already in use") == std::string::npos) {
      return started;
    }
  }
}

Result<std::unique_ptr<ServerProcess>> ServerProcess::start_once(const ServerSetup& setup,
                                                                 const std::filesystem::path& dir) {
  auto sp = std::make_unique<ServerProcess>();
  sp->port_ = free_port();
  SpawnOptions opts;
  opts.argv = {SG_SERVER_BIN, "--listen", "127.0.0.1:" + std::to_string(sp->port_), "--storage",
               setup.storage, "--cache", setup.cache, "--media-dir", (dir / "media").string(),
               "--version-label", setup.version_label, "--api-token", kToken, "--threads", "2",
               // Tests stop servers often; the drain has its own test.
               "--drain-delay", "0", "--grace-period", "5"};
  opts.argv.insert(opts.argv.end(), setup.extra_args.begin(), setup.extra_args.end());
  opts.log_file = dir / ("server-" + std::to_string(sp->port_) + ".log");
  auto child = ChildProcess::spawn(opts);
  if (!child) return child.error();
  sp->process_.emplace(std::move(*child));
  if (Status st = wait_ready(sp->port_, *sp->process_, std::chrono::seconds(15)); !st) {
    std::string cmd;
    for (const auto& a : opts.argv) cmd += " " + a;
    // The whole log, read after the process ended: the reason may be its last line.
    const std::string log = tail_of(opts.log_file, 1 << 20);
    const bool port_taken = log.find("Address already in use") != std::string::npos;
    return make_error(
        st.error().code,
        st.error().message + (port_taken ? "\n(Address already in use)" : "") + "\ncommand:" + cmd);
  }
  return sp;
}

}  // namespace sg::test
