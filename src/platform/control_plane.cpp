#include "platform/control_plane.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <cstdlib>

#include <fstream>
#include <thread>

#include "common/clock.hpp"
#include "common/host_port.hpp"
#include "common/http/blocking_client.hpp"
#include "common/unique_fd.hpp"
#include "common/http/http_server.hpp"
#include "platform/engine/control_api.hpp"
#include "platform/engine/engine.hpp"
#include "platform/engine/rollup_recorder.hpp"
#include "platform/kube/cluster_state.hpp"
#include "platform/kube/control_inbox.hpp"
#include "platform/kube/kube_backend.hpp"
#include "platform/kube/lease.hpp"
#include "platform/local/local_backend.hpp"
#include "platform/scrape_targets.hpp"
#include "platform/store/rollup_store.hpp"
#include "platform/store/state_store.hpp"

namespace sg::platform {
namespace fs = std::filesystem;

namespace {

// Prometheus options from the flags: the defaults for the namespace, queries replaced.
PromTrafficOptions prom_options(const KubePlaneOptions& k) {
  PromTrafficOptions o = default_prom_queries(k.ns);
  o.url = k.prometheus;
  if (!k.prom_requests.empty()) o.requests_query = k.prom_requests;
  if (!k.prom_errors.empty()) o.errors_query = k.prom_errors;
  if (!k.prom_latency.empty()) o.latency_query = k.prom_latency;
  return o;
}

// What a local replica may use: the CPUs this process (and so each replica it starts) may run
// on, and the machine's memory or, when lower, the memory limit of our cgroup (v2).
ReplicaLimits machine_limits() {
  ReplicaLimits out;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) out.cpu_cores = CPU_COUNT(&set);
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  double kib = 0;
  while (meminfo >> key >> kib) {
    if (key == "MemTotal:") {
      out.memory_bytes = kib * 1024.0;
      break;
    }
    meminfo.ignore(256, '\n');
  }
  std::ifstream self("/proc/self/cgroup");
  std::string line;
  while (std::getline(self, line)) {
    if (!line.starts_with("0::")) continue;
    std::ifstream max("/sys/fs/cgroup" + line.substr(3) + "/memory.max");
    double bytes = 0;
    if (max >> bytes && bytes > 0 && (!out.memory_bytes || bytes < *out.memory_bytes)) {
      out.memory_bytes = bytes;
    }
  }
  return out;
}

}  // namespace

struct LocalControlPlane::Parts {
  LocalPlaneOptions options;
  SystemClock clock;
  std::unique_ptr<StateStore> store;
  std::unique_ptr<RollupStore> rollups;
  std::unique_ptr<Backend> backend;
  KubeBackend* kube = nullptr;  // backend, when it is the Kubernetes one
  std::unique_ptr<Kubectl> kubectl;
  std::unique_ptr<ClusterState> cluster_state;
  std::function<bool()> keep_driving;  // the controller: while it holds the Lease
  bool save_failing = false;           // the last save to the cluster failed (reported once)
  std::string failure;                 // why the plane stopped driving on its own
  bool driving() const { return !keep_driving || keep_driving(); }
  std::unique_ptr<Engine> engine;
  std::unique_ptr<ControlApi> api;
  std::unique_ptr<http::HttpServer> server;
  std::string control_address;

  void event(const std::string& kind, const std::string& message) {
    (void)store->add_event(kind, message);
    std::fprintf(stderr, "%s %s: %s\n", iso8601_utc(unix_ms_now()).c_str(), kind.c_str(),
                 message.c_str());
  }
  Result<ReleaseSpec> resolve(const std::string& release) {
    auto spec = store->release(release);
    if (!spec) return spec.error();
    if (!*spec) {
      return make_error(ErrorCode::kNotFound,
                        "release '" + release +
                            "' is not in the catalog; add it with: sgctl release add " + release +
                            " --exec PATH");
    }
    return **spec;
  }
  Status open_backend();
  Status open_kube_backend();
  Status open_control_api();
};

