#include "platform/kube/kube_backend.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>

#include "common/host_port.hpp"
#include "control/synthetic.hpp"
#include "platform/kube/json_path.hpp"

namespace sg::platform {
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kTracks[] = {"blue", "green", "canary"};

// The first container's port named `name`, else its first port, else `fallback`.
int named_port(const json::value& pod, std::string_view name, int fallback) {
  const json::array* containers = array_at(pod, {"spec", "containers"});
  if (containers == nullptr || containers->empty()) return fallback;
  const json::array* ports = array_at((*containers)[0], {"ports"});
  if (ports == nullptr || ports->empty()) return fallback;
  for (const auto& p : *ports) {
    if (text_at(p, {"name"}) == name) return static_cast<int>(int_at(p, {"containerPort"}));
  }
  return static_cast<int>(int_at((*ports)[0], {"containerPort"}));
}

}  // namespace

int canary_replicas_for_weight(int stable_replicas, int weight, int min_replicas) {
  if (weight <= 0) return 0;
  const int stable = std::max(stable_replicas, 1);
  if (weight >= 100) return std::max({stable, min_replicas, 1});  // all traffic: a full set
  // The count whose share n / (stable + n) is nearest the weight (at most 9 per stable pod).
  const double w = std::min(weight, 90) / 100.0;
  const double exact = stable * w / (1 - w);
  int best = 1;
  for (const int n : {static_cast<int>(std::floor(exact)), static_cast<int>(std::ceil(exact))}) {
    if (n < 1) continue;
    const auto off = [&](int k) { return std::abs(static_cast<double>(k) / (stable + k) - w); };
    if (off(n) < off(best)) best = n;
  }
  return std::max(best, min_replicas);
}

void add_traffic(TrackTraffic& into, const TrackTraffic& more) {
  for (const auto& [track, m] : more.tracks) {
    control::TrafficSample& t = into.tracks[track];
    t = control::merge_samples(std::move(t), m);
  }
}

std::pair<std::string, std::string> split_image(const std::string& image) {
  const std::string name = image.substr(0, image.find('@'));
  const auto slash = name.rfind('/');
  const auto colon = name.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) {
    return {name, "latest"};
  }
  return {name.substr(0, colon), name.substr(colon + 1)};
}

std::optional<ReplicaInfo> replica_from_pod(const json::value& pod, bool was_ready) {
  ReplicaInfo r;
  r.track = text_at(pod, {"metadata", "labels", "version"});
  if (std::find(std::begin(kTracks), std::end(kTracks), r.track) == std::end(kTracks)) {
    return std::nullopt;
  }
  r.name = text_at(pod, {"metadata", "name"});
  r.log = "pod/" + r.name;
  if (const json::array* containers = array_at(pod, {"spec", "containers"});
      containers != nullptr && !containers->empty()) {
    r.release = split_image(text_at((*containers)[0], {"image"})).second;
  }
  const std::string ip = text_at(pod, {"status", "podIP"});
  if (!ip.empty()) r.address = ip + ":" + std::to_string(named_port(pod, "http", 9090));
  bool ready = false;
  if (const json::array* conds = array_at(pod, {"status", "conditions"})) {
    for (const auto& c : *conds) {
      if (text_at(c, {"type"}) == "Ready") ready = text_at(c, {"status"}) == "True";
    }
  }
  bool backoff = false;
  if (const json::array* statuses = array_at(pod, {"status", "containerStatuses"})) {
    for (const auto& s : *statuses) {
      r.restarts += static_cast<int>(int_at(s, {"restartCount"}));
      const std::string waiting = text_at(s, {"state", "waiting", "reason"});
      // A container that exits and restarts, or whose image cannot be pulled (a release tag
      // that does not exist): neither will serve.
      if (waiting == "CrashLoopBackOff" || waiting == "ImagePullBackOff" || waiting == "ErrImagePull" ||
          waiting == "InvalidImageName" || json_at(s, {"state", "terminated"}) != nullptr) {
        backoff = true;
        if (waiting != "CrashLoopBackOff" && !waiting.empty()) r.last_exit = waiting;
      }
      if (const json::value* term = json_at(s, {"lastState", "terminated"})) {
        const std::string reason = text_at(*term, {"reason"});
        if (const std::int64_t sig = int_at(*term, {"signal"}); sig != 0) {
          r.last_exit = "signal " + std::to_string(sig);
        } else {
          r.last_exit = "exit " + std::to_string(int_at(*term, {"exitCode"}));
        }
        if (!reason.empty()) r.last_exit += " (" + reason + ")";
      }
    }
  }
  if (json_at(pod, {"metadata", "deletionTimestamp"}) != nullptr &&
      !json_at(pod, {"metadata", "deletionTimestamp"})->is_null()) {
    r.phase = ReplicaPhase::kTerminating;
  } else if (backoff) {
    r.phase = ReplicaPhase::kBackoff;
  } else if (ready) {
    r.phase = ReplicaPhase::kReady;
  } else {
    r.phase = was_ready ? ReplicaPhase::kUnready : ReplicaPhase::kStarting;
  }
  return r;
}

