#include "platform/local/replica_set.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/process.hpp"
#include "support/services.hpp"

namespace sg::platform {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

ReleaseSpec shell_release(const std::string& name, const std::string& script) {
  return {name, "/bin/sh", {"-c", script}, {}};
}

// Replicas of /bin/sh releases that never listen, so /ready is always refused at once; the
// control loop's clock is injected (`now`), only the children's exits take real time.
class ReplicaSetTest : public ::testing::Test {
 protected:
  ReplicaSetTest() {
    fs::create_directories(dir_.path() / "logs");
    releases_["crash"] = shell_release("crash", "exit 7");
    releases_["mute"] = shell_release("mute", "exec sleep 30");
    releases_["mute2"] = shell_release("mute2", "exec sleep 30");
    releases_["stubborn"] = shell_release("stubborn", "trap '' TERM; echo armed; exec sleep 30");
  }

  void TearDown() override {
    if (set_ == nullptr) return;
    for (const auto& r : set_->replicas()) {
      if (r.pid > 0) {
        ::kill(r.pid, SIGKILL);
        int status = 0;
        ::waitpid(r.pid, &status, 0);
      }
    }
  }

  ReplicaSet& make_set(ReplicaSetOptions options = {}) {
    options.log_dir = dir_.path() / "logs";
    set_ = std::make_unique<ReplicaSet>(
        std::move(options),
        [this](const std::string& name) -> Result<ReleaseSpec> {
          auto it = releases_.find(name);
          if (it == releases_.end()) {
            return make_error(ErrorCode::kNotFound, "release " + name + " is not in the catalog");
          }
          return it->second;
        },
        [this](const std::string& kind, const std::string& message) {
          events_.emplace_back(kind, message);
        });
    return *set_;
  }

  // Ticks at `now` (real time passes, the injected clock does not) until `done`, at most 3 s.
  bool tick_until(Clock::time_point now, const std::function<bool()>& done) {
    const auto limit = Clock::now() + 3s;
    while (Clock::now() < limit) {
      set_->tick(now, nullptr);
      if (done()) return true;
      std::this_thread::sleep_for(2ms);
    }
    return false;
  }

  // Waits, at most 3 s, until `pid` has exited (a zombie, not yet reaped). The tests tick
  // only then: a child that exits between ReplicaSet::alive()'s waitpid and its /proc read
  // is reported as "exited" without its status and is never reaped.
  static bool wait_exited(pid_t pid) {
    const auto limit = Clock::now() + 3s;
    while (process_start_ticks(pid).has_value()) {
      if (Clock::now() >= limit) return false;
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }

  const Replica& only() const {
    EXPECT_EQ(set_->replicas().size(), 1u);
    return set_->replicas().front();
  }

  std::vector<std::string> event_kinds() const {
    std::vector<std::string> out;
    for (const auto& [kind, message] : events_) out.push_back(kind);
    return out;
  }

  std::string last_event(const std::string& kind) const {
    for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
      if (it->first == kind) return it->second;
    }
    return {};
  }