LocalControlPlane::LocalControlPlane(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
LocalControlPlane::~LocalControlPlane() {
  if (parts_ && parts_->server) {
    parts_->server->stop_accepting();
    parts_->server->stop();
  }
  std::error_code ec;
  if (parts_) fs::remove(parts_->options.state_dir / "control-address", ec);
}

const std::string& LocalControlPlane::control_address() const { return parts_->control_address; }

Status LocalControlPlane::Parts::open_backend() {
  const fs::path& dir = options.state_dir;
  auto gateway_token = read_or_create_secret(dir / "gateway-admin-token");
  if (!gateway_token) return gateway_token.error();
  auto api_token = read_or_create_secret(dir / "api-token");
  if (!api_token) return api_token.error();
  std::error_code ec;
  fs::create_directories(dir / "media", ec);
  const std::string storage = options.storage.empty()
                                  ? "sqlite:" + fs::absolute(dir / "streamgate.db").string()
                                  : options.storage;
  LocalBackendOptions o;
  o.state_dir = dir;
  o.listen = options.listen;
  o.admin_listen = options.admin_listen;
  o.gateway_bin = options.gateway_bin;
  o.gateway_threads = options.gateway_threads;
  o.gateway_token = *gateway_token;
  o.drain_timeout = options.drain_timeout;
  o.grace_period = options.grace_period;
  o.restart_backoff = options.restart_backoff;
  o.session_drain = options.session_drain;
  o.pass_env = default_pass_env();
  o.pass_env.insert(o.pass_env.end(), options.pass_env.begin(), options.pass_env.end());
  o.admin_insecure_listen = options.insecure_listen;
  o.log_rotation = {.max_bytes = options.log_max_bytes, .keep = options.log_keep};
  o.replica_env = {{"STREAMGATE_STORAGE", storage},
                   {"STREAMGATE_CACHE", options.cache},
                   {"STREAMGATE_MEDIA_DIR", fs::absolute(dir / "media").string()},
                   {"STREAMGATE_API_TOKENS", *api_token},
                   {"STREAMGATE_DRAIN_DELAY", std::to_string(options.replica_drain_delay.count())},
                   {"STREAMGATE_GRACE_PERIOD", std::to_string(options.grace_period.count())}};
  auto backend = LocalBackend::open(
      std::move(o), [this](const std::string& r) { return resolve(r); },
      [this](const std::string& k, const std::string& m) { event(k, m); });
  if (!backend) return backend.error();
  this->backend = std::move(*backend);
  return Status::ok();
}

Status LocalControlPlane::Parts::open_kube_backend() {
  const KubePlaneOptions& k = options.kube;
  const bool replica_routing = k.routing == "replicas";
  std::string token;
  if (replica_routing) {
    // No gateway to configure or read.
  } else if (!k.gateway_token_file.empty()) {
    auto t = read_secret_file(k.gateway_token_file);
    if (!t) return t.error();
    if (!*t) return make_error(ErrorCode::kInvalidArgument, "--gateway-token-file " + k.gateway_token_file.string() + " does not exist");
    token = **t;
  } else if (const char* env = std::getenv("STREAMGATE_ADMIN_TOKEN"); env != nullptr) {
    token = env;
  }
  if (token.empty() && !replica_routing) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the gateway's admin token: pass --gateway-token-file FILE or set STREAMGATE_ADMIN_TOKEN");
  }
  KubeBackendOptions o;
  o.kubectl = {.kubectl = k.kubectl, .context = k.context, .ns = k.ns};
  o.gateway_admin = k.gateway_admin;
  o.gateway_selector = k.gateway_selector;
  o.routing = replica_routing ? KubeRouting::kReplicas : KubeRouting::kGateway;
  if (!k.prometheus.empty()) o.prometheus = prom_options(k);
  // No write to the cluster or the gateways once a controller lost its Lease.
  o.may_write = [this] { return driving(); };
  o.gateway_token = token;
  if (!k.controller) {
    // `up` next to a live controller would fight it (and lose at the first Conflict).
    Kubectl probe(o.kubectl);
    auto holder = live_lease_holder(probe, k.lease_name, std::chrono::seconds(30));
    if (holder && *holder) {
      return make_error(ErrorCode::kConflict,
                        "controller " + **holder + " holds lease " + k.lease_name + " in namespace " + k.ns +
                            " and drives it; sgctl deploy, status, ... reach it without sgctl up (docs/kubernetes.md)");
    }
  }
  auto backend = KubeBackend::open(o, [this](const std::string& kind, const std::string& m) { event(kind, m); });
  if (!backend) return backend.error();
  kube = backend->get();
  this->backend = std::move(*backend);
  kubectl = std::make_unique<Kubectl>(o.kubectl);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  cluster_state = std::make_unique<ClusterState>(*kubectl, std::string(host) + "/" + std::to_string(::getpid()));
  auto restored = cluster_state->restore(*store);
  if (!restored) return restored.error();
  if (!*restored && kube->active_colour() != "blue") {
    // A new state starts with blue active; the cluster says otherwise.
    return make_error(ErrorCode::kInvalidArgument,
                      "service streamgate-active selects version=" + kube->active_colour() +
                          " but there is no rollout state (configmap " + ClusterState::kName +
                          "); switch it back to blue or restore the ConfigMap");
  }
  return Status::ok();
}