KubeBackend::KubeBackend(KubeBackendOptions options, EventFn events)
    : opts_(std::move(options)), kubectl_(opts_.kubectl), events_(std::move(events)) {
  if (opts_.prometheus) prometheus_.emplace(*opts_.prometheus);
  if (const auto eq = opts_.gateway_selector.find('='); eq != std::string::npos) {
    gateway_key_.emplace(opts_.gateway_selector.substr(0, eq), opts_.gateway_selector.substr(eq + 1));
  }
}

Result<std::unique_ptr<KubeBackend>> KubeBackend::open(KubeBackendOptions options, EventFn events) {
  std::unique_ptr<KubeBackend> b(new KubeBackend(std::move(options), std::move(events)));
  if (Status st = b->read_namespace(); !st) return st.error();
  std::vector<std::string> missing;
  for (const char* track : kTracks) {
    if (!b->tracks_[track].exists) missing.push_back("deployment/" + b->opts_.prefix + track);
  }
  if (b->active_.empty()) missing.push_back("service/" + b->opts_.prefix + "active");
  if (b->opts_.routing == KubeRouting::kReplicas && !b->live_service_) {
    missing.push_back("service/" + b->opts_.prefix + "live (needed by --routing replicas)");
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    return make_error(ErrorCode::kNotFound,
                      "namespace " + b->opts_.kubectl.ns + " lacks " + list +
                          " (apply the blue-green overlay: kubectl apply -k deploy/k8s/overlays/blue-green)");
  }
  for (const char* track : kTracks) {
    if (b->tracks_[track].container.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "deployment/" + b->opts_.prefix + track + " has no container to set the image of");
    }
  }
  if (b->active_ != "blue" && b->active_ != "green") {
    return make_error(ErrorCode::kInvalidArgument,
                      "service " + b->opts_.prefix + "active selects version=" + b->active_ +
                          "; sgctl drives the blue-green layout (version=blue or green)");
  }
  return b;
}

void KubeBackend::problem(const std::string& key, const std::string& message) {
  if (problems_.insert(key).second) events_(key, message + " (reported once until it works again)");
}

void KubeBackend::solved(const std::string& key) {
  if (problems_.erase(key) > 0) events_(key + "_solved", key + ": works again");
}

