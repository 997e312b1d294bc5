#include "platform/local/local_backend.hpp"

#include <boost/json.hpp>
#include <fstream>

#include "common/http/blocking_client.hpp"
#include "common/proc_stat.hpp"

namespace sg::platform {
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kTracks[] = {"blue", "green", "canary"};

}  // namespace

Result<std::unique_ptr<LocalBackend>> LocalBackend::open(LocalBackendOptions options,
                                                         ResolveFn resolve, EventFn events) {
  std::error_code ec;
  fs::create_directories(options.state_dir / "logs", ec);
  if (ec) return make_error(ErrorCode::kInvalidArgument, "state dir: " + ec.message());
  auto records = ProcessRecords::open(options.state_dir);
  if (!records) return records.error();
  std::unique_ptr<LocalBackend> b(new LocalBackend(std::move(options), std::move(*records), events));
  ReplicaSetOptions ro;
  ro.log_dir = fs::absolute(b->opts_.state_dir / "logs");
  ro.common_env = b->opts_.replica_env;
  ro.pass_env = b->opts_.pass_env;
  ro.record_now = [records = b->records_.get()](const std::vector<ReplicaRecord>& now) {
    (void)records->replace_replicas(now);
  };
  ro.drain_timeout = b->opts_.drain_timeout;
  ro.grace_period = b->opts_.grace_period;
  ro.session_drain = b->opts_.session_drain;
  ro.initial_backoff = b->opts_.restart_backoff;
  b->replicas_ = std::make_unique<ReplicaSet>(ro, std::move(resolve), events);
  if (auto recorded = b->records_->replicas(); recorded && !recorded->empty()) {
    const int n = b->replicas_->adopt(*recorded, std::chrono::steady_clock::now());
    events("adopt", "adopted " + std::to_string(n) + " of " + std::to_string(recorded->size()) +
                        " running replicas");
  }
  b->gateway_ = std::make_unique<GatewayProcess>(
      GatewayProcessOptions{.binary = b->opts_.gateway_bin,
                            .state_dir = b->opts_.state_dir,
                            .listen = b->opts_.listen,
                            .admin_listen = b->opts_.admin_listen,
                            .token = b->opts_.gateway_token,
                            .pass_env = b->opts_.pass_env,
                            .grace_period = b->opts_.grace_period},
      *b->records_, events);
  b->gateway_->adopt();
  return b;
}

LocalBackend::LocalBackend(LocalBackendOptions options, std::unique_ptr<ProcessRecords> records,
                           EventFn events)
    : opts_(std::move(options)), records_(std::move(records)), events_(std::move(events)) {}

void LocalBackend::set_track(const std::string& track, const control::TrackTarget& target) {
  const auto current = replicas_->target(track);
  if (current && *current == target) return;
  if (!current && target.replicas == 0) return;
  replicas_->set_target(track, target);
}

void LocalBackend::set_weights(const std::map<std::string, int>& weights) { weights_ = weights; }

gateway::GatewayConfig LocalBackend::desired_gateway_config() const {
  gateway::GatewayConfig c;
  c.listen = opts_.listen;
  c.admin_listen = opts_.admin_listen;
  c.admin_token_env = "STREAMGATE_ADMIN_TOKEN";
  c.admin_insecure_listen = opts_.admin_insecure_listen;
  c.threads = opts_.gateway_threads;
  for (const char* track : kTracks) {
    std::vector<std::string> eps = replicas_->gateway_endpoints(track);
    const auto w = weights_.find(track);
    const bool weighted = w != weights_.end() && w->second > 0;
    if (eps.empty() && weighted && applied_) {
      // No replica ready right now (restarting): keep what the gateway has rather than
      // pointing the route at nothing; its health checks and ejection handle the rest.
      if (auto it = applied_->tracks.find(track); it != applied_->tracks.end()) {
        eps = it->second.endpoints;
      }
    }
    if (eps.empty() && !weighted) continue;
    c.tracks[track].endpoints = std::move(eps);
    if (weighted) c.route.weights.push_back({track, w->second});
  }
  return c;
}

void LocalBackend::sync_routes() {
  const GatewayClient* client = gateway_->client();
  if (client == nullptr) return;
  gateway::GatewayConfig cfg = desired_gateway_config();
  if (applied_ && *applied_ == cfg) return;
  if (!gateway::validate_gateway_config(cfg)) return;  // never point the route at nothing
  if (auto st = client->apply(cfg); !st) {
    events_("gateway_sync_failed", st.error().message);
    return;
  }
  applied_ = cfg;
  write_gateway_config(opts_.state_dir / "gateway.yaml", cfg);
}

