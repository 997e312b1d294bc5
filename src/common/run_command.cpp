#include "common/run_command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <thread>
#include <tuple>

#include "common/process.hpp"
#include "common/unique_fd.hpp"

namespace sg {
namespace {

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

struct Pipe {
  UniqueFd read;
  UniqueFd write;
  bool open() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    read = UniqueFd(fds[0]);
    write = UniqueFd(fds[1]);
    return true;
  }
};

}  // namespace

Result<CommandResult> run_command(const CommandSpec& spec) {
  if (spec.argv.empty()) return make_error(ErrorCode::kInvalidArgument, "run: empty argv");
  Pipe in, out, err;
  if (!in.open() || !out.open() || !err.open()) {
    return make_error(ErrorCode::kInternal, std::string("pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.read.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out.write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err.write.get(), 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<std::string> argv = spec.argv;
  std::vector<std::string> env = merged_environment(spec.env, std::nullopt);
  auto argv_c = pointers(argv);
  auto env_c = pointers(env);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, argv_c[0], &actions, &attr, argv_c.data(), env_c.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return make_error(ErrorCode::kInternal, "starting " + spec.argv[0] + ": " + std::strerror(rc));
  }
  in.read.reset();
  out.write.reset();
  err.write.reset();
  ::fcntl(in.write.get(), F_SETFL, O_NONBLOCK);
  if (spec.input.empty()) in.write.reset();

  // A child that exits before reading its input would make our write raise SIGPIPE: block
  // it on this thread while we write, and take a pending one before unblocking.
  sigset_t pipe_signal, previous;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, &previous);

  CommandResult result;
  std::size_t written = 0;
  const auto deadline = std::chrono::steady_clock::now() + spec.timeout;
  bool timed_out = false;
  bool too_long = false;
  int poll_failed = 0;
  std::array<char, 65536> buf{};
  while (out.read.valid() || err.read.valid()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    std::array<pollfd, 3> fds{};
    nfds_t n = 0;
    int out_i = -1, err_i = -1, in_i = -1;
    if (out.read.valid()) { out_i = static_cast<int>(n); fds[n++] = {out.read.get(), POLLIN, 0}; }
    if (err.read.valid()) { err_i = static_cast<int>(n); fds[n++] = {err.read.get(), POLLIN, 0}; }
    if (in.write.valid()) { in_i = static_cast<int>(n); fds[n++] = {in.write.get(), POLLOUT, 0}; }
    const int ready = ::poll(fds.data(), n, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) {
      poll_failed = errno;
      break;
    }
    if (ready <= 0) continue;
    if (in_i >= 0 && fds[static_cast<std::size_t>(in_i)].revents != 0) {
      const ssize_t w = ::write(in.write.get(), spec.input.data() + written, spec.input.size() - written);
      if (w > 0) written += static_cast<std::size_t>(w);
      if (w < 0 && errno != EAGAIN && errno != EINTR) written = spec.input.size();
      if (written >= spec.input.size()) in.write.reset();
    }
    for (auto [index, pipe, text] : {std::tuple{out_i, &out.read, &result.out},
                                     std::tuple{err_i, &err.read, &result.err}}) {
      if (index < 0 || fds[static_cast<std::size_t>(index)].revents == 0) continue;
      const ssize_t r = ::read(pipe->get(), buf.data(), buf.size());
      if (r > 0) {
        text->append(buf.data(), static_cast<std::size_t>(r));
        if (text->size() > spec.max_output) too_long = true;
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        pipe->reset();
      }
    }
    if (too_long) break;
  }
  in.write.reset();
  sigset_t pending;
  sigpending(&pending);
  if (sigismember(&pending, SIGPIPE) == 1) {
    const timespec zero{0, 0};
    (void)sigtimedwait(&pipe_signal, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  // Reap it: at once when it failed or ran out of time, else once it exits (it may have
  // closed its output and still run), by the deadline at the latest.
  int status = 0;
  bool reaped = false;
  while (!timed_out && !too_long && poll_failed == 0) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      reaped = true;
      break;
    }
    if (done < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!reaped) {
    ::kill(pid, SIGKILL);  // our child, spawned above and not yet reaped: the PID is still ours
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (poll_failed != 0) {
    return make_error(ErrorCode::kInternal, std::string("poll: ") + std::strerror(poll_failed));
  }
  if (timed_out) {
    return make_error(ErrorCode::kUnavailable, spec.argv[0] + " did not finish within " +
                                                   std::to_string(spec.timeout.count()) + " ms");
  }
  if (too_long) {
    return make_error(ErrorCode::kInvalidArgument,
                      spec.argv[0] + " printed more than " + std::to_string(spec.max_output) + " bytes");
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace sg
