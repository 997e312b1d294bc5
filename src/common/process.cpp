#include "common/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <map>

#include "common/proc_stat.hpp"

extern char** environ;

namespace sg {
namespace {

bool passes(const std::string& name, const std::optional<std::vector<std::string>>& pass) {
  if (!pass) return true;
  for (const std::string& p : *pass) {
    if (!p.empty() && p.back() == '*' ? name.starts_with(std::string_view(p).substr(0, p.size() - 1))
                                      : name == p) {
      return true;
    }
  }
  return false;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// RAII for the posix_spawn attribute objects.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

}  // namespace

std::vector<std::string> merged_environment(
    const std::vector<std::pair<std::string, std::string>>& extra,
    const std::optional<std::vector<std::string>>& pass) {
  std::map<std::string, std::string> vars;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    std::string name = entry.substr(0, eq);
    if (passes(name, pass)) vars[std::move(name)] = entry.substr(eq + 1);
  }
  for (const auto& [k, v] : extra) vars[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : vars) out.push_back(k + "=" + v);
  return out;
}

std::vector<std::string> default_pass_env() {
  return {"PATH",   "HOME",   "USER",         "LOGNAME",      "LANG",        "LANGUAGE",
          "LC_*",   "TZ",     "TMPDIR",       "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
          "TERM"};
}

Result<pid_t> spawn_process(const SpawnSpec& spec) {
  if (spec.argv.empty()) return make_error(ErrorCode::kInvalidArgument, "spawn: empty argv");
  // posix_spawn reports a failing file action like a failing exec: name the real culprit.
  std::error_code ec;
  if (!spec.log_file.empty() && !spec.log_file.parent_path().empty() &&
      !std::filesystem::is_directory(spec.log_file.parent_path(), ec)) {
    return make_error(ErrorCode::kInvalidArgument, "starting " + spec.argv[0] + ": log directory " +
                                                       spec.log_file.parent_path().string() +
                                                       " does not exist");
  }
  if (!spec.cwd.empty() && !std::filesystem::is_directory(spec.cwd, ec)) {
    return make_error(ErrorCode::kInvalidArgument, "starting " + spec.argv[0] +
                                                       ": working directory " + spec.cwd.string() +
                                                       " does not exist");
  }
  SpawnSetup setup;
  posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  const std::string log = spec.log_file.empty() ? "/dev/null" : spec.log_file.string();
  // No O_CLOEXEC: the descriptor must survive exec.
  posix_spawn_file_actions_addopen(&setup.actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0600);
  posix_spawn_file_actions_adddup2(&setup.actions, 1, 2);
  if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&setup.actions, spec.cwd.c_str());
  // Nothing else of ours leaks into the child: not our listening sockets (a replica holding
  // the control API's listener would accept connections nobody serves), not our databases.
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigdefault(&setup.attr, &all);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (spec.new_session) flags |= POSIX_SPAWN_SETSID;
  posix_spawnattr_setflags(&setup.attr, flags);
  std::vector<std::string> argv = spec.argv;
  std::vector<std::string> env = merged_environment(spec.env, spec.pass_env);
  auto argv_c = c_strings(argv);
  auto env_c = c_strings(env);
  pid_t pid = -1;
  const int rc =
      posix_spawnp(&pid, argv_c[0], &setup.actions, &setup.attr, argv_c.data(), env_c.data());
  if (rc != 0) {
    return make_error(ErrorCode::kInternal, "starting " + spec.argv[0] + ": " + std::strerror(rc));
  }
  return pid;
}

std::optional<std::uint64_t> process_start_ticks(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  const auto stat = read_proc_stat(pid);
  if (!stat || stat->zombie_or_dead()) return std::nullopt;
  return stat->start_ticks;
}

bool same_process_alive(pid_t pid, std::uint64_t start_ticks) {
  const auto ticks = process_start_ticks(pid);
  return ticks && *ticks == start_ticks;
}

std::optional<int> reap_if_exited(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) == pid) return status;
  return std::nullopt;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = ::strsignal(sig);
    return "signal " + std::to_string(sig) + " (" + (name != nullptr ? name : "?") + ")";
  }
  return "status " + std::to_string(status);
}

}  // namespace sg