Status LocalControlPlane::Parts::open_control_api() {
  // A controller in a cluster gets its token from a Secret (env SG_CONTROL_TOKEN), so an
  // operator's sgctl can call it through kubectl port-forward.
  const char* given = std::getenv("SG_CONTROL_TOKEN");
  if (options.kube.controller && given != nullptr && *given != '\0') {
    if (std::string_view(given).size() < 32) {
      return make_error(ErrorCode::kInvalidArgument, "SG_CONTROL_TOKEN must have at least 32 characters");
    }
    const fs::path file = options.state_dir / "control-token";
    const fs::path tmp = options.state_dir / "control-token.tmp";
    std::error_code ec;
    fs::remove(tmp, ec);
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    const std::string line = std::string(given) + "\n";
    if (!fd.valid() || ::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()) ||
        ::fsync(fd.get()) != 0) {
      return make_error(ErrorCode::kInvalidArgument, "writing " + tmp.string() + ": " + std::strerror(errno));
    }
    fd.reset();
    fs::rename(tmp, file, ec);
    if (ec) return make_error(ErrorCode::kInvalidArgument, "writing " + file.string() + ": " + ec.message());
  }
  auto token = read_or_create_secret(options.state_dir / "control-token");
  if (!token) return token.error();
  auto hp = parse_host_port(options.control_listen,
                            {.allow_port_zero = true, .require_ip_literal = true});
  if (!hp) return make_error(ErrorCode::kInvalidArgument, "--control-listen " + hp.error().message);
  api = std::make_unique<ControlApi>(*engine, *token, machine_limits());
  http::ServerOptions so;
  so.host = hp->host;
  so.port = hp->port;
  so.threads = 1;
  server = std::make_unique<http::HttpServer>(so, *api);
  if (Status st = server->start(); !st) {
    return make_error(ErrorCode::kUnavailable,
                      "control API on " + options.control_listen + ": " + st.error().message);
  }
  control_address = HostPort{hp->host, server->port()}.text();
  const fs::path tmp = options.state_dir / "control-address.tmp";
  std::ofstream(tmp, std::ios::trunc) << control_address << "\n";
  std::error_code ec;
  fs::rename(tmp, options.state_dir / "control-address", ec);
  return Status::ok();
}

namespace {

bool dns_name(const std::string& name, std::size_t max, bool dots) {
  if (name.empty() || name.size() > max) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool inner = c == '-' || (dots && c == '.');
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && !(inner && i > 0 && i + 1 < name.size())) return false;
  }
  return true;
}

// The Kubernetes options from flags: names Kubernetes accepts, a HOST:PORT, KEY=VALUE.
Status validate_kube_options(const KubePlaneOptions& k) {
  if (!dns_name(k.ns, 63, false)) {
    return make_error(ErrorCode::kInvalidArgument, "--namespace '" + k.ns + "' is not a namespace name (RFC 1123 label)");
  }
  if (!dns_name(k.lease_name, 253, true)) {
    return make_error(ErrorCode::kInvalidArgument, "--lease '" + k.lease_name + "' is not an object name");
  }
  if (k.context.find_first_of("\r\n") != std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument, "--context must be one line");
  }
  if (k.routing != "gateway" && k.routing != "replicas") {
    return make_error(ErrorCode::kInvalidArgument, "--routing must be gateway or replicas, got '" + k.routing + "'");
  }
  if (k.routing == "replicas" && k.prometheus.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--routing replicas reads per-track traffic from Prometheus: add --prometheus URL (env SG_PROMETHEUS)");
  }
  if (!k.prometheus.empty()) {
    if (std::string bad = validate_prom_options(prom_options(k)); !bad.empty()) {
      return make_error(ErrorCode::kInvalidArgument, bad);
    }
  }
  if (!k.gateway_admin.empty()) {
    if (auto hp = parse_host_port(k.gateway_admin); !hp) {
      return make_error(ErrorCode::kInvalidArgument, "--gateway-admin " + hp.error().message);
    }
  } else {
    const auto eq = k.gateway_selector.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == k.gateway_selector.size()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "--gateway-selector must be KEY=VALUE, got '" + k.gateway_selector + "'");
    }
  }
  return Status::ok();
}

