#include "common/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "common/unique_fd.hpp"
#include "support/services.hpp"

namespace sg {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Polls reap_if_exited for at most `limit`.
std::optional<int> wait_for_exit(pid_t pid, std::chrono::milliseconds limit = 3s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (auto status = reap_if_exited(pid)) return status;
    std::this_thread::sleep_for(2ms);
  }
  return std::nullopt;
}

// Kills and reaps a child a failed test left running.
void kill_and_reap(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

TEST(Process, SpawnedShellWritesToItsLogAndExitStatusIsReaped) {
  test::TempDir dir("sg-process");
  const fs::path log = dir.path() / "child.log";
  auto pid = spawn_process({.argv = {"/bin/sh", "-c", "echo hi; echo oops >&2; exit 3"},
                            .env = {},
                            .log_file = log,
                            .cwd = {},
                            .new_session = false});
  ASSERT_TRUE(pid) << pid.error().message;
  const auto status = wait_for_exit(*pid);
  if (!status) kill_and_reap(*pid);
  ASSERT_TRUE(status.has_value()) << "child did not exit within 3 s";
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 3);
  EXPECT_EQ(describe_wait_status(*status), "exit 3");
  EXPECT_EQ(test::tail_of(log), "hi\noops\n") << "stdout and stderr both go to the log";
  // Once reaped, the pid is no longer ours to reap.
  EXPECT_FALSE(reap_if_exited(*pid).has_value());
}

TEST(Process, LogIsAppendedNotTruncated) {
  test::TempDir dir("sg-process");
  const fs::path log = dir.path() / "child.log";
  for (const char* word : {"first", "second"}) {
    auto pid =
        spawn_process({.argv = {"/bin/sh", "-c", std::string("echo ") + word}, .log_file = log});
    ASSERT_TRUE(pid) << pid.error().message;
    ASSERT_TRUE(wait_for_exit(*pid).has_value());
  }
  EXPECT_EQ(test::tail_of(log), "first\nsecond\n");
}

TEST(Process, ChildGetsMergedEnvironmentAndWorkingDirectory) {
  test::TempDir dir("sg-process");
  const fs::path log = dir.path() / "child.log";
  const fs::path cwd = dir.path() / "work";
  fs::create_directories(cwd);
  ::setenv("SG_PROCESS_TEST_KEEP", "inherited", 1);
  ::setenv("SG_PROCESS_TEST_OVERRIDE", "ours", 1);
  auto pid = spawn_process(
      {.argv = {"sh", "-c",
                "echo $SG_PROCESS_TEST_KEEP $SG_PROCESS_TEST_OVERRIDE $SG_PROCESS_TEST_NEW; pwd"},
       .env = {{"SG_PROCESS_TEST_OVERRIDE", "theirs"}, {"SG_PROCESS_TEST_NEW", "added"}},
       .log_file = log,
       .cwd = cwd});
  ::unsetenv("SG_PROCESS_TEST_KEEP");
  ::unsetenv("SG_PROCESS_TEST_OVERRIDE");
  ASSERT_TRUE(pid) << pid.error().message;
  ASSERT_TRUE(wait_for_exit(*pid).has_value());
  EXPECT_EQ(test::tail_of(log), "inherited theirs added\n" + fs::canonical(cwd).string() + "\n");
}

TEST(Process, DescribesExitAndSignalStatuses) {
  EXPECT_EQ(describe_wait_status(3 << 8), "exit 3");
  EXPECT_EQ(describe_wait_status(0), "exit 0");
  EXPECT_EQ(describe_wait_status(SIGKILL), "signal 9 (Killed)");
  EXPECT_EQ(describe_wait_status(SIGTERM), "signal 15 (Terminated)");
}

TEST(Process, ReportsSignalDeathOfAChild) {
  auto pid = spawn_process({.argv = {"/bin/sh", "-c", "kill -TERM $$"}});
  ASSERT_TRUE(pid) << pid.error().message;
  const auto status = wait_for_exit(*pid);
  if (!status) kill_and_reap(*pid);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(describe_wait_status(*status), "signal 15 (Terminated)");
}

TEST(Process, OwnStartTicksIdentifyThisProcess) {
  const auto ticks = process_start_ticks(::getpid());
  ASSERT_TRUE(ticks.has_value());
  EXPECT_GT(*ticks, 0u);
  EXPECT_EQ(process_start_ticks(::getpid()).value_or(0), *ticks) << "stable across reads";
  EXPECT_TRUE(same_process_alive(::getpid(), *ticks));
  EXPECT_FALSE(same_process_alive(::getpid(), *ticks + 1)) << "a reused pid must not match";
  EXPECT_FALSE(process_start_ticks(0).has_value());
  EXPECT_FALSE(process_start_ticks(-1).has_value());
}

