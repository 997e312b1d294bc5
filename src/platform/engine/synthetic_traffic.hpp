// SyntheticTraffic: the engine's verification without users. It sends GETs to the endpoints
// and paths it is given, at the rate it is given (0: none), round-robin over both, and counts
// what it measured as a TrafficSample (requests, 5xx and failed exchanges as errors, a
// latency histogram with the gateway's bounds), cumulative until reset(). The rollout's
// budget is enforced by its plan (control/synthetic.hpp). An interface so engine tests run
// it on simulated time against a fake backend.
//
// HttpSyntheticTraffic sends real requests from a worker thread: every one carries
// "User-Agent: sgctl-synthetic" and "X-StreamGate-Synthetic: 1"; at most the planned rate
// (<= 1000/s), one request in flight at a time, each with a 2 s deadline.
//
// Thread-safety: every public method may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "control/analysis_types.hpp"

namespace sg::platform {

class SyntheticTraffic {
 public:
  virtual ~SyntheticTraffic() = default;
  // What to send from now on (rps <= 0 or no endpoint: nothing).
  virtual void set_plan(std::vector<std::string> endpoints, std::vector<std::string> paths,
                        double rps) = 0;
  // Forgets the counts (a new rollout) and stops sending.
  virtual void reset() = 0;
  virtual control::TrafficSample sample() const = 0;
};

class HttpSyntheticTraffic final : public SyntheticTraffic {
 public:
  explicit HttpSyntheticTraffic(std::vector<double> bounds);
  ~HttpSyntheticTraffic() override;  // stops and joins the worker
  HttpSyntheticTraffic(const HttpSyntheticTraffic&) = delete;
  HttpSyntheticTraffic& operator=(const HttpSyntheticTraffic&) = delete;

  void set_plan(std::vector<std::string> endpoints, std::vector<std::string> paths,
                double rps) override;
  void reset() override;
  control::TrafficSample sample() const override;

 private:
  void run();
  void send_one(const std::string& endpoint, const std::string& path);

  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> endpoints_;
  std::vector<std::string> paths_;
  double rps_ = 0;
  std::uint64_t generation_ = 0;  // bumped by reset(): a request in flight then is not counted
  control::TrafficSample sample_;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace sg::platform
