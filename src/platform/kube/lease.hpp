// LeaderLease: one active `sgctl controller` per namespace through a coordination.k8s.io/v1
// Lease (default streamgate-controller), as client-go's leader election does it: the holder
// renews spec.renewTime every duration/3; a candidate takes the Lease over only when its
// resourceVersion has not changed for a whole lease duration by the candidate's own clock
// (no trust in clocks across machines), or when the holder released it (empty
// holderIdentity). Every write carries the resourceVersion read, so of two candidates one
// wins and the other gets 409 Conflict. holding() turns false once 2/3 of the duration passed
// since the last successful renewal, whatever a renewal in flight does (each kubectl call of
// the Lease is limited to duration/3), so a holder stops acting before anyone else may take
// over.
//
// Thread-safety: acquire() and release() on one thread (each first stops the renewal
// thread); holding() from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "common/result.hpp"
#include "platform/kube/kubectl.hpp"

namespace sg::platform {

struct LeaseOptions {
  std::string name = "streamgate-controller";
  std::string identity;  // this candidate: HOSTNAME/PID
  std::chrono::seconds duration{15};
};

// The holder of Lease `name` when it was renewed within its duration plus `margin` by our
// clock (clocks differ across machines: the margin absorbs that); nullopt when nobody holds
// it (no Lease, released, or expired). An error when the Lease cannot be read.
Result<std::optional<std::string>> live_lease_holder(const Kubectl& kubectl, const std::string& name,
                                                     std::chrono::seconds margin);

class LeaderLease {
 public:
  using EventFn = std::function<void(const std::string& kind, const std::string& message)>;
  // Its own kubectl calls are limited to max(1 s, duration/3).
  LeaderLease(KubectlOptions kubectl, LeaseOptions options, EventFn events);
  ~LeaderLease();  // stops renewing (does not release)

  // Blocks until this candidate holds the Lease (true) or `stop` is set (false); then renews
  // it in the background until release() or until renewal fails too long (holding() false).
  bool acquire(const std::atomic<bool>& stop);
  bool holding() const;
  // Stops renewing and, if still held, hands the Lease over at once (empty holder).
  void release();

  // One attempt (exposed for tests): take or renew. Ok(true) when held after it.
  Result<bool> try_acquire_or_renew();

 private:
  void renew_loop();
  void stop_renewal();
  std::chrono::milliseconds give_up() const;

  Kubectl kubectl_;
  LeaseOptions opts_;
  EventFn events_;
  std::atomic<bool> holding_{false};
  std::atomic<bool> stop_renewing_{false};
  std::thread renewer_;
  // What we last saw of the Lease, and when (our clock), for the expiry rule.
  std::string seen_version_;
  std::chrono::steady_clock::time_point seen_at_{};
  std::atomic<std::int64_t> renewed_at_ns_{0};  // steady clock, last successful write
};

}  // namespace sg::platform