// A state dir holds one platform's state: the local one, or one Kubernetes context and
// namespace (its state.db is then a cache of that namespace's ConfigMap). STATE_DIR/platform
// says which; another platform is refused rather than mixed in.
Status claim_state_dir(const LocalPlaneOptions& o) {
  std::string want = "local";
  if (o.kube.enabled) {
    std::string context = o.kube.context;
    if (context.empty()) {
      KubectlOptions ko;
      ko.kubectl = o.kube.kubectl;
      ko.ns = o.kube.ns;
      auto current = Kubectl(ko).run({"config", "current-context"});
      if (!current) return current.error();
      context = current->substr(0, current->find_first_of("\r\n"));
    }
    want = "kubernetes " + context + "/" + o.kube.ns;
  }
  const fs::path file = o.state_dir / "platform";
  std::error_code ec;
  if (fs::exists(file, ec)) {
    std::string found;
    std::getline(std::ifstream(file), found);
    if (found == want) return Status::ok();
    return make_error(ErrorCode::kInvalidArgument, "state dir " + o.state_dir.string() + " holds the state of " +
                                                       found + "; use another --state-dir for " + want);
  }
  if (o.kube.enabled && fs::exists(o.state_dir / "state.db", ec)) {
    return make_error(ErrorCode::kInvalidArgument, "state dir " + o.state_dir.string() +
                                                       " holds the local platform's state; use another "
                                                       "--state-dir for " + want);
  }
  std::ofstream(file, std::ios::trunc) << want << "\n";
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<LocalControlPlane>> LocalControlPlane::start(LocalPlaneOptions options) {
  if (const std::string bad = control::validate(options.session_drain); !bad.empty()) {
    return make_error(ErrorCode::kInvalidArgument, bad);
  }
  if (options.kube.enabled) {
    if (Status st = validate_kube_options(options.kube); !st) return st.error();
  }
  if (Status st = claim_state_dir(options); !st) return st.error();
  auto parts = std::make_unique<Parts>();
  parts->options = std::move(options);
  const LocalPlaneOptions& o = parts->options;
  auto store = StateStore::open(o.state_dir);
  if (!store) return store.error();
  parts->store = std::move(*store);
  auto rollups = RollupStore::open(o.state_dir);
  if (!rollups) return rollups.error();
  parts->rollups = std::move(*rollups);
  if (!o.server_bin.empty()) {
    auto existing = parts->store->release(SG_VERSION);
    if (existing && !*existing) {
      (void)parts->store->put_release({SG_VERSION, fs::absolute(o.server_bin).string(), {}, {}});
    }
  }
  if (Status st = o.kube.enabled ? parts->open_kube_backend() : parts->open_backend(); !st) {
    return st.error();
  }
  EngineOptions eo;
  eo.state_dir = fs::absolute(o.state_dir).string();
  eo.initial_release = o.release.empty() ? std::string(SG_VERSION) : o.release;
  eo.release_given = !o.release.empty();
  eo.initial_replicas = o.replicas;
  eo.tick = o.tick;
  Parts* p = parts.get();
  eo.check_release = [p](const std::string& release) { return p->resolve(release).status(); };
  if (p->kube != nullptr) {
    // What the cluster runs is the first state; a release is an image tag (any valid name:
    // the registry, not a catalog, says whether it exists).
    const KubeTrack& blue = p->kube->tracks().at("blue");
    if (o.release.empty()) eo.initial_release = blue.release;
    if (blue.replicas > 0) eo.initial_replicas = blue.replicas;
    eo.check_release = [](const std::string& release) {
      if (Status st = validate_release_name(release); !st) return st;
      if (release.front() == '.' || release.front() == '-') {  // an image tag cannot start so
        return Status(make_error(ErrorCode::kInvalidArgument,
                                 "release '" + release + "' cannot be an image tag: it starts with '" +
                                     release.front() + "'"));
      }
      return Status::ok();
    };
    eo.after_tick = [p] {
      if (!p->driving()) {
        p->event("lease_lost", "stopped driving: this controller no longer holds the lease");
        return false;
      }
      Status st = p->cluster_state->save(*p->store);
      if (st) {
        if (p->save_failing) p->event("state_saved", "the rollout state is written to the cluster again");
        p->save_failing = false;
        return true;
      }
      if (st.error().code == ErrorCode::kConflict) {  // another writer: stop driving
        p->failure = st.error().message;
        p->event("state_save_failed", st.error().message);
        return false;
      }
      if (!p->save_failing) p->event("state_save_failed", st.error().message + " (reported once until it works)");
      p->save_failing = true;
      return true;
    };
  }
  parts->engine = std::make_unique<Engine>(std::move(eo), *parts->backend, *parts->store,
                                           parts->clock);
  if (Status st = parts->engine->start(); !st) return st.error();
  if (Status st = parts->open_control_api(); !st) return st.error();
  return std::unique_ptr<LocalControlPlane>(new LocalControlPlane(std::move(parts)));
}

Status LocalControlPlane::run(const std::atomic<bool>& stop) {
  // Every second: Prometheus's file-based discovery (scrape_targets.hpp) and the rollups
  // behind `sgctl report`, both from one status.
  std::atomic<bool> done{false};
  std::thread observer([this, &stop, &done] {
    ScrapeTargets files(parts_->options.state_dir / "prometheus");
    RollupRecorder recorder(parts_->options.rollup_period);
    bool targets_warned = false;
    bool rollups_warned = false;
    while (!stop.load() && !done.load()) {
      const PlatformStatus status = parts_->engine->status();
      Status st = files.update(status, parts_->control_address);
      if (!st && !targets_warned) {
        parts_->event("warning", "scrape targets: " + st.error().message);
      }
      targets_warned = targets_warned || !st;
      const std::optional<TrackTraffic> traffic = parts_->engine->latest_traffic();
      const std::int64_t now = unix_ms_now();
      if (auto batch = recorder.observe(now, status, traffic ? &*traffic : nullptr)) {
        Status saved = parts_->rollups->add(batch->tracks, batch->replicas, now);
        if (!saved && !rollups_warned) {
          parts_->event("warning", "rollups for sgctl report: " + saved.error().message);
        }
        rollups_warned = !saved;  // warn again after a success
      }
      for (int i = 0; i < 10 && !stop.load() && !done.load(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  });
  parts_->engine->run(stop);
  done.store(true);
  observer.join();
  if (parts_->cluster_state && parts_->driving() && parts_->failure.empty()) {
    // The last changes (a save may have been held back by its 2 s spacing).
    if (Status st = parts_->cluster_state->save(*parts_->store, std::chrono::milliseconds(0)); !st) {
      parts_->event("state_save_failed", st.error().message);
    }
  }
  if (!parts_->failure.empty()) return make_error(ErrorCode::kConflict, parts_->failure);
  return Status::ok();
}

namespace {

// What a controller that does not hold the Lease answers on its control API's address:
// /health 200 (it is alive: the liveness probe passes) and 503 to everything else.
class StandbyApi final : public http::Handler {
 public:
  explicit StandbyApi(std::string lease) : lease_(std::move(lease)) {}
  http::Response handle(http::Request& req, const http::RequestContext&) override {
    const std::string target(req.target());
    if (target.substr(0, target.find('?')) == "/health" && req.method() == boost::beast::http::verb::get) {
      return http::json_response(boost::json::object{{"status", "standby"}, {"lease", lease_}});
    }
    return http::json_error(boost::beast::http::status::service_unavailable, "unavailable",
                            "this controller does not hold lease " + lease_ +
                                "; the replica that holds it drives the rollout");
  }

 private:
  std::string lease_;
};

// The standby API on options.control_listen while waiting for the Lease; none when the
// address is taken (the probe then fails until the plane binds it).
std::unique_ptr<http::HttpServer> start_standby(const LocalPlaneOptions& options, StandbyApi& api) {
  auto hp = parse_host_port(options.control_listen, {.allow_port_zero = true, .require_ip_literal = true});
  if (!hp || hp->port == 0) return nullptr;
  http::ServerOptions so;
  so.host = hp->host;
  so.port = hp->port;
  so.threads = 1;
  auto server = std::make_unique<http::HttpServer>(so, api);
  if (!server->start()) return nullptr;
  return server;
}

// While this controller drives: answers the operators' requests that came through ConfigMap
// streamgate-control-requests (kube/control_inbox.hpp) with its own control API, about once a
// second.
void serve_inbox(const LocalPlaneOptions& options, const std::string& control_address, const LeaderLease& lease,
                 const std::atomic<bool>& stop, const std::atomic<bool>& done) {
  std::string address = control_address;
  if (auto hp = parse_host_port(control_address); hp && (hp->host == "0.0.0.0" || hp->host == "::")) {
    address = HostPort{"127.0.0.1", hp->port}.text();
  }
  auto token = read_secret_file(options.state_dir / "control-token");
  if (!token || !*token) return;
  const std::string bearer = "Bearer " + **token;
  const Kubectl kubectl({.kubectl = options.kube.kubectl, .context = options.kube.context, .ns = options.kube.ns,
                         .timeout = std::chrono::seconds(5)});
  const auto handle = [&](const InboxRequest& r) {
    std::fprintf(stderr, "%s control: %s %s from %s (through configmap %s)\n", iso8601_utc(unix_ms_now()).c_str(),
                 r.method.c_str(), r.path.c_str(), r.by.c_str(), kControlRequests);
    http::ClientRequest req;
    req.method = r.method == "POST" ? boost::beast::http::verb::post : boost::beast::http::verb::get;
    req.target = r.path;
    req.body = r.body;
    req.headers = {{"Authorization", bearer}, {"Content-Type", "application/json"}};
    req.timeout = std::chrono::seconds(30);
    const http::ClientReply reply = http::blocking_call(address, req);
    if (reply.status == 0) {
      return InboxResponse{503, R"({"error":{"code":"unavailable","message":"the controller's control API did not answer"}})"};
    }
    return InboxResponse{reply.status, reply.body};
  };
  bool failing = false;
  while (!stop.load() && !done.load()) {
    if (lease.holding()) {
      auto served = serve_control_requests(kubectl, handle, unix_ms_now());
      if (!served && !failing) {
        std::fprintf(stderr, "%s control: reading configmap %s: %s\n", iso8601_utc(unix_ms_now()).c_str(),
                     kControlRequests, served.error().message.c_str());
      }
      failing = !served;
    }
    for (int i = 0; i < 10 && !stop.load() && !done.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace

Status run_kube_controller(LocalPlaneOptions options, const std::atomic<bool>& stop,
                           const std::function<void(const std::string&)>& started) {
  options.kube.enabled = true;
  if (Status st = validate_kube_options(options.kube); !st) return st;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const std::string identity = std::string(host) + "/" + std::to_string(::getpid());
  auto say = [](const std::string& kind, const std::string& message) {
    std::fprintf(stderr, "%s %s: %s\n", iso8601_utc(unix_ms_now()).c_str(), kind.c_str(), message.c_str());
  };
  LeaderLease lease({.kubectl = options.kube.kubectl, .context = options.kube.context, .ns = options.kube.ns},
                    {.name = options.kube.lease_name, .identity = identity, .duration = options.kube.lease_duration},
                    say);
  say("controller", identity + " waiting for lease " + options.kube.lease_name + " in namespace " +
                        options.kube.ns);
  StandbyApi standby_api(options.kube.lease_name);
  while (!stop.load()) {
    auto standby = start_standby(options, standby_api);
    const bool acquired = lease.acquire(stop);
    if (standby) {
      standby->stop_accepting();
      standby->stop();
      standby.reset();
    }
    if (!acquired) break;
    auto plane = LocalControlPlane::start(options);
    if (!plane) {
      lease.release();
      return plane.error();
    }
    (*plane)->parts_->keep_driving = [&lease] { return lease.holding(); };
    started((*plane)->control_address());
    std::atomic<bool> done{false};
    std::thread inbox([&] { serve_inbox(options, (*plane)->control_address(), lease, stop, done); });
    const Status ran = (*plane)->run(stop);
    done = true;
    inbox.join();
    plane->reset();
    if (stop.load()) break;
    // Lost the Lease, or another writer changed the rollout state: hand the Lease over (if
    // still held), wait, and compete again.
    say("controller", ran ? std::string("lease lost; waiting to acquire it again")
                          : "stopped driving: " + ran.error().message + "; waiting to acquire the lease again");
    lease.release();
    for (int i = 0; i < 20 && !stop.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  lease.release();
  return Status::ok();
}

}  // namespace sg::platform