Status KubeBackend::read_namespace() {
  auto list = kubectl_.get_json({"get", "deployments,services,pods"});
  if (!list) return list.error();
  const json::array* items = array_at(*list, {"items"});
  if (items == nullptr) return make_error(ErrorCode::kUnavailable, "kubectl get: no items");
  std::map<std::string, KubeTrack> tracks;
  std::vector<ReplicaInfo> replicas;
  std::set<std::string> ready_now;
  std::map<std::string, std::string> gateways;
  std::map<std::string, bool> live;
  bool live_service = false, live_by_label = false;
  std::string live_version;
  const bool find_gateways = opts_.gateway_admin.empty() && opts_.routing == KubeRouting::kGateway;
  for (const auto& item : *items) {
    const std::string kind = text_at(item, {"kind"});
    const std::string name = text_at(item, {"metadata", "name"});
    if (kind == "Deployment" && name.starts_with(opts_.prefix)) {
      const std::string track = name.substr(opts_.prefix.size());
      if (std::find(std::begin(kTracks), std::end(kTracks), track) == std::end(kTracks)) continue;
      KubeTrack t;
      t.exists = true;
      t.replicas = static_cast<int>(int_at(item, {"spec", "replicas"}));
      if (const json::array* cs = array_at(item, {"spec", "template", "spec", "containers"});
          cs != nullptr && !cs->empty()) {
        t.container = text_at((*cs)[0], {"name"});
        std::tie(t.repository, t.release) = split_image(text_at((*cs)[0], {"image"}));
      }
      tracks[track] = t;
    } else if (kind == "Service" && name == opts_.prefix + "active") {
      active_ = text_at(item, {"spec", "selector", "version"});
    } else if (kind == "Service" && name == opts_.prefix + "preview") {
      preview_ = text_at(item, {"spec", "selector", "version"});
    } else if (kind == "Service" && name == opts_.prefix + "live") {
      live_service = true;
      live_version = text_at(item, {"spec", "selector", "version"});
      live_by_label = text_at(item, {"spec", "selector", kLiveLabel}) == "true";
    } else if (kind == "Pod" && find_gateways && gateway_key_.has_value() &&
               text_at(item, {"metadata", "labels", gateway_key_->first}) == gateway_key_->second) {
      bool ready = false;
      if (const json::array* conds = array_at(item, {"status", "conditions"})) {
        for (const auto& c : *conds) {
          if (text_at(c, {"type"}) == "Ready") ready = text_at(c, {"status"}) == "True";
        }
      }
      const json::value* deleting = json_at(item, {"metadata", "deletionTimestamp"});
      const std::string ip = text_at(item, {"status", "podIP"});
      if (ready && (deleting == nullptr || deleting->is_null()) && !ip.empty()) {
        gateways[name] = ip + ":" + std::to_string(named_port(item, "admin", 8081));
      }
    } else if (kind == "Pod") {
      const bool was_ready = ready_pods_.contains(name);
      auto r = replica_from_pod(item, was_ready);
      if (!r) continue;
      if (r->phase == ReplicaPhase::kReady) ready_now.insert(name);
      live[name] = text_at(item, {"metadata", "labels", kLiveLabel}) == "true";
      if (was_ready && r->phase == ReplicaPhase::kUnready) ++flaps_[name];
      r->readiness_flaps = flaps_[name];
      replicas.push_back(std::move(*r));
    }
  }
  // Pods seen ready stay remembered while they exist (an unready one may come back).
  std::set<std::string> keep;
  for (const auto& r : replicas) {
    if (ready_now.contains(r.name) || ready_pods_.contains(r.name)) keep.insert(r.name);
  }
  ready_pods_ = std::move(keep);
  std::erase_if(flaps_, [&](const auto& f) {
    return std::none_of(replicas.begin(), replicas.end(), [&](const ReplicaInfo& r) { return r.name == f.first; });
  });
  std::sort(replicas.begin(), replicas.end(),
            [](const ReplicaInfo& a, const ReplicaInfo& b) { return a.name < b.name; });
  tracks_ = std::move(tracks);
  replicas_ = std::move(replicas);
  pod_live_ = std::move(live);
  live_service_ = live_service;
  live_version_ = live_version;
  live_by_label_ = live_by_label;
  if (opts_.routing == KubeRouting::kReplicas) {
    gateway_targets_.clear();
  } else if (opts_.gateway_admin.empty()) {
    gateway_targets_ = std::move(gateways);
  } else {
    gateway_targets_ = {{opts_.gateway_admin, opts_.gateway_admin}};
  }
  return Status::ok();
}

void KubeBackend::set_track(const std::string& track, const control::TrackTarget& target) {
  desired_[track] = target;
}

void KubeBackend::set_weights(const std::map<std::string, int>& weights) { weights_ = weights; }

