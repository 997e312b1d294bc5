#include "control/session_drain.hpp"

#include <gtest/gtest.h>

#include "control/replica_targets.hpp"

namespace sg::control {
namespace {

using std::chrono::seconds;
using Outcome = SessionDrainDecision::Outcome;

const SessionDrainPolicy kPolicy{.idle = seconds(30), .max = seconds(300)};
const TrackTarget kStopped{"v1", 0};

TrackSessions watching(std::size_t sessions, std::size_t active, double idle_s) {
  return {sessions, active, std::chrono::duration<double>(idle_s)};
}

TEST(SessionDrain, TrackWithoutSessionsStopsAtOnce) {
  const auto d = decide_session_drain(kPolicy, kStopped, TrackSessions{}, seconds(0));
  EXPECT_TRUE(d.stop());
  EXPECT_EQ(d.reason, "no sessions");
}

TEST(SessionDrain, WaitsWhileASessionRequestedWithinTheIdleTime) {
  const auto d = decide_session_drain(kPolicy, kStopped, watching(4, 3, 2.0), seconds(10));
  EXPECT_EQ(d.outcome, Outcome::kWait);
  EXPECT_EQ(d.waiting_for, 3u);
  EXPECT_EQ(d.reason, "waiting for 3 sessions");
}

TEST(SessionDrain, StopsOnceEverySessionWasIdleForTheIdleTime) {
  EXPECT_EQ(decide_session_drain(kPolicy, kStopped, watching(4, 1, 29.9), seconds(60)).outcome,
            Outcome::kWait);
  const auto d = decide_session_drain(kPolicy, kStopped, watching(4, 0, 30.0), seconds(60));
  EXPECT_TRUE(d.stop());
  EXPECT_EQ(d.reason.rfind("sessions idle", 0), 0u) << d.reason;
}

TEST(SessionDrain, TheDrainLimitBoundsTheWaitEvenWithActiveViewers) {
  EXPECT_EQ(decide_session_drain(kPolicy, kStopped, watching(9, 9, 0.5), seconds(299)).outcome,
            Outcome::kWait);
  const auto d = decide_session_drain(kPolicy, kStopped, watching(9, 9, 0.5), seconds(300));
  EXPECT_TRUE(d.stop());
  EXPECT_EQ(d.reason, "drain limit reached (300 s); 9 sessions still active");
}

TEST(SessionDrain, UnknownActivityWaitsButOnlyUpToTheLimit) {
  EXPECT_EQ(decide_session_drain(kPolicy, kStopped, std::nullopt, seconds(5)).outcome,
            Outcome::kWait);
  EXPECT_TRUE(decide_session_drain(kPolicy, kStopped, std::nullopt, seconds(300)).stop());
}

TEST(SessionDrain, RejectedReleaseMovesItsSessionsAtOnce) {
  TrackTarget rejected = kStopped;
  rejected.move_sessions = true;
  const auto d = decide_session_drain(kPolicy, rejected, watching(5, 5, 0.1), seconds(0));
  EXPECT_TRUE(d.stop());
  EXPECT_EQ(d.reason, "sessions moved at once (rolled-back or failed release)");
}

TEST(SessionDrain, TrackThatServesAgainDoesNotWait) {
  // Only some replicas go (autoscaler), or a new release claimed the track: sessions are
  // pinned to the track, not to a replica, so waiting keeps no viewer where it was.
  const auto d = decide_session_drain(kPolicy, {"v3", 2}, watching(5, 5, 0.1), seconds(0));
  EXPECT_TRUE(d.stop());
  EXPECT_EQ(d.reason, "track serves");
}

TEST(SessionDrain, MaxZeroTurnsItOff) {
  const SessionDrainPolicy off{.idle = seconds(30), .max = seconds(0)};
  EXPECT_TRUE(decide_session_drain(off, kStopped, watching(5, 5, 0.1), seconds(0)).stop());
}

TEST(SessionDrain, ValidateNamesTheFlagAndRange) {
  EXPECT_EQ(validate(kPolicy), "");
  EXPECT_EQ(validate({.idle = seconds(0), .max = seconds(300)}),
            "--session-drain-idle must be 1..600 seconds, got 0");
  EXPECT_EQ(validate({.idle = seconds(601), .max = seconds(900)}),
            "--session-drain-idle must be 1..600 seconds, got 601");
  EXPECT_EQ(validate({.idle = seconds(30), .max = seconds(-1)}),
            "--session-drain-max must be 0 (off)..86400 seconds, got -1");
  EXPECT_EQ(validate({.idle = seconds(30), .max = seconds(86401)}),
            "--session-drain-max must be 0 (off)..86400 seconds, got 86401");
  EXPECT_EQ(validate({.idle = seconds(60), .max = seconds(30)}),
            "--session-drain-idle (60 s) must not exceed --session-drain-max (30 s)");
  EXPECT_EQ(validate({.idle = seconds(60), .max = seconds(0)}), "") << "off: idle unused";
}

// The flag travels with the stopped track's target and is cleared when it serves again.
TEST(SessionDrain, ReplicaTargetsCarryMoveSessionsUntilTheTrackServesAgain) {
  ReplicaTargets t({.stable_track = "blue", .stable_release = "v1", .operator_replicas = 2});
  t.claim("green", {{"v2", 2}, true}, "deploy");
  EXPECT_FALSE(t.effective("green").move_sessions);
  t.move_sessions_on_stop("green");
  EXPECT_FALSE(t.effective("green").move_sessions) << "still serving: nothing moves yet";
  t.release("green", "rolled back");
  EXPECT_EQ(t.effective("green"), (TrackTarget{"v2", 0, true}));
  EXPECT_TRUE(t.effective_all().at("green").move_sessions);
  // A later rollout claims green again: drained session-aware next time.
  t.claim("green", {{"v3", 2}, true}, "deploy");
  t.release("green", "promoted elsewhere");
  EXPECT_FALSE(t.effective("green").move_sessions);
  // An unmarked stop (the old colour after a promotion) waits for its viewers.
  t.claim("canary", {{"v4", 1}, true}, "deploy");
  t.release("canary", "promoted");
  EXPECT_FALSE(t.effective("canary").move_sessions);
}

}  // namespace
}  // namespace sg::control
