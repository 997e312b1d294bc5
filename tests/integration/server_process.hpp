// Starts the real streamgate-server binary for integration tests and waits until /ready.
#pragma once

#include <string>
#include <vector>

#include "common/result.hpp"
#include "support/services.hpp"

namespace sg::test {

inline constexpr const char* kToken = "integration-token-1";

struct ServerSetup {
  std::string storage;  // sqlite:PATH or postgresql://...
  std::string cache = "memory";
  std::string version_label = "v-test";
  std::vector<std::string> extra_args;
};

class ServerProcess {
 public:
  // Starts the server on a free port, media under `dir`; waits up to 15 s for /ready.
  static Result<std::unique_ptr<ServerProcess>> start(const ServerSetup& setup,
                                                      const std::filesystem::path& dir);
  std::uint16_t port() const { return port_; }
  ChildProcess& process() { return *process_; }
  std::string log() const { return tail_of(process_->log_file(), 4000); }

 private:
  static Result<std::unique_ptr<ServerProcess>> start_once(const ServerSetup& setup,
                                                           const std::filesystem::path& dir);
  std::uint16_t port_ = 0;
  std::optional<ChildProcess> process_;
};

// Waits until GET /ready answers 200 (or the process exits).
Status wait_ready(std::uint16_t port, ChildProcess& process, std::chrono::milliseconds timeout);

}  // namespace sg::test
