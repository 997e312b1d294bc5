#include "platform/local/replica_set.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "common/http/blocking_client.hpp"
#include "common/proc_stat.hpp"
#include "common/process.hpp"
#include "common/unique_fd.hpp"

namespace sg::platform {
namespace fs = std::filesystem;

namespace {

ReplicaRecord record_of(const Replica& r) {
  return {r.track,    r.release,  r.port,           r.pid,      r.start_ticks,
          r.log_file.string(), r.restarts, r.readiness_flaps, r.last_exit};
}

}  // namespace

using namespace std::chrono_literals;

namespace {
// How old the gateway's session figures may be: a stopping track has no route weight, so
// no session joins it meanwhile; a stale answer only delays a stop by this much.
constexpr auto kSessionsPollPeriod = 1s;
}  // namespace

Result<std::uint16_t> pick_free_port() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (!fd.valid() || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return make_error(ErrorCode::kUnavailable,
                      std::string("finding a free port on 127.0.0.1: ") + std::strerror(errno));
  }
  return static_cast<std::uint16_t>(ntohs(addr.sin_port));
}

ReplicaSet::ReplicaSet(ReplicaSetOptions options, ResolveFn resolve, EventFn events)
    : opts_(std::move(options)), resolve_(std::move(resolve)), events_(std::move(events)) {}

ReplicaSet::~ReplicaSet() = default;

int ReplicaSet::adopt(const std::vector<ReplicaRecord>& records, Clock::time_point now) {
  int adopted = 0;
  for (const auto& rec : records) {
    if (!same_process_alive(static_cast<pid_t>(rec.pid), rec.start_ticks)) {
      events_("replica_lost", "replica " + rec.track + "/" + rec.release + " (pid " +
                                  std::to_string(rec.pid) + ") is gone; it will be replaced");
      continue;
    }
    Replica r;
    r.id = next_id_++;
    r.track = rec.track;
    r.release = rec.release;
    r.port = rec.port;
    r.pid = static_cast<pid_t>(rec.pid);
    r.start_ticks = rec.start_ticks;
    r.adopted = true;
    r.log_file = rec.log_file;
    r.restarts = rec.restarts;
    r.readiness_flaps = rec.readiness_flaps;
    r.last_exit = rec.last_exit;
    r.started = now;
    replicas_.push_back(std::move(r));
    ++adopted;
  }
  dirty_ = true;
  return adopted;
}

void ReplicaSet::set_target(const std::string& track, TrackTarget target) {
  targets_[track] = std::move(target);
}

std::optional<TrackTarget> ReplicaSet::target(const std::string& track) const {
  auto it = targets_.find(track);
  if (it == targets_.end()) return std::nullopt;
  return it->second;
}

Status ReplicaSet::spawn(Replica& r, Clock::time_point now) {
  auto release = resolve_(r.release);
  if (!release) return release.error();
  // A port just released by the kernel can come back at once: never hand out one that
  // another replica of ours holds (two replicas started in one pass would collide).
  Result<std::uint16_t> port = pick_free_port();
  for (int i = 0; i < 16 && port; ++i) {
    const bool taken = std::any_of(replicas_.begin(), replicas_.end(), [&](const Replica& o) {
      return &o != &r && o.pid > 0 && o.port == *port;
    });
    if (!taken) break;
    port = pick_free_port();
  }
  if (!port) return port.error();
  r.port = *port;
  SpawnSpec spec;
  spec.argv.push_back(release->exec);
  spec.argv.insert(spec.argv.end(), release->args.begin(), release->args.end());
  spec.env = opts_.common_env;
  spec.pass_env = opts_.pass_env;
  spec.env.emplace_back("STREAMGATE_LISTEN", r.address());
  spec.env.emplace_back("STREAMGATE_VERSION_LABEL", r.release);
  spec.env.insert(spec.env.end(), release->env.begin(), release->env.end());
  spec.log_file = r.log_file;
  spec.new_session = true;
  auto pid = spawn_process(spec);
  if (!pid) return pid.error();
  r.pid = *pid;
  r.adopted = false;
  r.start_ticks = process_start_ticks(r.pid).value_or(0);
  if (opts_.record_now) {
    // A new replica joins replicas_ after its spawn: record it with the others now.
    std::vector<ReplicaRecord> now_running = records();
    const bool member = std::any_of(replicas_.begin(), replicas_.end(),
                                    [&r](const Replica& o) { return &o == &r; });
    if (!member) now_running.push_back(record_of(r));
    opts_.record_now(now_running);
  }
  r.started = now;
  r.phase = ReplicaPhase::kStarting;
  dirty_ = true;
  events_("replica_started",
          "replica " + r.track + "/" + r.release + " pid " + std::to_string(r.pid) + " on " +
              r.address() +
              (r.restarts > 0 ? " (restart " + std::to_string(r.restarts) + ")" : std::string()));
  return Status::ok();
}