TEST(Process, ZombieAndReapedChildrenAreNotAlive) {
  auto pid = spawn_process({.argv = {"/bin/sh", "-c", "exec sleep 5"}});
  ASSERT_TRUE(pid) << pid.error().message;
  const auto ticks = process_start_ticks(*pid);
  ASSERT_TRUE(ticks.has_value());
  EXPECT_TRUE(same_process_alive(*pid, *ticks));
  EXPECT_FALSE(reap_if_exited(*pid).has_value()) << "still running";

  ASSERT_EQ(::kill(*pid, SIGKILL), 0);
  // Until reaped it is a zombie: not alive, though /proc still lists it.
  const auto until = std::chrono::steady_clock::now() + 3s;
  while (same_process_alive(*pid, *ticks) && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_FALSE(same_process_alive(*pid, *ticks));
  const auto status = wait_for_exit(*pid);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(describe_wait_status(*status), "signal 9 (Killed)");
  EXPECT_FALSE(process_start_ticks(*pid).has_value());
}

TEST(Process, SpawningAMissingExecutableNamesIt) {
  auto pid = spawn_process({.argv = {"/nonexistent/streamgate-server-v9"}});
  ASSERT_FALSE(pid) << "spawned pid " << *pid;
  EXPECT_NE(pid.error().message.find("/nonexistent/streamgate-server-v9"), std::string::npos)
      << pid.error().message;
  EXPECT_NE(pid.error().message.find("No such file"), std::string::npos) << pid.error().message;

  auto unnamed = spawn_process({.argv = {"sg-no-such-program-in-path"}});
  ASSERT_FALSE(unnamed);
  EXPECT_NE(unnamed.error().message.find("sg-no-such-program-in-path"), std::string::npos)
      << unnamed.error().message;

  auto empty = spawn_process({});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidArgument);
}

TEST(Process, ChildDoesNotInheritOurDescriptors) {
  test::TempDir dir("sg-process");
  const fs::path log = dir.path() / "fds.log";
  // A descriptor without O_CLOEXEC, like a listening socket someone forgot to mark.
  // Moved to fd 50 or above, so it cannot be confused with the one ls opens (lowest free).
  UniqueFd high;
  {
    UniqueFd file(::open((dir.path() / "secret.db").c_str(), O_RDWR | O_CREAT, 0600));
    ASSERT_TRUE(file.valid());
    high.reset(::fcntl(file.get(), F_DUPFD, 50));
  }
  ASSERT_TRUE(high.valid());
  ASSERT_EQ(::fcntl(high.get(), F_GETFD) & FD_CLOEXEC, 0);

  auto pid = spawn_process({.argv = {"/bin/sh", "-c", "ls /proc/self/fd"}, .log_file = log});
  ASSERT_TRUE(pid) << pid.error().message;
  ASSERT_TRUE(wait_for_exit(*pid).has_value());

  std::istringstream lines(test::tail_of(log));
  std::set<int> fds;
  for (std::string line; std::getline(lines, line);) fds.insert(std::stoi(line));
  // 0, 1, 2 and the directory ls itself opened to list /proc/self/fd.
  EXPECT_TRUE(fds.count(0) && fds.count(1) && fds.count(2)) << test::tail_of(log);
  EXPECT_LE(fds.size(), 4u) << "the child sees: " << test::tail_of(log);
  EXPECT_EQ(fds.count(high.get()), 0u) << "fd " << high.get() << " leaked: " << test::tail_of(log);
}

TEST(Process, AnAllowListedEnvironmentKeepsOurSecretsFromTheChild) {
  test::TempDir dir("sg-process");
  const fs::path log = dir.path() / "child.log";
  ::setenv("SG_PROCESS_TEST_SECRET", "s3cret", 1);
  ::setenv("SG_PASSED_ONE", "a", 1);
  ::setenv("SG_PASSED_TWO", "b", 1);
  std::vector<std::string> pass = default_pass_env();
  pass.push_back("SG_PASSED_*");
  auto pid = spawn_process({.argv = {"sh", "-c",
                                     "echo [$SG_PROCESS_TEST_SECRET] $SG_PASSED_ONE$SG_PASSED_TWO "
                                     "$SG_GIVEN; test -n \"$PATH\" && echo path"},
                            .env = {{"SG_GIVEN", "given"}},
                            .pass_env = pass,
                            .log_file = log});
  ::unsetenv("SG_PROCESS_TEST_SECRET");
  ::unsetenv("SG_PASSED_ONE");
  ::unsetenv("SG_PASSED_TWO");
  ASSERT_TRUE(pid) << pid.error().message;
  ASSERT_TRUE(wait_for_exit(*pid).has_value());
  EXPECT_EQ(test::tail_of(log), "[] ab given\npath\n")
      << "not allow-listed: not inherited; a prefix pattern and explicit variables pass";
}

TEST(Process, TheLogFileIsCreatedPrivate) {
  test::TempDir dir("sg-process");
  const fs::path log = dir.path() / "child.log";
  auto pid = spawn_process({.argv = {"/bin/sh", "-c", "echo x"}, .log_file = log});
  ASSERT_TRUE(pid) << pid.error().message;
  ASSERT_TRUE(wait_for_exit(*pid).has_value());
  struct stat st {};
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << std::oct << (st.st_mode & 0777);
}

}  // namespace
}  // namespace sg