void LocalBackend::reconcile(std::chrono::steady_clock::time_point now) {
  const gateway::GatewayConfig desired = desired_gateway_config();
  if (gateway_->ensure(desired, now)) {
    applied_ = desired;
    ++traffic_epoch_;  // a new gateway counts from zero
  } else if (gateway_->client() != nullptr && !applied_) {
    if (auto cfg = gateway_->client()->config()) applied_ = *cfg;  // adopted: what it has
  }
  // Routes first: a replica is drained (below) only after the route stopped weighting it.
  sync_routes();
  replicas_->tick(now, gateway_->client());
  if (replicas_->take_dirty()) (void)records_->replace_replicas(replicas_->records());
  measure_gateway(now);
  rotate_logs(now);
}

void LocalBackend::rotate_logs(std::chrono::steady_clock::time_point now) {
  if (now < next_log_check_) return;
  next_log_check_ = now + std::chrono::seconds(5);
  std::vector<std::filesystem::path> files{opts_.state_dir / "logs" / "gateway.log"};
  for (const Replica& r : replicas_->replicas()) files.push_back(r.log_file);
  for (const auto& file : files) {
    auto rotated = rotate_log_if_large(file, opts_.log_rotation);
    // A failure is reported once per file until that file rotates (or is checked) fine
    // again: a lasting one would otherwise add an event every 5 s and push real ones out.
    if (!rotated) {
      if (rotation_failing_.insert(file.string()).second) {
        events_("log_rotation_failed",
                rotated.error().message + " (reported once until it works again)");
      }
      continue;
    }
    rotation_failing_.erase(file.string());
    if (*rotated) {
      events_("log_rotated", file.filename().string() + " passed " +
                                 std::to_string(opts_.log_rotation.max_bytes) +
                                 " bytes; older text in " + file.filename().string() + ".1");
    }
  }
}

void LocalBackend::measure_gateway(std::chrono::steady_clock::time_point now) {
  const auto pid = gateway_->pid();
  const auto stat = pid ? read_proc_stat(*pid) : std::nullopt;
  if (!stat) {
    gateway_cpu_seconds_ = -1;
    gateway_cpu_cores_.reset();
    gateway_memory_.reset();
    return;
  }
  const double cpu = stat->cpu_seconds();
  if (gateway_cpu_seconds_ >= 0 && now > gateway_cpu_at_) {
    gateway_cpu_cores_ = std::max(
        0.0, (cpu - gateway_cpu_seconds_) / std::chrono::duration<double>(now - gateway_cpu_at_).count());
  }
  gateway_cpu_seconds_ = cpu;
  gateway_cpu_at_ = now;
  gateway_memory_ = stat->rss_bytes();
}

std::vector<ReplicaInfo> LocalBackend::replicas() const { return replicas_->info(); }

GatewayInfo LocalBackend::gateway() const {
  GatewayInfo g;
  g.listen = opts_.listen;
  g.admin = opts_.admin_listen;
  if (auto pid = gateway_->pid()) g.pid = *pid;
  g.running = gateway_->client() != nullptr;
  g.cpu_cores = gateway_cpu_cores_;
  g.memory_bytes = gateway_memory_;
  return g;
}

Result<TrackTraffic> LocalBackend::traffic() {
  const GatewayClient* client = gateway_->client();
  if (client == nullptr) {
    return make_error(ErrorCode::kUnavailable, "the gateway is not running yet");
  }
  return client->traffic();
}

Result<std::vector<EndpointLoad>> LocalBackend::endpoint_load() {
  const GatewayClient* client = gateway_->client();
  if (client == nullptr) {
    return make_error(ErrorCode::kUnavailable, "the gateway is not running yet");
  }
  return client->endpoint_load();
}

std::optional<std::string> LocalBackend::track_version(const std::string& track) {
  for (const auto& r : replicas_->replicas()) {
    if (r.track != track || r.phase != ReplicaPhase::kReady) continue;
    if (auto version = health_version(r.address())) return version;
  }
  return std::nullopt;
}

std::vector<std::string> LocalBackend::track_endpoints(const std::string& track) const {
  std::vector<std::string> out;
  for (const auto& r : replicas_->replicas()) {
    if (r.track == track && r.phase == ReplicaPhase::kReady) out.push_back(r.address());
  }
  return out;
}

std::string LocalBackend::log_tail(const ReplicaInfo& replica, std::size_t max_bytes) const {
  std::ifstream in(replica.log, std::ios::binary | std::ios::ate);
  if (!in) return {};
  const auto size = static_cast<std::size_t>(in.tellg());
  const std::size_t from = size > max_bytes ? size - max_bytes : 0;
  in.seekg(static_cast<std::streamoff>(from));
  std::string text(size - from, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  // Start at a line boundary when the cut fell inside a line.
  if (from > 0) {
    if (const auto nl = text.find('\n'); nl != std::string::npos) text.erase(0, nl + 1);
  }
  return text;
}

void LocalBackend::shutdown() {
  // The gateway first (it finishes its clients' requests within its grace period), then the
  // replicas, which then have nothing in flight.
  gateway_->stop();
  applied_.reset();
  replicas_->stop_all(nullptr);
  (void)records_->replace_replicas(replicas_->records());
}

}  // namespace sg::platform