bool ReplicaSet::alive(Replica& r) {
  if (r.pid <= 0) return false;
  if (!r.adopted) {
    if (auto status = reap_if_exited(r.pid)) {
      r.last_exit = describe_wait_status(*status);
      return false;
    }
  }
  if (!same_process_alive(r.pid, r.start_ticks)) {
    // Our child may have exited between the two checks: it is a zombie now, so this wait
    // returns at once with its status (and reaps it).
    int status = 0;
    r.last_exit = !r.adopted && ::waitpid(r.pid, &status, 0) == r.pid
                      ? describe_wait_status(status)
                      : "exited";
    return false;
  }
  return true;
}

void ReplicaSet::probe(Replica& r, Clock::time_point) {
  auto reply = http::blocking_call("127.0.0.1", r.port,
                                   {.target = "/ready", .timeout = opts_.probe_timeout});
  const bool ok = reply.status == 200;
  const ReplicaPhase before = r.phase;
  if (ok) {
    r.phase = ReplicaPhase::kReady;
  } else if (r.phase == ReplicaPhase::kReady) {
    r.phase = ReplicaPhase::kUnready;
  }
  if (before == ReplicaPhase::kReady && r.phase == ReplicaPhase::kUnready) {
    ++r.readiness_flaps;
    dirty_ = true;
  }
  if (before != r.phase) {
    events_(ok ? "replica_ready" : "replica_unready", "replica " + r.track + "/" + r.release + " " +
                                                          r.address() + " is " +
                                                          replica_phase_name(r.phase));
  }
}

void ReplicaSet::on_exit(Replica& r, Clock::time_point now) {
  const bool ran_long = now - r.started >= opts_.backoff_reset_after;
  r.backoff = (ran_long || r.backoff.count() == 0) ? opts_.initial_backoff
                                                   : std::min(opts_.max_backoff, r.backoff * 2);
  r.restart_at = now + r.backoff;
  r.phase = ReplicaPhase::kBackoff;
  r.pid = -1;
  ++r.restarts;  // counted at the exit, as a kubelet's restartCount: the judge sees it now
  r.cpu_cores.reset();
  r.memory_bytes.reset();
  r.cpu_seconds = -1;
  dirty_ = true;
  events_("replica_exited", "replica " + r.track + "/" + r.release + " " + r.address() +
                                " exited unexpectedly (" + r.last_exit + "); restarting in " +
                                std::to_string(r.backoff.count()) + " s; log " +
                                r.log_file.string());
}

void ReplicaSet::measure(Replica& r, Clock::time_point now) {
  const auto stat = read_proc_stat(r.pid);
  if (!stat) return;
  const double cpu = stat->cpu_seconds();
  if (r.cpu_seconds >= 0 && now > r.cpu_at) {
    const double secs = std::chrono::duration<double>(now - r.cpu_at).count();
    r.cpu_cores = std::max(0.0, (cpu - r.cpu_seconds) / secs);
  }
  r.cpu_seconds = cpu;
  r.cpu_at = now;
  r.memory_bytes = stat->rss_bytes();
}

std::vector<ReplicaInfo> ReplicaSet::info() const {
  std::vector<ReplicaInfo> out;
  for (const auto& r : replicas_) {
    ReplicaInfo i;
    i.name = r.name();
    i.track = r.track;
    i.release = r.release;
    i.address = r.port != 0 ? r.address() : std::string();
    if (r.pid > 0) i.pid = r.pid;
    i.phase = r.phase;
    i.restarts = r.restarts;
    i.readiness_flaps = r.readiness_flaps;
    i.last_exit = r.last_exit;
    i.log = r.log_file.string();
    i.cpu_cores = r.cpu_cores;
    i.memory_bytes = r.memory_bytes;
    if (r.pid > 0 && r.cpu_seconds >= 0) i.cpu_seconds_total = r.cpu_seconds;
    out.push_back(std::move(i));
  }
  return out;
}