void KubeBackend::connect_gateways(std::chrono::steady_clock::time_point now) {
  // Gone (or no longer ready) gateways leave; the sum of counters changes: a new epoch.
  for (auto it = gateways_.begin(); it != gateways_.end();) {
    if (gateway_targets_.contains(it->first)) {
      ++it;
      continue;
    }
    events_("gateway", "gateway " + it->first + " left");
    it = gateways_.erase(it);
    ++traffic_epoch_;
    last_total_ = 0;
  }
  for (const auto& [name, admin] : gateway_targets_) {
    if (gateways_.contains(name)) continue;
    if (auto r = gateway_retry_.find(name); r != gateway_retry_.end() && now < r->second) continue;
    gateway_retry_[name] = now + 2s;
    auto client = std::make_unique<GatewayClient>(resolve_host_port(admin), opts_.gateway_token);
    auto cfg = client->config();
    if (!cfg) {
      problem("gateway_unreachable", "gateway admin " + admin + ": " + cfg.error().message);
      continue;
    }
    solved("gateway_unreachable");
    events_("gateway", "configuring gateway " + name + (name == admin ? "" : " at " + admin));
    gateways_[name] = Gateway{std::move(client), *cfg, std::nullopt};
    // A gateway joining the sum starts a new epoch, except those found at start: the
    // baseline a resumed rollout restored from the cluster was read from them (a counter
    // that went backwards meanwhile still counts from zero: TrackTraffic::since).
    if (connected_once_) {
      ++traffic_epoch_;
      last_total_ = 0;
    }
  }
  if (!gateways_.empty()) connected_once_ = true;
  for (auto it = gateway_retry_.begin(); it != gateway_retry_.end();) {
    it = gateway_targets_.contains(it->first) ? std::next(it) : gateway_retry_.erase(it);
  }
}

gateway::GatewayConfig KubeBackend::desired_gateway_config(
    const gateway::GatewayConfig& base, const std::optional<gateway::GatewayConfig>& applied) const {
  gateway::GatewayConfig c = base;
  c.tracks.clear();
  c.route.weights.clear();
  for (const char* track : kTracks) {
    std::vector<std::string> eps = track_endpoints(track);
    const auto w = weights_.find(track);
    const bool weighted = w != weights_.end() && w->second > 0;
    if (eps.empty() && weighted && applied) {
      // No pod ready right now: keep what the gateway has rather than pointing at nothing.
      if (auto it = applied->tracks.find(track); it != applied->tracks.end()) eps = it->second.endpoints;
    }
    if (eps.empty() && !weighted) continue;
    c.tracks[track].endpoints = std::move(eps);
    if (weighted) c.route.weights.push_back({track, w->second});
  }
  return c;
}

void KubeBackend::sync_routes() {
  apply_routes();
  // The engine calls this at the end of each tick and after a command, under its lock: the
  // Service and the Deployments follow the decision before anyone can read its result (the
  // runbook checks .spec.replicas right after the script returns).
  apply_desired();
}

void KubeBackend::verify_gateways(std::chrono::steady_clock::time_point now) {
  // A gateway container restarted in its pod comes back with the ConfigMap's routes: compare
  // what each has with what we applied every few seconds, and apply ours again.
  if (now < next_verify_) return;
  next_verify_ = now + 5s;
  for (auto& [name, g] : gateways_) {
    if (!g.applied) continue;
    auto cfg = g.client->config();
    if (!cfg || *cfg == *g.applied) continue;
    events_("gateway", "gateway " + name + " does not have our routes (restarted?); applying them again");
    g.base = *cfg;
    g.applied.reset();
    ++traffic_epoch_;
    last_total_ = 0;
  }
}

bool KubeBackend::may_write() const {
  return fresh_ && (!opts_.may_write || opts_.may_write());
}

void KubeBackend::apply_routes() {
  if (weights_.empty() || !may_write()) return;
  if (opts_.routing == KubeRouting::kReplicas) return apply_live_labels();
  for (auto it = gateways_.begin(); it != gateways_.end();) {
    Gateway& g = it->second;
    gateway::GatewayConfig cfg = desired_gateway_config(g.base, g.applied);
    if ((g.applied && *g.applied == cfg) || !gateway::validate_gateway_config(cfg)) {
      ++it;  // unchanged, or it would point the route at nothing
      continue;
    }
    if (auto st = g.client->apply(cfg); !st) {
      problem("gateway_sync_failed", "gateway " + it->first + ": " + st.error().message);
      it = gateways_.erase(it);  // reconnect (and re-read its config) at the next reconcile
      ++traffic_epoch_;
      last_total_ = 0;
      continue;
    }
    solved("gateway_sync_failed");
    g.applied = cfg;
    ++it;
  }
}

