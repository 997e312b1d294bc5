#include "support/services.hpp"

#include "common/http/blocking_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <pqxx/pqxx>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/process.hpp"
#include "common/unique_fd.hpp"

namespace sg::test {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

Error failed(const std::string& what) { return make_error(ErrorCode::kInternal, what); }

bool running_as_root() { return geteuid() == 0; }

// Prefixes argv with runuser so PostgreSQL tools, which refuse root, run as "postgres".
std::vector<std::string> as_postgres(std::vector<std::string> argv) {
  if (!running_as_root()) return argv;
  std::vector<std::string> out = {"runuser", "-u", "postgres", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

std::string pg_bindir() {
  const char* env = std::getenv("SG_PG_BINDIR");
  return env != nullptr ? env : "/usr/lib/postgresql/15/bin";
}

bool redis_answers_ping(std::uint16_t port) {
  UniqueFd fd(connect_loopback(port));
  if (!fd.valid()) return false;
  timeval tv{1, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  constexpr std::string_view kPing = "PING\r\n";
  if (::write(fd.get(), kPing.data(), kPing.size()) != static_cast<ssize_t>(kPing.size())) {
    return false;
  }
  char buf[16] = {};
  const ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  return n >= 5 && std::string_view(buf, 5) == "+PONG";
}

}  // namespace

TempDir::TempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error(errno_text("mkdtemp " + tmpl));  // a broken test host
  }
  path_ = tmpl;
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::uint16_t free_port() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (!fd.valid() || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error(errno_text("binding a free port on 127.0.0.1"));
  }
  return ntohs(addr.sin_port);
}

Result<ChildProcess> ChildProcess::spawn(const SpawnOptions& options) {
  auto pid = spawn_process({.argv = options.argv,
                            .env = options.env,
                            .log_file = options.log_file,
                            .cwd = options.cwd,
                            .new_session = options.new_session});
  if (!pid) return pid.error();
  return ChildProcess(*pid, options.log_file);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      exit_status_(other.exit_status_),
      log_file_(std::move(other.log_file_)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !exit_status_) terminate();
    pid_ = std::exchange(other.pid_, -1);
    exit_status_ = other.exit_status_;
    log_file_ = std::move(other.log_file_);
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exit_status_) terminate();
}

bool ChildProcess::running() {
  if (pid_ <= 0 || exit_status_) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) exit_status_ = status;
  return !exit_status_;
}

Status ChildProcess::signal(int signo) {
  if (!running()) return failed("signal: process " + std::to_string(pid_) + " is not running");
  if (::kill(pid_, signo) != 0) return failed(errno_text("kill " + std::to_string(pid_)));
  return Status::ok();
}

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
  return exit_status_;
}

void ChildProcess::terminate(std::chrono::milliseconds grace) {
  if (!running()) return;
  ::kill(pid_, SIGTERM);
  if (wait_exit(grace)) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  if (::waitpid(pid_, &status, 0) == pid_) exit_status_ = status;
}

Status run_command(const SpawnOptions& options, std::chrono::milliseconds timeout) {
  auto child = ChildProcess::spawn(options);
  if (!child) return child.error();
  const std::optional<int> status = child->wait_exit(timeout);
  std::string name;
  for (const std::string& arg : options.argv) name += (name.empty() ? "" : " ") + arg;
  if (!status) {
    return failed("'" + name + "' did not finish within " + std::to_string(timeout.count()) +
                  " ms; log " + options.log_file.string() + ":\n" + tail_of(options.log_file));
  }
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    return failed("'" + name + "' failed (wait status " + std::to_string(*status) + "); log " +
                  options.log_file.string() + ":\n" + tail_of(options.log_file));
  }
  return Status::ok();
}

