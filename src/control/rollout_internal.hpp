// Internal to sg_control: what both rollout machines share. Readiness with a stability
// period, evidence helpers, and reading and writing rollout state as a string map. Values are
// plain text (numbers in decimal, time points as Unix milliseconds, enums by their names) so
// the map can be stored anywhere (SQLite rows, JSON, a ConfigMap) and read by a human.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "common/result.hpp"
#include "control/rollout.hpp"

namespace sg::control::detail {

// Tracks "all desired replicas ready" without interruption: updates `ready_since` from one
// observation and returns true once it has held for `stability`.
bool held_ready(std::optional<TimePoint>& ready_since, int desired, int ready, TimePoint now,
                std::chrono::seconds stability);

// "2 of 3 replicas ready".
std::string replicas_text(int ready, int desired);

// Whole seconds of a duration, for reasons ("after 300 s").
long long seconds(std::chrono::system_clock::duration d);

// The state maps' format; older maps (steady-clock times, no version) are refused.
inline constexpr const char* kStateVersion = "2";

// Adds "synthetic_requests" (and "organic_requests") to a verdict on `sample`, and says in
// its reason how many of the requests were synthetic.
void add_synthetic_evidence(Verdict& v, const TrafficSample& sample,
                            const TrafficSample& synthetic);
// Appends the health verdict's numbers and details to `v`.
void add_health_evidence(Verdict& v, const Verdict& health);

// What every decision reports from its machine's state: phase, result, finished, reason,
// evidence and the time since the rollout started.
template <class Decision, class State>
Decision state_decision(const State& s, TimePoint now, std::string reason,
                        const Verdict& evidence) {
  Decision d;
  d.phase = s.phase;
  d.result = s.result;
  d.finished = s.result != RolloutResult::kInProgress;
  d.reason = std::move(reason);
  d.evidence = evidence;
  d.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - s.started);
  return d;
}

// Ends the rollout in `s`: records result and reason and enters the terminal phase for the
// result (`done` for kPromoted, `rolled_back`, else `failed`).
template <class State, class Phase>
void end_rollout(State& s, TimePoint now, RolloutResult result, const std::string& reason,
                 Phase done, Phase rolled_back, Phase failed) {
  s.result = result;
  s.reason = reason;
  s.phase = result == RolloutResult::kPromoted     ? done
            : result == RolloutResult::kRolledBack ? rolled_back
                                                   : failed;
  s.phase_started = now;
}

std::string encode_time(TimePoint t);
std::string encode_time(const std::optional<TimePoint>& t);  // "" when absent

// Reads typed values; the first problem is kept and reported by error(), later reads return
// defaults, so a caller reads every field and checks once.
class StateReader {
 public:
  StateReader(const StateMap& map, const char* what) : map_(map), what_(what) {}

  std::string text(const char* key);
  long long integer(const char* key, long long min, long long max);
  TimePoint time(const char* key);
  std::optional<TimePoint> optional_time(const char* key);
  // Fails unless the map's "version" is kStateVersion.
  void check_version();
  // An enum stored by name; `last` is its last enumerator, `name` its naming function.
  template <class E>
  E enumerated(const char* key, E last, const char* (*name)(E)) {
    const std::string value = text(key);
    for (int i = 0; i <= static_cast<int>(last); ++i) {
      if (value == name(static_cast<E>(i))) return static_cast<E>(i);
    }
    fail(key, "unknown value '" + value + "'");
    return E{};
  }

  const std::optional<Error>& error() const { return error_; }

 private:
  void fail(const char* key, const std::string& problem);

  const StateMap& map_;
  const char* what_;
  std::optional<Error> error_;
};

}  // namespace sg::control::detail