bool KubeBackend::label_pods(const std::vector<std::string>& pods, bool live) {
  if (pods.empty()) return true;
  std::vector<std::string> args = {"label", "pod"};
  args.insert(args.end(), pods.begin(), pods.end());
  args.push_back(std::string(kLiveLabel) + (live ? "=true" : "-"));
  args.push_back("--overwrite");
  const std::string key = live ? "pod_label_failed" : "pod_unlabel_failed";
  if (auto st = kubectl_.run(args); !st) {
    problem(key, st.error().message);  // e.g. a pod gone since the read: the next read says
    return false;
  }
  solved(key);
  std::string names;
  for (const auto& p : pods) {
    pod_live_[p] = live;
    names += (names.empty() ? "" : ", ") + p;
  }
  events_("service", std::string(kLiveLabel) + (live ? "=true on " : " removed from ") + names);
  return true;
}

bool KubeBackend::patch_live_selector(const boost::json::object& selector, const std::string& what) {
  Status st = kubectl_.merge_patch("service/" + opts_.prefix + "live",
                                   json::object{{"spec", json::object{{"selector", selector}}}});
  if (!st) {
    problem("live_service_patch_failed", st.error().message);
    return false;
  }
  solved("live_service_patch_failed");
  events_("service", opts_.prefix + "live selects " + what);
  return true;
}

void KubeBackend::apply_live_labels() {
  // Service streamgate-live selects version=<active colour> outside a canary, like
  // streamgate-active, so it needs nobody to keep labelling pods that Kubernetes replaces.
  // While a canary has weight it selects streamgate.dev/live=true, the label sgctl keeps on
  // the pods of every weighted track. Order: label the pods, then point the selector at the
  // label once every weighted track has a ready labelled pod (the canary alone: as many as
  // the stable colour had); back to version=<colour> first, then unlabel.
  std::vector<std::string> join, leave;
  std::map<std::string, int> ready_live;
  for (const ReplicaInfo& r : replicas_) {
    if (r.phase == ReplicaPhase::kTerminating) continue;
    const auto w = weights_.find(r.track);
    const bool weighted = w != weights_.end() && w->second > 0;
    const bool live = pod_live_[r.name];
    if (weighted && !live) join.push_back(r.name);
    if (!weighted && live) leave.push_back(r.name);
  }
  if (!label_pods(join, true)) return;  // never narrow the Service on a failed join
  for (const ReplicaInfo& r : replicas_) {
    if (r.phase == ReplicaPhase::kReady && pod_live_[r.name]) ++ready_live[r.track];
  }
  const std::string colour = weighted_colour();
  if (canary_weight() > 0) {
    bool covered = true;
    for (const auto& [track, w] : weights_) {
      if (w <= 0) continue;
      int need = 1;
      if (track == "canary" && colour.empty()) need = std::max(1, stable_replicas());
      covered = covered && ready_live[track] >= need;
    }
    if (!live_by_label_) {
      if (!covered || !patch_live_selector(json::object{{"version", nullptr}, {kLiveLabel, "true"}},
                                           std::string(kLiveLabel) + "=true (a canary has weight)")) {
        return;
      }
      live_by_label_ = true;
      live_version_.clear();
    }
    if (covered) label_pods(leave, false);
    return;
  }
  if (colour.empty()) return;
  if (live_by_label_ || live_version_ != colour) {
    if (!patch_live_selector(json::object{{"version", colour}, {kLiveLabel, nullptr}}, "version=" + colour)) return;
    live_by_label_ = false;
    live_version_ = colour;
  }
  label_pods(leave, false);  // the selector does not use the label now
}

std::string KubeBackend::weighted_colour() const {
  // The engine weights one colour at a time outside a blue-green switch, which moves 100 %
  // at once.
  std::string colour;
  int best = 0;
  for (const char* c : {"blue", "green"}) {
    if (auto w = weights_.find(c); w != weights_.end() && w->second > best) {
      best = w->second;
      colour = c;
    }
  }
  return colour;
}