  test::TempDir dir_{"sg-replica-set"};
  std::map<std::string, ReleaseSpec> releases_;
  std::vector<std::pair<std::string, std::string>> events_;
  std::unique_ptr<ReplicaSet> set_;
};

TEST_F(ReplicaSetTest, CrashingReplicaRestartsWithDoublingBackoffUpToTheCap) {
  ReplicaSet& set = make_set({.log_dir = {},
                              .common_env = {},
                              .probe_timeout = 200ms,
                              .drain_timeout = 30s,
                              .grace_period = 30s,
                              .initial_backoff = 10s,
                              .max_backoff = 30s,
                              .backoff_reset_after = 600s});
  set.set_target("blue", {"crash", 1});
  Clock::time_point now = Clock::now();
  set.tick(now, nullptr);
  ASSERT_EQ(set.replicas().size(), 1u);
  EXPECT_EQ(only().phase, ReplicaPhase::kStarting);
  EXPECT_EQ(only().log_file, dir_.path() / "logs" / "blue-crash-1.log");

  std::vector<std::int64_t> backoffs;
  for (int crash = 0; crash < 4; ++crash) {
    ASSERT_TRUE(wait_exited(only().pid)) << "crash " << crash;
    set.tick(now, nullptr);
    ASSERT_EQ(only().phase, ReplicaPhase::kBackoff)
        << "crash " << crash << ": phase " << replica_phase_name(only().phase);
    EXPECT_EQ(only().last_exit, "exit 7");
    EXPECT_EQ(only().pid, -1);
    EXPECT_EQ(only().restarts, crash + 1) << "counted at the exit";
    backoffs.push_back(only().backoff.count());
    EXPECT_EQ(only().restart_at, now + only().backoff);
    EXPECT_NE(last_event("replica_exited").find("exit 7"), std::string::npos)
        << last_event("replica_exited");

    // Not a moment before the back-off ends.
    set.tick(now + only().backoff - 1s, nullptr);
    EXPECT_EQ(only().phase, ReplicaPhase::kBackoff);
    now += only().backoff;
    set.tick(now, nullptr);
    EXPECT_EQ(only().phase, ReplicaPhase::kStarting);
    EXPECT_EQ(only().restarts, crash + 1);
    EXPECT_GT(only().pid, 0);
  }
  EXPECT_EQ(backoffs, (std::vector<std::int64_t>{10, 20, 30, 30}));
  EXPECT_NE(last_event("replica_started").find("(restart 4)"), std::string::npos)
      << last_event("replica_started");
  EXPECT_NE(last_event("replica_exited").find("restarting in 30 s"), std::string::npos)
      << last_event("replica_exited");
}

TEST_F(ReplicaSetTest, BackoffResetsAfterARunOfTenMinutes) {
  ReplicaSet& set = make_set();
  set.set_target("blue", {"crash", 1});
  Clock::time_point now = Clock::now();
  set.tick(now, nullptr);
  for (const auto expected : {10s, 20s}) {
    ASSERT_TRUE(wait_exited(only().pid));
    set.tick(now, nullptr);
    ASSERT_EQ(only().phase, ReplicaPhase::kBackoff);
    EXPECT_EQ(only().backoff, expected);
    now += only().backoff;
    set.tick(now, nullptr);  // restart
    ASSERT_EQ(only().phase, ReplicaPhase::kStarting);
  }
  // The last restart "runs" for ten minutes before its exit is noticed.
  now += 600s;
  ASSERT_TRUE(wait_exited(only().pid));
  set.tick(now, nullptr);
  ASSERT_EQ(only().phase, ReplicaPhase::kBackoff);
  EXPECT_EQ(only().backoff, 10s) << "a long run starts the back-off over";
  EXPECT_EQ(only().restarts, 3);
}

TEST_F(ReplicaSetTest, ReplicaThatNeverListensStaysStartingAndIsNotOffered) {
  ReplicaSet& set = make_set();
  set.set_target("canary", {"mute", 2});
  const Clock::time_point now = Clock::now();
  set.tick(now, nullptr);
  ASSERT_EQ(set.replicas().size(), 2u);
  EXPECT_TRUE(set.take_dirty());
  EXPECT_FALSE(set.take_dirty());
  for (int i = 1; i <= 3; ++i) set.tick(now + std::chrono::seconds(i), nullptr);

  for (const auto& r : set.replicas()) {
    EXPECT_EQ(r.phase, ReplicaPhase::kStarting) << replica_phase_name(r.phase);
    EXPECT_GT(r.port, 0);
    EXPECT_EQ(r.restarts, 0);
  }
  EXPECT_EQ(set.ready_count("canary", "mute"), 0);
  EXPECT_TRUE(set.gateway_endpoints("canary").empty());

  // What a restarted control plane needs to adopt them.
  const auto records = set.records();
  ASSERT_EQ(records.size(), 2u);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Replica& r = set.replicas()[i];
    EXPECT_EQ(records[i].track, "canary");
    EXPECT_EQ(records[i].release, "mute");
    EXPECT_EQ(records[i].pid, r.pid);
    EXPECT_EQ(records[i].port, r.port);
    EXPECT_EQ(records[i].start_ticks, process_start_ticks(r.pid).value_or(0));
    EXPECT_TRUE(same_process_alive(r.pid, records[i].start_ticks));
  }
  const auto kinds = event_kinds();
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "replica_started"), 2);
}