void ReplicaSet::begin_stop(Replica& r, Clock::time_point now, const GatewayClient* gateway) {
  if (r.phase == ReplicaPhase::kDraining || r.phase == ReplicaPhase::kTerminating) return;
  dirty_ = true;
  if (r.phase == ReplicaPhase::kBackoff || r.pid <= 0) {
    r.phase = ReplicaPhase::kTerminating;  // nothing runs; removed at the next pass
    r.pid = -1;
    return;
  }
  // Only a replica the gateway routes to (ready, or briefly unready) can serve a session.
  const bool serving = r.phase == ReplicaPhase::kReady || r.phase == ReplicaPhase::kUnready;
  r.phase = ReplicaPhase::kDraining;
  r.stop_began = now;
  r.awaiting_sessions = false;
  if (gateway != nullptr && serving) {
    // The stop's first look asks afresh (once per pass): the track may have had weight, so
    // new sessions, until this tick.
    if (sessions_seen_at_ != now) sessions_seen_.reset();
    const auto d = session_decision(r, now, gateway);
    if (!d.stop()) {
      r.awaiting_sessions = true;
      events_("replica_draining",
              "replica " + r.track + "/" + r.release + " " + r.address() +
                  " stays for the viewing sessions pinned to " + r.track + ": " + d.reason +
                  " (no new ones; it stops when all were idle " +
                  std::to_string(opts_.session_drain.idle.count()) + " s, at most " +
                  std::to_string(opts_.session_drain.max.count()) + " s from now)");
      return;
    }
    // Today's stop, unannotated, where session draining does not apply.
    const bool plain = d.reason == "off" || d.reason == "track serves";
    begin_endpoint_drain(r, now, gateway, plain ? std::string() : d.reason);
    return;
  }
  begin_endpoint_drain(r, now, gateway, "");
}

control::SessionDrainDecision ReplicaSet::session_decision(const Replica& r, Clock::time_point now,
                                                           const GatewayClient* gateway) {
  const auto t = targets_.find(r.track);
  const TrackTarget target = t == targets_.end() ? TrackTarget{} : t->second;
  std::optional<control::TrackSessions> activity;
  // Only a whole-track stop waits, so ask the gateway only then (never for an autoscaler's
  // scale-down, which must not cost an admin call).
  if (opts_.session_drain.max.count() > 0 && target.replicas <= 0 && !target.move_sessions) {
    if (!sessions_seen_) {
      sessions_seen_at_ = now;
      auto seen = gateway->sessions(opts_.session_drain.idle);
      sessions_seen_.emplace(seen ? std::optional(std::move(*seen)) : std::nullopt);
    }
    if (*sessions_seen_) {
      const auto it = (*sessions_seen_)->find(r.track);
      activity = it == (*sessions_seen_)->end() ? control::TrackSessions{} : it->second;
    }
  }
  return control::decide_session_drain(opts_.session_drain, target, activity, now - r.stop_began);
}

void ReplicaSet::begin_endpoint_drain(Replica& r, Clock::time_point now,
                                      const GatewayClient* gateway, const std::string& why) {
  r.awaiting_sessions = false;
  r.deadline = now + opts_.drain_timeout;
  dirty_ = true;
  if (gateway == nullptr) {
    r.deadline = now;  // no gateway routes to it
  } else if (auto st = gateway->drain(r.address());
             !st && st.error().code == ErrorCode::kNotFound) {
    r.deadline = now;  // not in the gateway (never ready, or removed): nothing to drain
  }
  // Any other drain error: the tick asks again until the endpoint reports drained, or the
  // drain timeout passes; an admin hiccup never cuts requests in flight short.
  events_("replica_draining", "replica " + r.track + "/" + r.release + " " + r.address() +
                                  " draining before stop" + (why.empty() ? "" : ": " + why));
}

void ReplicaSet::reconcile(Clock::time_point now, const GatewayClient* gateway) {
  std::map<std::string, TrackTarget> wanted = targets_;
  for (const auto& r : replicas_) wanted.try_emplace(r.track, TrackTarget{});
  for (auto& [track, target] : wanted) {
    std::vector<Replica*> members;
    for (auto& r : replicas_) {
      if (r.track != track || r.phase == ReplicaPhase::kDraining ||
          r.phase == ReplicaPhase::kTerminating) {
        continue;
      }
      if (r.release != target.release || target.replicas <= 0) {
        begin_stop(r, now, gateway);
      } else {
        members.push_back(&r);
      }
    }
    const int have = static_cast<int>(members.size());
    if (have > target.replicas) {
      // Stop the least useful first: backing off, starting, unready, then the newest ready.
      auto rank = [](const Replica* r) {
        switch (r->phase) {
          case ReplicaPhase::kBackoff:
            return 0;
          case ReplicaPhase::kStarting:
            return 1;
          case ReplicaPhase::kUnready:
            return 2;
          default:
            return 3;
        }
      };
      std::stable_sort(members.begin(), members.end(), [&](const Replica* a, const Replica* b) {
        return rank(a) != rank(b) ? rank(a) < rank(b) : a->id > b->id;
      });
      for (int i = 0; i < have - target.replicas; ++i) begin_stop(*members[i], now, gateway);
    }
    for (int i = have; i < target.replicas; ++i) {
      Replica r;
      r.id = next_id_++;
      r.track = track;
      r.release = target.release;
      r.log_file =
          opts_.log_dir / (track + "-" + target.release + "-" + std::to_string(r.id) + ".log");
      if (auto st = spawn(r, now); !st) {
        ++r.restarts;  // a start that fails counts like a crash
        r.phase = ReplicaPhase::kBackoff;
        r.backoff = opts_.initial_backoff;
        r.restart_at = now + r.backoff;
        r.last_exit = st.error().message;
        events_("replica_failed", "replica " + track + "/" + target.release +
                                      " could not start: " + st.error().message);
      }
      replicas_.push_back(std::move(r));
      dirty_ = true;
    }
  }
}