int KubeBackend::stable_replicas() const {
  // With no colour weighted (a canary step of 100 %), the active colour as the Service says.
  std::string colour = weighted_colour();
  if (colour.empty()) colour = active_;
  const auto d = desired_.find(colour);
  return d == desired_.end() ? 0 : d->second.replicas;
}

int KubeBackend::canary_weight() const {
  const auto w = weights_.find("canary");
  return w == weights_.end() ? 0 : w->second;
}

int KubeBackend::effective_replicas(const std::string& track, const control::TrackTarget& target) const {
  if (opts_.routing != KubeRouting::kReplicas || track != "canary" || canary_weight() <= 0) return target.replicas;
  return canary_replicas_for_weight(stable_replicas(), canary_weight(), target.replicas);
}

void KubeBackend::apply_desired() {
  if (!may_write()) return;
  apply_active_service();
  apply_deployments();
}

void KubeBackend::apply_active_service() {
  const std::string colour = weighted_colour();
  if (colour.empty()) return;
  const std::string other = colour == "blue" ? "green" : "blue";
  for (const auto& [service, version, seen] :
       {std::tuple{opts_.prefix + "active", colour, active_}, std::tuple{opts_.prefix + "preview", other, preview_}}) {
    if (seen == version || (service.ends_with("preview") && preview_.empty())) continue;
    Status st = kubectl_.merge_patch("service/" + service,
                                     json::object{{"spec", json::object{{"selector", json::object{{"version", version}}}}}});
    if (!st) {
      problem("service_patch_failed", st.error().message);
      continue;
    }
    solved("service_patch_failed");
    events_("service", service + " selects version=" + version);
    (service.ends_with("active") ? active_ : preview_) = version;
  }
}

void KubeBackend::apply_deployments() {
  for (const auto& [track, target] : desired_) {
    auto it = tracks_.find(track);
    if (it == tracks_.end() || !it->second.exists) continue;
    KubeTrack& t = it->second;
    const int replicas = effective_replicas(track, target);
    const bool release_differs = !target.release.empty() && t.release != target.release;
    if (!release_differs && t.replicas == replicas) continue;
    json::object spec{{"replicas", replicas}};
    if (release_differs) {
      spec["template"] = json::object{
          {"metadata", json::object{{"annotations", json::object{{"streamgate.dev/release", target.release}}}}},
          {"spec", json::object{{"containers", json::array{json::object{
                                                   {"name", t.container},
                                                   {"image", t.repository + ":" + target.release},
                                                   {"env", json::array{json::object{
                                                               {"name", "STREAMGATE_VERSION_LABEL"},
                                                               {"value", target.release}}}}}}}}}};
    }
    auto st = kubectl_.run({"patch", "deployment/" + opts_.prefix + track, "--type=strategic", "-p",
                            json::serialize(json::object{{"spec", spec}})});
    if (!st) {
      problem("deployment_patch_failed_" + track, st.error().message);
      continue;
    }
    solved("deployment_patch_failed_" + track);
    std::string why;
    if (replicas != target.replicas) {
      const int stable = stable_replicas();
      why = " (replica ratio: " + std::to_string(canary_weight()) + " % asked, " +
            std::to_string(100 * replicas / std::max(1, replicas + stable)) + " % of the pods)";
    }
    events_("deployment", opts_.prefix + track + ": " + std::to_string(replicas) + " replicas of " +
                              (target.release.empty() ? t.release : target.release) + why);
    t.replicas = replicas;
    if (release_differs) t.release = target.release;
  }
}

void KubeBackend::reconcile(std::chrono::steady_clock::time_point now) {
  if (now >= next_read_) {
    next_read_ = now + opts_.read_every;
    if (Status st = read_namespace(); !st) {
      problem("cluster_unreachable", st.error().message);
      fresh_ = false;  // write nothing on a stale view (sync_routes included) until a read works
      return;
    }
    fresh_ = true;
    solved("cluster_unreachable");
  }
  if (opts_.routing == KubeRouting::kGateway) {
    connect_gateways(now);
    verify_gateways(now);
  }
  sync_routes();  // routes first: a track loses its weight before it shrinks
}