std::string tail_of(const fs::path& file, std::size_t max_bytes) {
  std::ifstream in(file, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

PostgresInstance::PostgresInstance() : dir_("sg-postgres") {}

PostgresInstance::~PostgresInstance() { stop(); }

void PostgresInstance::stop() {
  if (!started_) return;
  started_ = false;
  // Best effort: the temp dir is removed by its destructor whatever happens.
  (void)run_pg(
      {pg_bindir() + "/pg_ctl", "-D", (dir_.path() / "data").string(), "-m", "fast", "-w", "stop"},
      60s);
}

std::vector<pid_t> PostgresInstance::server_pids() const {
  if (!started_) return {};
  const fs::path data = dir_.path() / "data";
  std::ifstream pidfile(data / "postmaster.pid");
  long postmaster = 0;
  if (!(pidfile >> postmaster) || postmaster <= 1) return {};
  // Only a process that is a postgres on our data directory: the file could be stale.
  std::ifstream cmdline_file("/proc/" + std::to_string(postmaster) + "/cmdline");
  std::string cmdline((std::istreambuf_iterator<char>(cmdline_file)),
                      std::istreambuf_iterator<char>());
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  if (cmdline.find("postgres") == std::string::npos ||
      cmdline.find(data.string()) == std::string::npos) {
    return {};
  }
  std::vector<pid_t> pids{static_cast<pid_t>(postmaster)};
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const auto close = text.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(text.substr(close + 2));
    char state = 0;
    long ppid = 0;
    if (rest >> state >> ppid && ppid == postmaster) pids.push_back(std::stoi(name));
  }
  return pids;
}

Status PostgresInstance::run_pg(std::vector<std::string> argv, std::chrono::milliseconds timeout) {
  SpawnOptions options;
  options.argv = as_postgres(std::move(argv));
  options.log_file = dir_.path() / "commands.log";
  options.cwd = dir_.path();
  return run_command(options, timeout);
}

Status PostgresInstance::start() {
  if (started_) return Status::ok();
  if (running_as_root()) {
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) return failed("running as root but there is no 'postgres' user");
    if (::chown(dir_.path().c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return failed(errno_text("chown " + dir_.path().string() + " to postgres"));
    }
  }
  const std::string data = (dir_.path() / "data").string();
  if (Status s = run_pg({pg_bindir() + "/initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E",
                         "UTF8", "--locale=C", "--no-sync"},
                        120s);
      !s) {
    return failed("initdb: " + s.error().message);
  }
  port_ = free_port();
  const std::string server_options = "-p " + std::to_string(port_) + " -k " + dir_.path().string() +
                                     " -c listen_addresses=127.0.0.1 -c fsync=off "
                                     "-c max_connections=300";
  if (Status s = run_pg(
          {pg_bindir() + "/pg_ctl", "-D", data, "-l", (dir_.path() / "postgres.log").string(), "-o",
           server_options, "-w", "-t", "60", "start"},
          90s);
      !s) {
    return failed("pg_ctl start: " + s.error().message + "\nserver log:\n" +
                  tail_of(dir_.path() / "postgres.log"));
  }
  started_ = true;
  auto db = create_database("sg_test");
  if (!db) return db.error();
  return Status::ok();
}

std::string PostgresInstance::url_for(const std::string& db) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

std::string PostgresInstance::url() const { return url_for("sg_test"); }

Result<std::string> PostgresInstance::create_database(const std::string& name) {
  const bool valid =
      !name.empty() && name.size() <= 63 &&
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos;
  if (!valid) {
    return make_error(ErrorCode::kInvalidArgument,
                      "database name '" + name + "' must be 1-63 chars of [a-z0-9_]");
  }
  if (!started_) return failed("create_database '" + name + "': PostgreSQL is not started");
  try {
    pqxx::connection conn(url_for("postgres"));
    pqxx::nontransaction n(conn);
    // Identifiers cannot be parameters; the name was validated above.
    n.exec("CREATE DATABASE " + name + " TEMPLATE template0");
  } catch (const std::exception& e) {
    return failed("creating database '" + name + "' on port " + std::to_string(port_) + ": " +
                  e.what());
  }
  return url_for(name);
}

Result<std::string> PostgresInstance::create_unique_database() {
  return create_database("sg_db_" + std::to_string(::getpid()) + "_" + std::to_string(next_db_++));
}

RedisInstance::RedisInstance() : dir_("sg-redis") {}

std::string RedisInstance::url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

Status RedisInstance::start() {
  if (process_) return Status::ok();
  if (port_ == 0) port_ = free_port();
  SpawnOptions options;
  options.argv = {"redis-server",
                  "--bind",
                  "127.0.0.1",
                  "--port",
                  std::to_string(port_),
                  "--save",
                  "",
                  "--appendonly",
                  "no",
                  "--dir",
                  dir_.path().string()};
  options.log_file = dir_.path() / "redis.log";
  auto child = ChildProcess::spawn(options);
  if (!child) return child.error();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!redis_answers_ping(port_)) {
    if (!child->running()) {
      return failed("redis-server on port " + std::to_string(port_) + " exited; log:\n" +
                    tail_of(options.log_file));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return failed("redis-server on port " + std::to_string(port_) +
                    " did not answer PING within 10 s; log:\n" + tail_of(options.log_file));
    }
    std::this_thread::sleep_for(10ms);
  }
  process_.emplace(std::move(*child));
  return Status::ok();
}

void RedisInstance::stop() {
  if (!process_) return;
  process_->terminate();
  process_.reset();
}

int connect_loopback(std::uint16_t port, int rcvbuf) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

Result<ChildProcess> start_prometheus(const std::filesystem::path& config, const std::filesystem::path& dir,
                                      std::uint16_t port) {
  SpawnOptions o;
  o.argv = {"prometheus", "--config.file=" + config.string(), "--storage.tsdb.path=" + (dir / "tsdb").string(),
            "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=warn"};
  o.log_file = dir / "prometheus.log";
  auto child = ChildProcess::spawn(o);
  if (!child) return child.error();
  for (int i = 0; i < 300; ++i) {
    const auto r = http::blocking_call("127.0.0.1", port, {.target = "/-/ready", .timeout = std::chrono::seconds(1)});
    if (r.status == 200) return child;
    if (!child->running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  child->terminate();
  return make_error(ErrorCode::kUnavailable, "prometheus not ready: " + tail_of(o.log_file, 4000));
}

}  // namespace sg::test