TEST_F(ReplicaSetTest, EverySpawnIsRecordedBeforeAnythingWaits) {
  // What record_now saw, and whether the process was still unprobed (starting) then.
  std::vector<std::vector<ReplicaRecord>> seen;
  ReplicaSetOptions options;
  options.record_now = [&seen](const std::vector<ReplicaRecord>& records) {
    seen.push_back(records);
  };
  ReplicaSet& set = make_set(std::move(options));
  set.set_target("blue", {"mute", 2});
  set.tick(Clock::now(), nullptr);
  ASSERT_EQ(set.replicas().size(), 2u);
  ASSERT_EQ(seen.size(), 2u) << "one record per spawn, written at the spawn";
  EXPECT_EQ(seen[0].size(), 1u) << "the first replica was recorded before the second started";
  EXPECT_EQ(seen[0][0].pid, set.replicas()[0].pid);
  ASSERT_EQ(seen[1].size(), 2u);
  EXPECT_EQ(seen[1][1].pid, set.replicas()[1].pid);
  EXPECT_TRUE(same_process_alive(seen[1][1].pid, seen[1][1].start_ticks));
}

TEST_F(ReplicaSetTest, ScaleToZeroWithoutGatewayTerminatesAndRemoves) {
  ReplicaSet& set = make_set();
  set.set_target("blue", {"mute", 1});
  const Clock::time_point now = Clock::now();
  set.tick(now, nullptr);
  ASSERT_EQ(set.replicas().size(), 1u);
  const pid_t pid = only().pid;

  set.set_target("blue", {"mute", 0});
  set.tick(now + 1s, nullptr);
  EXPECT_EQ(only().phase, ReplicaPhase::kDraining);
  EXPECT_NE(last_event("replica_draining"), "");
  set.tick(now + 1s, nullptr);  // no gateway: nothing to wait for, SIGTERM now
  EXPECT_EQ(only().phase, ReplicaPhase::kTerminating);

  ASSERT_TRUE(wait_exited(pid)) << "pid " << pid << " ignored SIGTERM";
  set.tick(now + 2s, nullptr);
  ASSERT_TRUE(set.replicas().empty()) << "replica pid " << pid << " not removed";
  EXPECT_NE(last_event("replica_stopped").find("signal 15 (Terminated)"), std::string::npos)
      << last_event("replica_stopped");
  EXPECT_FALSE(process_start_ticks(pid).has_value()) << "reaped, not a zombie";
  EXPECT_TRUE(set.records().empty());
}

TEST_F(ReplicaSetTest, ReplicaIgnoringSigtermIsKilledAfterTheGracePeriod) {
  ReplicaSet& set = make_set({.log_dir = {},
                              .common_env = {},
                              .probe_timeout = 200ms,
                              .drain_timeout = 30s,
                              .grace_period = 5s,
                              .initial_backoff = 10s,
                              .max_backoff = 300s,
                              .backoff_reset_after = 600s});
  set.set_target("blue", {"stubborn", 1});
  const Clock::time_point t0 = Clock::now();
  set.tick(t0, nullptr);
  ASSERT_EQ(set.replicas().size(), 1u);
  const pid_t pid = only().pid;
  const fs::path log = only().log_file;
  ASSERT_TRUE(tick_until(t0, [&] { return test::tail_of(log) == "armed\n"; }))
      << "log: " << test::tail_of(log);

  set.set_target("blue", {"stubborn", 0});
  set.tick(t0, nullptr);  // drain
  set.tick(t0, nullptr);  // SIGTERM, which it ignores
  ASSERT_EQ(only().phase, ReplicaPhase::kTerminating);
  std::this_thread::sleep_for(20ms);
  set.tick(t0 + 4s, nullptr);
  ASSERT_EQ(set.replicas().size(), 1u) << "removed before the grace period ended";
  EXPECT_EQ(only().phase, ReplicaPhase::kTerminating);
  EXPECT_EQ(only().pid, pid);

  set.tick(t0 + 5s, nullptr);  // SIGKILL
  ASSERT_TRUE(wait_exited(pid)) << "pid " << pid << " survived SIGKILL";
  set.tick(t0 + 5s, nullptr);
  ASSERT_TRUE(set.replicas().empty());
  EXPECT_NE(last_event("replica_stopped").find("signal 9 (Killed)"), std::string::npos)
      << last_event("replica_stopped");
}