void ReplicaSet::tick(Clock::time_point now, const GatewayClient* gateway) {
  if (now - sessions_seen_at_ >= kSessionsPollPeriod) sessions_seen_.reset();
  for (auto& r : replicas_) {
    switch (r.phase) {
      case ReplicaPhase::kStarting:
      case ReplicaPhase::kReady:
      case ReplicaPhase::kUnready:
        if (!alive(r)) {
          on_exit(r, now);
        } else {
          probe(r, now);
          measure(r, now);
        }
        break;
      case ReplicaPhase::kBackoff:
        if (now >= r.restart_at) {
          if (auto st = spawn(r, now); !st) {
            ++r.restarts;  // a start that fails counts like a crash
            r.last_exit = st.error().message;
            r.backoff = std::min(opts_.max_backoff, r.backoff * 2);
            r.restart_at = now + r.backoff;
            events_("replica_failed", "replica " + r.track + "/" + r.release +
                                          " could not restart: " + st.error().message);
          }
        }
        break;
      case ReplicaPhase::kDraining: {
        if (!alive(r)) {
          r.phase = ReplicaPhase::kTerminating;
          r.pid = -1;
          break;
        }
        if (r.awaiting_sessions) {
          // Still serving its track's sessions (the route gives it no new ones): its CPU and
          // memory stay measured, and the gateway's health checks still watch it.
          measure(r, now);
          if (gateway == nullptr) {
            begin_endpoint_drain(r, now, gateway, "");
          } else if (const auto d = session_decision(r, now, gateway); d.stop()) {
            begin_endpoint_drain(r, now, gateway, d.reason);
          }
          break;
        }
        bool drained = now >= r.deadline || gateway == nullptr;
        if (!drained) {
          auto st = gateway->endpoint(r.address());
          if (st && st->found && !st->drained) {
            (void)gateway->drain(r.address());  // idempotent; an earlier call may have failed
          }
          drained = st && (!st->found || st->drained);
        }
        if (drained) {
          ::kill(-r.pid, SIGTERM);  // its process group: a wrapper script's children too
          r.phase = ReplicaPhase::kTerminating;
          r.deadline = now + opts_.grace_period;
          dirty_ = true;
        }
        break;
      }
      case ReplicaPhase::kTerminating:
        if (r.pid > 0 && alive(r)) {
          if (now >= r.deadline) ::kill(-r.pid, SIGKILL);
        } else {
          r.pid = -1;
        }
        break;
    }
  }
  const auto gone = std::remove_if(replicas_.begin(), replicas_.end(), [&](const Replica& r) {
    const bool done = r.phase == ReplicaPhase::kTerminating && r.pid <= 0;
    if (done) {
      events_("replica_stopped", "replica " + r.track + "/" + r.release + " " + r.address() +
                                     " stopped" +
                                     (r.last_exit.empty() ? "" : " (" + r.last_exit + ")"));
    }
    return done;
  });
  if (gone != replicas_.end()) {
    replicas_.erase(gone, replicas_.end());
    dirty_ = true;
  }
  reconcile(now, gateway);
}

int ReplicaSet::ready_count(const std::string& track, const std::string& release) const {
  int n = 0;
  for (const auto& r : replicas_) {
    n += r.track == track && r.release == release && r.phase == ReplicaPhase::kReady ? 1 : 0;
  }
  return n;
}

std::vector<std::string> ReplicaSet::gateway_endpoints(const std::string& track) const {
  std::vector<std::string> out;
  for (const auto& r : replicas_) {
    if (r.track == track && (r.phase == ReplicaPhase::kReady || r.phase == ReplicaPhase::kUnready ||
                             r.phase == ReplicaPhase::kDraining)) {
      out.push_back(r.address());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<ReplicaRecord> ReplicaSet::records() const {
  std::vector<ReplicaRecord> out;
  for (const auto& r : replicas_) {
    if (r.pid > 0) out.push_back(record_of(r));
  }
  return out;
}

bool ReplicaSet::take_dirty() { return std::exchange(dirty_, false); }

void ReplicaSet::stop_all(const GatewayClient* gateway) {
  for (auto& [track, target] : targets_) target.replicas = 0;
  const auto limit = Clock::now() + opts_.drain_timeout + opts_.grace_period + 2s;
  while (!replicas_.empty() && Clock::now() < limit) {
    tick(Clock::now(), gateway);
    if (!replicas_.empty()) std::this_thread::sleep_for(100ms);
  }
}

}  // namespace sg::platform
