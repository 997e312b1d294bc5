#include "platform/local/local_platform.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <fstream>
#include <thread>

#include "common/json_text.hpp"
#include "common/process.hpp"
#include "control/judge.hpp"

namespace sg::platform {
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kTracks[] = {"blue", "green", "canary"};

std::string tail(const fs::path& file, std::size_t bytes = 600) {
  std::ifstream in(file, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

}  // namespace

Result<std::unique_ptr<LocalPlatform>> LocalPlatform::start(PlatformOptions options) {
  std::unique_ptr<LocalPlatform> p(new LocalPlatform(std::move(options)));
  if (auto st = p->init(); !st) return st.error();
  return p;
}

void LocalPlatform::event(const std::string& kind, const std::string& message) {
  (void)store_->add_event(kind, message);
  std::fprintf(stderr, "%s %s: %s\n", iso8601_utc(unix_ms_now()).c_str(), kind.c_str(),
               message.c_str());
}

Result<ReleaseSpec> LocalPlatform::resolve(const std::string& release) {
  auto spec = store_->release(release);
  if (!spec) return spec.error();
  if (!*spec) {
    return make_error(ErrorCode::kNotFound,
                      "release '" + release +
                          "' is not in the catalog; add it with: sgctl release add " + release +
                          " --exec PATH");
  }
  return **spec;
}

Status LocalPlatform::init() {
  const fs::path& dir = opts_.state_dir;
  auto store = StateStore::open(dir);
  if (!store) return store.error();
  store_ = std::move(*store);
  std::error_code ec;
  fs::create_directories(dir / "logs", ec);
  fs::create_directories(dir / "media", ec);
  if (ec) return make_error(ErrorCode::kInvalidArgument, "state dir: " + ec.message());

  if (!opts_.server_bin.empty()) {
    auto existing = store_->release(SG_VERSION);
    if (existing && !*existing) {
      (void)store_->put_release({SG_VERSION, fs::absolute(opts_.server_bin).string(), {}, {}});
    }
  }
  auto gateway_token = read_or_create_secret(dir / "gateway-admin-token");
  if (!gateway_token) return gateway_token.error();
  gateway_token_ = *gateway_token;
  auto api_token = read_or_create_secret(dir / "api-token");
  if (!api_token) return api_token.error();

  if (auto st = load_settings(); !st) return st;

  ReplicaSetOptions ro;
  ro.log_dir = fs::absolute(dir / "logs");
  ro.drain_timeout = opts_.drain_timeout;
  ro.grace_period = opts_.grace_period;
  ro.initial_backoff = opts_.restart_backoff;
  const std::string storage = opts_.storage.empty()
                                  ? "sqlite:" + fs::absolute(dir / "streamgate.db").string()
                                  : opts_.storage;
  ro.common_env = {{"STREAMGATE_STORAGE", storage},
                   {"STREAMGATE_CACHE", opts_.cache},
                   {"STREAMGATE_MEDIA_DIR", fs::absolute(dir / "media").string()},
                   {"STREAMGATE_API_TOKENS", *api_token},
                   {"STREAMGATE_DRAIN_DELAY", std::to_string(opts_.replica_drain_delay.count())},
                   {"STREAMGATE_GRACE_PERIOD", std::to_string(opts_.grace_period.count())}};
  replicas_ = std::make_unique<ReplicaSet>(
      ro, [this](const std::string& r) { return resolve(r); },
      [this](const std::string& k, const std::string& m) { event(k, m); });

  const auto now = Clock::now();
  if (auto records = store_->replicas(); records && !records->empty()) {
    const int n = replicas_->adopt(*records, now);
    event("adopt", "adopted " + std::to_string(n) + " of " + std::to_string(records->size()) +
                       " running replicas");
  }
  if (auto g = store_->setting("gateway"); g && *g) {
    // The gateway of an earlier control plane: if that process still runs, it is ours to
    // adopt (never start a second one beside it); ensure_gateway() connects to its admin API.
    boost::system::error_code jec;
    auto v = json::parse(**g, jec);
    const json::object* o = !jec && v.is_object() ? &v.as_object() : nullptr;
    const json::value* pid = o != nullptr ? o->if_contains("pid") : nullptr;
    const json::value* ticks = o != nullptr ? o->if_contains("start_ticks") : nullptr;
    if (pid != nullptr && ticks != nullptr && pid->is_int64() &&
        (ticks->is_int64() || ticks->is_uint64())) {
      const auto p = static_cast<pid_t>(pid->as_int64());
      const auto t = ticks->to_number<std::uint64_t>();
      if (same_process_alive(p, t)) {
        gateway_pid_ = p;
        gateway_ticks_ = t;
        gateway_adopted_ = true;
        event("adopt", "adopting the running gateway (pid " + std::to_string(p) + ")");
      }
    }
  }
  return resume_rollout();
}

Status LocalPlatform::load_settings() {
  auto text = store_->setting("platform");
  if (!text) return text.status();
  if (*text) {
    boost::system::error_code ec;
    auto v = json::parse(**text, ec);
    if (ec || !v.is_object()) {
      return make_error(ErrorCode::kInternal, "state: the platform settings are not JSON");
    }
    const auto& o = v.as_object();
    if (auto* a = o.if_contains("active"); a && a->is_string())
      active_ = std::string(a->as_string());
    if (auto* r = o.if_contains("stable_replicas"); r && r->is_int64()) {
      stable_replicas_ = static_cast<int>(r->as_int64());
    }
    weights_.clear();
    if (auto* w = o.if_contains("weights"); w && w->is_object()) {
      for (const auto& [k, n] : w->as_object()) {
        if (n.is_int64() && n.as_int64() > 0)
          weights_[std::string(k)] = static_cast<int>(n.as_int64());
      }
    }
    pending_targets_.clear();
    if (auto* t = o.if_contains("targets"); t && t->is_object()) {
      for (const auto& [k, n] : t->as_object()) {
        if (!n.is_object()) continue;
        TrackTarget target;
        if (auto* rel = n.as_object().if_contains("release"); rel && rel->is_string()) {
          target.release = std::string(rel->as_string());
        }
        if (auto* c = n.as_object().if_contains("replicas"); c && c->is_int64()) {
          target.replicas = static_cast<int>(c->as_int64());
        }
        pending_targets_[std::string(k)] = target;
      }
    }
    if (!opts_.release.empty()) {
      auto it = pending_targets_.find(active_);
      if (it != pending_targets_.end() && it->second.release != opts_.release) {
        std::fprintf(stderr,
                     "note: --release %s ignored: this state dir already serves %s (use sgctl "
                     "deploy to change it)\n",
                     opts_.release.c_str(), it->second.release.c_str());
      }
    }
    return Status::ok();
  }
  const std::string release = opts_.release.empty() ? std::string(SG_VERSION) : opts_.release;
  if (auto r = resolve(release); !r) return r.error();
  if (opts_.replicas < 1 || opts_.replicas > 50) {
    return make_error(ErrorCode::kInvalidArgument, "--replicas must be 1..50");
  }
  active_ = "blue";
  stable_replicas_ = opts_.replicas;
  weights_ = {{"blue", 100}};
  pending_targets_ = {{"blue", {release, opts_.replicas}}};
  return Status::ok();
}

void LocalPlatform::save_settings() {
  json::object o;
  o["active"] = active_;
  o["stable_replicas"] = stable_replicas_;
  json::object w;
  for (const auto& [k, n] : weights_) w[k] = n;
  o["weights"] = std::move(w);
  json::object t;
  for (const auto& [k, target] : replicas_->targets()) {
    t[k] = json::object{{"release", target.release}, {"replicas", target.replicas}};
  }
  o["targets"] = std::move(t);
  (void)store_->set_setting("platform", json_text(o));
}

gateway::GatewayConfig LocalPlatform::desired_gateway_config() const {
  gateway::GatewayConfig c;
  c.listen = opts_.listen;
  c.admin_listen = opts_.admin_listen;
  c.admin_token_env = "STREAMGATE_ADMIN_TOKEN";
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

void LocalPlatform::ensure_gateway(Clock::time_point now) {
  if (gateway_pid_ > 0) {
    bool alive = true;
    if (!gateway_adopted_) {
      if (auto status = reap_if_exited(gateway_pid_)) {
        event("gateway_exited", "gateway exited (" + describe_wait_status(*status) +
                                    "); restarting; log " +
                                    (opts_.state_dir / "logs" / "gateway.log").string());
        alive = false;
      }
    }
    if (alive && !same_process_alive(gateway_pid_, gateway_ticks_)) {
      event("gateway_exited",
            "gateway (pid " + std::to_string(gateway_pid_) + ") is gone; restarting");
      alive = false;
    }
    if (alive) {
      if (!gateway_) {
        auto client = std::make_unique<GatewayClient>(opts_.admin_listen, gateway_token_);
        if (client->alive()) {
          if (auto cfg = client->config()) applied_ = *cfg;
          gateway_ = std::move(client);
          event("adopt", "gateway (pid " + std::to_string(gateway_pid_) + ") answers on " +
                             opts_.admin_listen);
        }
      }
      return;
    }
    gateway_pid_ = -1;
    gateway_.reset();
  }
  if (now < gateway_retry_at_) return;
  gateway::GatewayConfig cfg = desired_gateway_config();
  if (!validate_gateway_config(cfg)) return;  // no ready endpoint for the active track yet
  gateway_retry_at_ = now + 5s;
  const fs::path config_file = opts_.state_dir / "gateway.yaml";
  {
    std::ofstream out(config_file, std::ios::trunc);
    out << gateway::gateway_config_to_json_text(cfg) << "\n";  // JSON is YAML
  }
  const fs::path log = opts_.state_dir / "logs" / "gateway.log";
  SpawnSpec spec{.argv = {opts_.gateway_bin.string(), "--config", config_file.string()},
                 .env = {{"STREAMGATE_ADMIN_TOKEN", gateway_token_}},
                 .log_file = log,
                 .new_session = true};
  auto pid = spawn_process(spec);
  if (!pid) {
    event("gateway_failed", pid.error().message);
    return;
  }
  auto client = std::make_unique<GatewayClient>(opts_.admin_listen, gateway_token_);
  for (int i = 0; i < 100 && !client->alive(); ++i) {
    if (reap_if_exited(*pid)) break;
    std::this_thread::sleep_for(50ms);
  }
  if (!client->alive()) {
    ::kill(*pid, SIGKILL);
    ::waitpid(*pid, nullptr, 0);
    event("gateway_failed", "gateway did not start on " + opts_.listen + " / " +
                                opts_.admin_listen + "; log: " + tail(log));
    return;
  }
  gateway_ = std::move(client);
  gateway_pid_ = *pid;
  gateway_ticks_ = process_start_ticks(*pid).value_or(0);
  gateway_adopted_ = false;
  applied_ = cfg;
  on_gateway_restarted();
  (void)store_->set_setting(
      "gateway", json_text(json::object{{"pid", gateway_pid_}, {"start_ticks", gateway_ticks_}}));
  event("gateway_started", "gateway pid " + std::to_string(gateway_pid_) + " serving " +
                               opts_.listen + " (admin " + opts_.admin_listen + ")");
}

void LocalPlatform::sync_gateway() {
  if (!gateway_) return;
  gateway::GatewayConfig cfg = desired_gateway_config();
  if (applied_ && *applied_ == cfg) return;
  if (!validate_gateway_config(cfg)) return;  // never point the route at nothing
  if (auto st = gateway_->apply(cfg); !st) {
    event("gateway_sync_failed", st.error().message);
    return;
  }
  applied_ = cfg;
  std::ofstream(opts_.state_dir / "gateway.yaml", std::ios::trunc)
      << gateway::gateway_config_to_json_text(cfg) << "\n";
}

void LocalPlatform::sample_traffic(Clock::time_point now) {
  if (!gateway_) return;
  auto t = gateway_->traffic();
  if (!t) return;
  traffic_.emplace_back(now, std::move(*t));
  while (traffic_.size() > 2 && now - traffic_.front().first > 10s) traffic_.pop_front();
}

void LocalPlatform::tick(Clock::time_point now) {
  if (!pending_targets_.empty()) {
    for (const auto& [track, target] : pending_targets_) replicas_->set_target(track, target);
    pending_targets_.clear();
  }
  ensure_gateway(now);
  // Routes first: a replica is drained (below) only after the route stopped weighting it.
  sync_gateway();
  replicas_->tick(now, gateway_.get());
  if (replicas_->take_dirty()) (void)store_->replace_replicas(replicas_->records());
  sample_traffic(now);
  step_rollout(now);
  sync_gateway();
}

void LocalPlatform::run(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    {
      std::lock_guard lock(mu_);
      tick(Clock::now());
    }
    for (auto slept = 0ms; slept < opts_.tick && !stop.load(); slept += 50ms) {
      std::this_thread::sleep_for(50ms);
    }
  }
  std::lock_guard lock(mu_);
  // The gateway first (it finishes its clients' requests within its grace period), then the
  // replicas, which then have nothing in flight.
  if (gateway_pid_ > 0 && same_process_alive(gateway_pid_, gateway_ticks_)) {
    ::kill(-gateway_pid_, SIGTERM);  // its process group (it leads its own session)
    const auto limit = Clock::now() + opts_.grace_period + 5s;
    while (same_process_alive(gateway_pid_, gateway_ticks_) && Clock::now() < limit) {
      (void)reap_if_exited(gateway_pid_);
      std::this_thread::sleep_for(50ms);
    }
    if (same_process_alive(gateway_pid_, gateway_ticks_)) ::kill(-gateway_pid_, SIGKILL);
    (void)reap_if_exited(gateway_pid_);
  }
  gateway_.reset();
  const auto targets = replicas_->targets();
  replicas_->stop_all(nullptr);
  for (const auto& [track, target] : targets) replicas_->set_target(track, target);
  (void)store_->replace_replicas(replicas_->records());
  (void)store_->set_setting("gateway", "{}");  // nothing to adopt
  event("stopped", "control plane stopped the gateway and every replica");
}

Status LocalPlatform::scale(int replicas) {
  if (replicas < 1 || replicas > 50) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--replicas must be 1..50, got " + std::to_string(replicas));
  }
  std::lock_guard lock(mu_);
  auto target = replicas_->target(active_);
  if (!target) return make_error(ErrorCode::kConflict, "no active track to scale");
  target->replicas = replicas;
  replicas_->set_target(active_, *target);
  stable_replicas_ = replicas;
  save_settings();
  event("scale", "track " + active_ + " (" + target->release + ") scaled to " +
                     std::to_string(replicas) + " replicas");
  return Status::ok();
}

json::object LocalPlatform::status() {
  std::lock_guard lock(mu_);
  json::object o;
  o["state_dir"] = fs::absolute(opts_.state_dir).string();
  o["gateway"] = json::object{{"listen", opts_.listen},
                              {"admin", opts_.admin_listen},
                              {"pid", gateway_pid_},
                              {"running", gateway_ != nullptr}};
  const auto active_target = replicas_->target(active_);
  o["active"] =
      json::object{{"colour", active_}, {"release", active_target ? active_target->release : ""}};
  json::object weights;
  for (const auto& [k, w] : weights_) weights[k] = w;
  o["weights"] = std::move(weights);
  json::object tracks;
  for (const char* track : kTracks) {
    auto target = replicas_->target(track);
    json::array reps;
    for (const auto& r : replicas_->replicas()) {
      if (r.track != track) continue;
      reps.push_back(json::object{{"address", r.address()},
                                  {"release", r.release},
                                  {"pid", r.pid},
                                  {"phase", replica_phase_name(r.phase)},
                                  {"restarts", r.restarts},
                                  {"last_exit", r.last_exit},
                                  {"log", r.log_file.string()}});
    }
    if (!target && reps.empty()) continue;
    json::object t;
    t["release"] = target ? target->release : "";
    t["desired"] = target ? target->replicas : 0;
    t["ready"] = target ? replicas_->ready_count(track, target->release) : 0;
    t["weight"] = weights_.count(track) ? weights_.at(track) : 0;
    t["replicas"] = std::move(reps);
    if (traffic_.size() >= 2) {
      const auto& [t0, old] = traffic_.front();
      const auto& [t1, cur] = traffic_.back();
      const control::TrafficSample d = cur.since(old, track);
      const double secs = std::chrono::duration<double>(t1 - t0).count();
      t["traffic"] = json::object{
          {"window_s", secs},
          {"rps", secs > 0 ? static_cast<double>(d.requests) / secs : 0.0},
          {"error_rate",
           d.requests > 0 ? static_cast<double>(d.errors) / static_cast<double>(d.requests) : 0.0},
          {"p95_ms", d.requests > 0 ? control::histogram_quantile(d, 0.95) * 1000.0 : 0.0}};
    }
    tracks[track] = std::move(t);
  }
  o["tracks"] = std::move(tracks);
  o["rollout"] = rollout_json();
  return o;
}

}  // namespace sg::platform
