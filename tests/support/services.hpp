// Real services for tests: temporary directories, child processes, and throwaway PostgreSQL
// and Redis servers on loopback ports.
//
// Everything cleans up after itself (RAII): a ChildProcess still running when destroyed is
// sent SIGTERM and, after 5 s, SIGKILL; only processes started here are signalled, by PID.
// A TempDir is removed recursively. Failures are returned as Status/Result values whose
// message names the command and points at its log file. Not thread-safe per object.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace sg::test {

// A fresh directory (mkdtemp under $TMPDIR, else /tmp), removed with its contents on
// destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "sg-test");
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close).
std::uint16_t free_port();
// A TCP connection to 127.0.0.1:port (close-on-exec; SO_RCVBUF set when rcvbuf > 0): the
// descriptor, which the caller closes, or -1.
int connect_loopback(std::uint16_t port, int rcvbuf = 0);

struct SpawnOptions {
  std::vector<std::string> argv;                         // argv[0] is searched in PATH
  std::vector<std::pair<std::string, std::string>> env;  // added to (or replacing in) ours
  std::filesystem::path log_file;                        // stdout and stderr, appended
  std::filesystem::path cwd;                             // empty: inherit ours
  bool new_session = false;                              // see sg::SpawnSpec
};

// A process started with posix_spawn.
class ChildProcess {
 public:
  static Result<ChildProcess> spawn(const SpawnOptions& options);
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // True until the process has exited (reaps it when it has).
  bool running();
  Status signal(int signo);
  // The wait status (as from waitpid) once the process exits, or nullopt after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // SIGTERM, then SIGKILL if it still runs after `grace`; returns once it is reaped.
  void terminate(std::chrono::milliseconds grace = std::chrono::seconds(5));
  const std::filesystem::path& log_file() const { return log_file_; }

 private:
  ChildProcess(pid_t pid, std::filesystem::path log_file)
      : pid_(pid), log_file_(std::move(log_file)) {}
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  std::filesystem::path log_file_;
};

// Runs argv to completion (at most `timeout`), output to `log_file`; ok iff it exits 0.
Status run_command(const SpawnOptions& options, std::chrono::milliseconds timeout);

// The last `max_bytes` of a file, for failure messages.
std::string tail_of(const std::filesystem::path& file, std::size_t max_bytes = 2000);

// Debian's Prometheus with `config`, its TSDB in DIR/tsdb, listening on 127.0.0.1:`port`, log
// DIR/prometheus.log; returns once /-/ready answers (at most 30 s), else an error with the
// log's tail (the process is stopped then).
Result<ChildProcess> start_prometheus(const std::filesystem::path& config, const std::filesystem::path& dir,
                                      std::uint16_t port);

// A PostgreSQL 15 cluster of our own: initdb (as user "postgres" when we are root) in a
// temp dir, listening on 127.0.0.1:port() and on a unix socket in that dir, stopped with
// pg_ctl stop -m fast and removed on destruction.
class PostgresInstance {
 public:
  PostgresInstance();
  ~PostgresInstance();
  PostgresInstance(const PostgresInstance&) = delete;
  PostgresInstance& operator=(const PostgresInstance&) = delete;

  // initdb, start, wait until it accepts connections, create database "sg_test".
  Status start();
  bool started() const { return started_; }
  std::uint16_t port() const { return port_; }
  // "postgresql://postgres@127.0.0.1:PORT/sg_test".
  std::string url() const;
  // Creates database `name` ([a-z0-9_], 1..63 chars) and returns its URL.
  Result<std::string> create_database(const std::string& name);
  // Creates a database with a fresh unique name and returns its URL.
  Result<std::string> create_unique_database();
  // pg_ctl stop -m fast, now (the destructor then has nothing left to stop).
  void stop();
  // The postmaster's PID and those of its child processes (backends, background workers),
  // for fault tests that pause this server (SIGSTOP/SIGCONT). The postmaster's PID comes
  // from postmaster.pid and is returned only when /proc shows that process running postgres
  // on this instance's data directory; an empty list otherwise.
  std::vector<pid_t> server_pids() const;

 private:
  Status run_pg(std::vector<std::string> argv, std::chrono::milliseconds timeout);
  std::string url_for(const std::string& db) const;

  TempDir dir_;
  std::uint16_t port_ = 0;
  bool started_ = false;
  int next_db_ = 0;
};

// A redis-server of our own on 127.0.0.1, no persistence. stop() and start() again keep the
// port, so tests can take Redis down and bring it back.
class RedisInstance {
 public:
  RedisInstance();
  // Starts redis-server (on the same port as before, if it ran before) and waits for PING.
  Status start();
  // SIGTERM and wait for exit.
  void stop();
  bool running() const { return process_.has_value(); }
  std::uint16_t port() const { return port_; }
  // "redis://127.0.0.1:PORT".
  std::string url() const;

 private:
  TempDir dir_;
  std::uint16_t port_ = 0;
  std::optional<ChildProcess> process_;
};

}  // namespace sg::test
