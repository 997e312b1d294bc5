#include "platform/engine/synthetic_traffic.hpp"

#include <algorithm>

#include "common/http/blocking_client.hpp"

namespace sg::platform {
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

HttpSyntheticTraffic::HttpSyntheticTraffic(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  sample_.bounds = bounds_;
  sample_.counts.assign(bounds_.size() + 1, 0);
  worker_ = std::thread([this] { run(); });
}

HttpSyntheticTraffic::~HttpSyntheticTraffic() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void HttpSyntheticTraffic::set_plan(std::vector<std::string> endpoints, std::vector<std::string> paths,
                                double rps) {
  {
    std::lock_guard lock(mu_);
    endpoints_ = std::move(endpoints);
    paths_ = std::move(paths);
    rps_ = std::clamp(rps, 0.0, 1000.0);
  }
  cv_.notify_all();
}

void HttpSyntheticTraffic::reset() {
  std::lock_guard lock(mu_);
  rps_ = 0;
  endpoints_.clear();
  ++generation_;
  sample_.requests = 0;
  sample_.errors = 0;
  sample_.counts.assign(bounds_.size() + 1, 0);
}

control::TrafficSample HttpSyntheticTraffic::sample() const {
  std::lock_guard lock(mu_);
  return sample_;
}

void HttpSyntheticTraffic::run() {
  std::size_t turn = 0;
  auto next = Clock::now();
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (rps_ <= 0 || endpoints_.empty() || paths_.empty()) {
      cv_.wait_for(lock, 500ms);
      next = Clock::now();
      continue;
    }
    if (Clock::now() < next) {
      cv_.wait_until(lock, next);
      continue;  // the plan may have changed meanwhile
    }
    const std::string endpoint = endpoints_[turn % endpoints_.size()];
    const std::string path = paths_[(turn / endpoints_.size()) % paths_.size()];
    ++turn;
    next += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1 / rps_));
    // Never more than one second behind: a slow request does not cause a burst after it.
    next = std::max(next, Clock::now() - 1s);
    lock.unlock();
    send_one(endpoint, path);
    lock.lock();
  }
}

void HttpSyntheticTraffic::send_one(const std::string& endpoint, const std::string& path) {
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mu_);
    generation = generation_;
  }
  const auto start = Clock::now();
  const http::ClientReply reply = http::blocking_call(
      endpoint, {.target = path,
                 .headers = {{"User-Agent", "sgctl-synthetic"}, {"X-StreamGate-Synthetic", "1"}},
                 .timeout = 2000ms,
                 .body_limit = 1 << 20});
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::lock_guard lock(mu_);
  if (generation != generation_) return;
  ++sample_.requests;
  if (reply.status == 0 || reply.status >= 500) ++sample_.errors;
  std::size_t i = 0;
  while (i < bounds_.size() && seconds > bounds_[i]) ++i;
  ++sample_.counts[i];
}

}  // namespace sg::platform