GatewayInfo KubeBackend::gateway() const {
  GatewayInfo g;
  for (const auto& [name, admin] : gateway_targets_) g.admin += (g.admin.empty() ? "" : ",") + admin;
  g.running = !gateways_.empty();
  if (!gateways_.empty()) g.listen = gateways_.begin()->second.base.listen;
  return g;
}

Result<TrackTraffic> KubeBackend::prometheus_traffic() {
  // Counters per series kept monotone by the source (a pod that goes away keeps its count),
  // so no new epoch is ever needed.
  auto t = prometheus_->read();
  if (!t) {
    problem("prometheus_unavailable", "per-track traffic from Prometheus: " + t.error().message);
    return t.error();
  }
  solved("prometheus_unavailable");
  return t;
}

Result<TrackTraffic> KubeBackend::traffic() {
  if (prometheus_) return prometheus_traffic();
  if (gateways_.empty()) return make_error(ErrorCode::kUnavailable, "no gateway's admin API answers");
  TrackTraffic sum;
  for (auto& [name, g] : gateways_) {
    auto t = g.client->traffic();
    if (!t) {
      const std::string failed = name;
      gateways_.erase(failed);  // reconnect at the next reconcile: counters start again
      ++traffic_epoch_;
      last_total_ = 0;
      return make_error(t.error().code, "gateway " + failed + ": " + t.error().message);
    }
    add_traffic(sum, *t);
  }
  std::uint64_t total = 0;
  for (const auto& [track, s] : sum.tracks) total += s.requests;
  if (total < last_total_) ++traffic_epoch_;  // a gateway restarted behind the same name
  last_total_ = total;
  return sum;
}

Result<std::vector<EndpointLoad>> KubeBackend::endpoint_load() {
  if (opts_.routing == KubeRouting::kReplicas) {
    return make_error(ErrorCode::kUnavailable, "no gateway (--routing replicas): per-replica load is not measured");
  }
  if (gateways_.empty()) return make_error(ErrorCode::kUnavailable, "no gateway's admin API answers");
  std::vector<EndpointLoad> all;
  for (auto& [name, g] : gateways_) {
    auto load = g.client->endpoint_load();
    if (!load) return load.error();
    for (const EndpointLoad& e : *load) {
      // Each gateway replica sends part of an endpoint's load: add them up.
      auto same = std::find_if(all.begin(), all.end(), [&](const EndpointLoad& x) {
        return x.track == e.track && x.address == e.address;
      });
      if (same == all.end()) {
        all.push_back(e);
      } else {
        same->rps += e.rps;
        same->in_flight += e.in_flight;
      }
    }
  }
  return all;
}

std::optional<std::string> KubeBackend::track_version(const std::string& track) {
  for (const auto& r : replicas_) {
    if (r.track != track || r.phase != ReplicaPhase::kReady || r.address.empty()) continue;
    if (auto version = health_version(r.address)) return version;
  }
  return std::nullopt;
}

std::vector<std::string> KubeBackend::track_endpoints(const std::string& track) const {
  std::vector<std::string> out;
  for (const auto& r : replicas_) {
    if (r.track == track && r.phase == ReplicaPhase::kReady && !r.address.empty()) out.push_back(r.address);
  }
  return out;
}

std::string KubeBackend::log_tail(const ReplicaInfo& replica, std::size_t max_bytes) const {
  // The engine asks for the log of every restarted replica at every look: read it once per
  // restart (the container that exited: --previous), with a short time limit.
  KubectlOptions quick = opts_.kubectl;
  quick.timeout = std::chrono::seconds(3);
  const Kubectl kubectl(quick);
  std::vector<std::string> args = {"logs", replica.name, "--tail=200", "--limit-bytes=" + std::to_string(max_bytes)};
  if (replica.restarts == 0) {
    auto out = kubectl.run(args);
    return out ? *out : std::string();
  }
  auto& cached = logs_[replica.name];
  if (cached.first == replica.restarts && !cached.second.empty()) return cached.second;
  args.push_back("--previous");
  auto out = kubectl.run(args);
  cached = {replica.restarts, out ? *out : "(log unavailable: " + out.error().message + ")"};
  if (logs_.size() > 256) logs_.erase(logs_.begin());
  return cached.second;
}

}  // namespace sg::platform
