// An Engine over a FakeBackend on a simulated clock: whole rollouts in milliseconds, no
// processes. The state store is a real SQLite file in a temp dir, so resume tests reopen it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/clock.hpp"
#include "fake_backend.hpp"
#include "platform/engine/engine.hpp"
#include "platform/store/state_store.hpp"
#include "platform/store/views.hpp"
#include "support/services.hpp"

namespace sg::platform::test {

using namespace std::chrono_literals;

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() : clock_(std::chrono::system_clock::time_point(std::chrono::hours(497000))) {
    backend_.releases["v1"] = {};
    backend_.releases["v2"] = {};
    auto store = StateStore::open(dir_.path());
    EXPECT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
  }

  // A new engine on the same store and backend (a restarted control plane).
  void start_engine() {
    engine_.reset();
    auto synthetic = std::make_unique<FakeSyntheticTraffic>(backend_, clock_);
    synthetic_ = synthetic.get();
    EngineOptions o;
    o.state_dir = dir_.path().string();
    o.initial_release = "v1";
    o.initial_replicas = 2;
    o.echo_events = false;
    o.check_release = [this](const std::string& r) -> Status {
      if (backend_.releases.count(r) != 0) return Status::ok();
      return make_error(ErrorCode::kNotFound, "release '" + r + "' is not in the catalog");
    };
    engine_ = std::make_unique<Engine>(o, backend_, *store_, clock_, std::move(synthetic));
    Status st = engine_->start();
    ASSERT_TRUE(st) << st.error().message;
  }

  // Starts the engine and ticks until v1 serves.
  void start_serving_v1() {
    ASSERT_NO_FATAL_FAILURE(start_engine());
    ASSERT_TRUE(run_until([&] { return backend_.applied_weights.count("blue") != 0; }, 30s));
  }

  void tick() {
    clock_.advance(500ms);
    engine_->tick();
  }

  // Ticks until `done` (checked after each tick) or `limit` of simulated time.
  bool run_until(const std::function<bool()>& done, std::chrono::seconds limit = 3600s) {
    const auto end = clock_.steady() + limit;
    while (clock_.steady() < end) {
      tick();
      if (done()) return true;
    }
    return false;
  }

  // Ticks until no rollout is in progress; returns the last deployment's view.
  DeploymentView finish_rollout(std::chrono::seconds limit = 3600s) {
    EXPECT_TRUE(run_until([&] { return !engine_->status().rollout.has_value(); }, limit))
        << "rollout still in progress: " << engine_->status().rollout->reason;
    return last_deployment();
  }

  DeploymentView last_deployment() {
    auto d = store_->deployments(1);
    EXPECT_TRUE(d && !d->empty());
    return deployment_view(d->front());
  }

  bool in_phase(const std::string& phase) {
    auto st = engine_->status();
    return st.rollout && st.rollout->phase == phase;
  }

  control::RolloutOptions options(control::Strategy strategy, const std::string& release) {
    control::RolloutOptions o;
    o.strategy = strategy;
    o.release = release;
    o.ready_stability_s = 2;
    o.verify_s = 10;
    o.scale_down_delay_s = 5;
    o.step_interval_s = 5;
    o.timeout_s = 60;
    return o;
  }

  double number(const DeploymentView& d, const std::string& key) {
    if (!d.evidence) return -1;
    for (const auto& [k, v] : d.evidence->numbers) {
      if (k == key) return v;
    }
    return -1;
  }

  std::string detail(const DeploymentView& d, const std::string& key) {
    if (!d.evidence) return {};
    for (const auto& [k, v] : d.evidence->details) {
      if (k == key) return v;
    }
    return {};
  }

  sg::test::TempDir dir_{"sg-engine"};
  ManualClock clock_;
  FakeBackend backend_{clock_};
  std::unique_ptr<StateStore> store_;
  FakeSyntheticTraffic* synthetic_ = nullptr;
  std::unique_ptr<Engine> engine_;
};

}  // namespace sg::platform::test