TEST_F(ReplicaSetTest, NewReleaseOnATrackReplacesTheOldReplica) {
  ReplicaSet& set = make_set();
  set.set_target("green", {"mute", 1});
  const Clock::time_point now = Clock::now();
  set.tick(now, nullptr);
  set.set_target("green", {"mute2", 1});
  set.tick(now + 1s, nullptr);
  ASSERT_EQ(set.replicas().size(), 2u);
  EXPECT_EQ(set.replicas()[0].release, "mute");
  EXPECT_EQ(set.replicas()[0].phase, ReplicaPhase::kDraining);
  EXPECT_EQ(set.replicas()[1].release, "mute2");
  EXPECT_EQ(set.replicas()[1].phase, ReplicaPhase::kStarting);

  const pid_t old_pid = set.replicas()[0].pid;
  set.tick(now + 1s, nullptr);  // no gateway to drain in: SIGTERM
  ASSERT_TRUE(wait_exited(old_pid));
  set.tick(now + 2s, nullptr);
  ASSERT_EQ(set.replicas().size(), 1u);
  EXPECT_EQ(only().release, "mute2");
  EXPECT_EQ(only().log_file, dir_.path() / "logs" / "green-mute2-2.log");
}

TEST_F(ReplicaSetTest, UnknownReleaseBacksOffWithTheReason) {
  ReplicaSet& set = make_set();
  set.set_target("blue", {"v404", 1});
  const Clock::time_point now = Clock::now();
  set.tick(now, nullptr);
  ASSERT_EQ(set.replicas().size(), 1u);
  EXPECT_EQ(only().phase, ReplicaPhase::kBackoff);
  EXPECT_EQ(only().backoff, 10s);
  EXPECT_NE(only().last_exit.find("v404 is not in the catalog"), std::string::npos)
      << only().last_exit;
  EXPECT_NE(last_event("replica_failed").find("could not start"), std::string::npos)
      << last_event("replica_failed");
  EXPECT_TRUE(set.records().empty()) << "nothing runs, nothing to adopt";
  EXPECT_EQ(only().restarts, 1) << "a failed start counts like a crash";

  set.tick(now + 10s, nullptr);
  EXPECT_EQ(only().phase, ReplicaPhase::kBackoff);
  EXPECT_EQ(only().restarts, 2);
  EXPECT_EQ(only().backoff, 20s);
  EXPECT_NE(last_event("replica_failed").find("could not restart"), std::string::npos)
      << last_event("replica_failed");
}

TEST_F(ReplicaSetTest, AdoptsOnlyRecordedReplicasThatAreStillTheSameProcess) {
  auto pid = spawn_process({.argv = {"/bin/sh", "-c", "exec sleep 30"}});
  ASSERT_TRUE(pid) << pid.error().message;
  const auto ticks = process_start_ticks(*pid);
  ASSERT_TRUE(ticks.has_value());

  auto port = pick_free_port();  // nothing listens there: the adopted replica stays starting
  ASSERT_TRUE(port) << port.error().message;

  ReplicaSet& set = make_set();
  const std::vector<ReplicaRecord> records{
      {"blue", "mute", *port, *pid, *ticks, "/tmp/blue.log", 2, 0, ""},
      {"blue", "mute", *port, *pid, *ticks + 1, "/tmp/reused-pid.log", 0, 0, ""}};
  EXPECT_EQ(set.adopt(records, Clock::now()), 1);
  ASSERT_EQ(set.replicas().size(), 1u);
  EXPECT_TRUE(only().adopted);
  EXPECT_EQ(only().pid, *pid);
  EXPECT_EQ(only().port, *port);
  EXPECT_EQ(only().restarts, 2);
  EXPECT_NE(last_event("replica_lost").find("pid " + std::to_string(*pid)), std::string::npos)
      << last_event("replica_lost");

  // It keeps running under the new control plane; when it dies, the restart is ours.
  set.set_target("blue", {"mute", 1});
  const Clock::time_point now = Clock::now();
  set.tick(now, nullptr);
  EXPECT_EQ(only().phase, ReplicaPhase::kStarting);
  EXPECT_EQ(only().pid, *pid);
  ::kill(*pid, SIGKILL);
  ASSERT_TRUE(tick_until(now, [&] { return only().phase == ReplicaPhase::kBackoff; }));
  EXPECT_EQ(only().last_exit, "exited");
  int status = 0;
  EXPECT_EQ(::waitpid(*pid, &status, 0), *pid);
}

TEST(ReplicaSet, PickFreePortGivesALoopbackPort) {
  auto port = pick_free_port();
  ASSERT_TRUE(port) << port.error().message;
  EXPECT_GT(*port, 0);
}

}  // namespace
}  // namespace sg::platform
