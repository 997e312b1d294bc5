// RolloutRunner: the rollout in progress, as the engine runs it. It owns the state machine
// (src/control: blue-green or canary), the queue of actions not yet carried out, the
// deployment record with its journal and evidence, and the rollout's traffic baseline; it
// persists all of it through the StateStore so a restarted control plane resumes. It decides
// nothing itself (the machine does) and touches no backend (the engine carries actions out).
//
// Contract with the engine (one thread; the engine's mutex held):
//   step(look, now)     one look: the machine's decision, journaled (when it changed
//                       something), its actions appended to pending()
//   rollback/promote/abort(now)  an operator's command; kConflict when the machine ignores it
//   pending()           actions to carry out, in order; the engine pops them when done
//   persist()           after the pending actions are carried out
//   finish(...)         records the result (once); the runner is then discarded
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/result.hpp"
#include "control/rollout.hpp"
#include "control/rollout_options.hpp"
#include "platform/model.hpp"
#include "platform/store/state_store.hpp"
#include "platform/track_traffic.hpp"

namespace sg::platform {

// One track's replicas of a release, as the engine saw them at one look.
struct TrackLook {
  int desired = 0;
  int ready = 0;
  control::ReplicaHealth health;
};

// What the engine observed for the rollout at one tick.
struct RolloutLook {
  TrackLook fresh;                           // the new colour, or the canary
  TrackLook promotion;                       // canary: the idle colour becoming the new stable
  std::optional<std::string> smoke_version;  // asked only while the machine smoke-tests
  control::TrafficSample organic;            // the new version's traffic since the baseline
  std::optional<control::TrafficSample> stable;  // canary: stable's, same window
  control::TrafficSample synthetic;              // the engine's synthetic requests to it
  double organic_rps = 0;
};

class RolloutRunner {
 public:
  using EventFn = std::function<void(const std::string& kind, const std::string& message)>;

  // A new rollout of options.release, replacing `from_release` on the `active` colour which
  // runs `stable_replicas`; inserts the deployment record.
  static Result<std::unique_ptr<RolloutRunner>> start(StateStore& store,
                                                      const control::RolloutOptions& options,
                                                      const std::string& from_release,
                                                      control::Colour active, int stable_replicas,
                                                      TrackTraffic baseline, EventFn events);
  // The deployment left in progress by an earlier control plane. An error (never an
  // exception) says why it cannot resume; the caller then rolls back to be safe.
  static Result<std::unique_ptr<RolloutRunner>> resume(StateStore& store,
                                                      const DeploymentRecord& record,
                                                      EventFn events);

  void step(const RolloutLook& look, control::TimePoint now);
  Status rollback(control::TimePoint now);
  Status promote(control::TimePoint now);
  Status abort(control::TimePoint now);

  std::deque<control::Action>& pending() { return pending_; }
  bool finished() const { return finished_; }
  control::RolloutResult result() const { return result_; }
  const std::string& final_reason() const { return final_reason_; }
  void persist();
  // Ends the rollout with `result` and `reason` (overriding the machine's when it did not
  // finish itself) and writes the final record.
  void finish(control::RolloutResult result, const std::string& reason);

  // Which tracks the engine observes for this rollout.
  std::string fresh_track() const;              // "green" / "blue" / "canary"
  std::optional<std::string> promotion_track() const;  // canary, while promoting
  bool wants_smoke_version() const;
  bool is_canary() const { return canary_.has_value(); }
  // Blue-green verified (the new colour serves all traffic; the old one is kept warm).
  bool serving_new() const;
  double synthetic_rps() const { return synthetic_rps_; }

  const control::RolloutOptions& options() const { return options_; }
  const DeploymentRecord& record() const { return record_; }
  const TrackTraffic& baseline() const { return baseline_; }
  void reset_baseline(const std::string& why);
  RolloutView view(std::uint64_t synthetic_requests) const;
  std::vector<JournalEntry> journal() const { return journal_; }

 private:
  RolloutRunner(StateStore& store, control::RolloutOptions options, EventFn events)
      : store_(store), options_(std::move(options)), events_(std::move(events)) {}
  void journal(const std::string& phase, const std::string& reason,
               const std::vector<control::Action>& actions, const control::Verdict& verdict);
  template <class Decision>
  void take(const Decision& d, const std::string& phase, std::size_t step, bool journal_always);
  template <class Decision>
  Status manual(const Decision& d);
  void heartbeat(control::TimePoint now);
  void credit_undriven_time(control::TimePoint now);

  StateStore& store_;
  control::RolloutOptions options_;
  EventFn events_;
  DeploymentRecord record_;
  std::optional<control::BlueGreenRollout> blue_green_;
  std::optional<control::CanaryRollout> canary_;
  std::deque<control::Action> pending_;
  TrackTraffic baseline_;
  // Setting rollout_driven_at ("ID:UNIX_MS"), written every 5 s while a control plane drives
  // the rollout; on resume, the time since it is time nobody drove (pause_clock).
  control::TimePoint heartbeat_at_{};
  std::vector<JournalEntry> journal_;
  bool finished_ = false;
  bool recorded_ = false;
  control::RolloutResult result_ = control::RolloutResult::kInProgress;
  std::string final_reason_;
  // The latest decision, for status.
  std::string phase_ = "starting";
  std::string reason_;
  control::Verdict verdict_;
  std::size_t step_index_ = 0;
  int canary_weight_ = 0;
  double elapsed_s_ = 0;
  double step_elapsed_s_ = 0;
  double synthetic_rps_ = 0;
  std::string persisted_key_;
};

// The machine configurations for a rollout's options (one place; see rollout_options.hpp).
control::BlueGreenConfig blue_green_config(const control::RolloutOptions& options);
control::CanaryConfig canary_config(const control::RolloutOptions& options);

}  // namespace sg::platform
