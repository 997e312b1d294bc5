#include "gateway/gateway_state.hpp"

#include <netdb.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "common/host_port.hpp"

namespace sg::gateway {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Result<tcp::endpoint> resolve_host_port(const std::string& text) {
  auto hp = parse_host_port(text);
  if (!hp) return make_error(ErrorCode::kInvalidArgument, "endpoint " + hp.error().message);
  const std::string& host = hp->host;
  const unsigned port = hp->port;
  boost::system::error_code aec;
  auto addr = asio::ip::make_address(host, aec);
  if (!aec) return tcp::endpoint(addr, static_cast<std::uint16_t>(port));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "endpoint '" + text + "': cannot resolve '" +
                                                       host + "': " + gai_strerror(rc));
  }
  tcp::endpoint ep;
  ep.resize(res->ai_addrlen);
  std::memcpy(ep.data(), res->ai_addr, res->ai_addrlen);
  ::freeaddrinfo(res);
  ep.port(static_cast<std::uint16_t>(port));
  return ep;
}

std::shared_ptr<Endpoint> GatewayState::find_endpoint(std::string_view address) const {
  auto t = table();
  if (!t) return nullptr;
  for (const auto& track : t->tracks) {
    for (const auto& ep : track.endpoints) {
      if (ep->address() == address) return ep;
    }
  }
  return nullptr;
}

void GatewayState::close_idle_connections() {
  std::lock_guard lock(apply_mu_);
  for (const auto& weak : created_) {
    if (auto ep = weak.lock()) ep->close_idle_connections();
  }
}

Result<std::shared_ptr<Endpoint>> GatewayState::endpoint_for(
    const std::string& address, std::map<std::string, std::shared_ptr<Endpoint>>& building) {
  // One Endpoint per address, even when several tracks list it: health, drain and
  // ejection are about the replica, not the track.
  if (auto it = building.find(address); it != building.end()) return it->second;
  auto existing = find_endpoint(address);
  if (!existing) {
    auto ep = resolve_host_port(address);
    if (!ep) return ep.error();
    existing = std::make_shared<Endpoint>(address, *ep, workers_);
    std::erase_if(created_, [](const auto& w) { return w.expired(); });
    created_.push_back(existing);
  }
  building[address] = existing;
  return existing;
}

Status GatewayState::apply(const GatewayConfig& config) {
  if (Status st = validate_gateway_config(config); !st) return st;
  std::lock_guard lock(apply_mu_);
  auto schedule = TrackSchedule::create(config.route.weights);
  if (!schedule) return schedule.error();
  auto next = std::make_shared<RouteTable>(RouteTable{config, {}, std::move(*schedule), {}, 0});
  std::map<std::string, std::shared_ptr<Endpoint>> building;
  for (const auto& [name, tc] : config.tracks) {
    Track track;
    track.name = name;
    track.balance = tc.balance;
    for (const auto& w : config.route.weights) {
      if (w.track == name) track.weight = w.weight;
    }
    for (const auto& address : tc.endpoints) {
      auto ep = endpoint_for(address, building);
      if (!ep)
        return make_error(ErrorCode::kInvalidArgument,
                          "tracks." + name + ": " + ep.error().message);
      track.endpoints.push_back(std::move(*ep));
    }
    auto& stats = track_stats_[name];
    if (!stats) stats = std::make_shared<WindowStats>();
    track.stats = stats;
    auto& stream = stream_stats_[name];
    if (!stream) stream = std::make_shared<StreamStats>();
    track.stream = stream;
    track.rr = std::make_shared<std::atomic<std::uint64_t>>(0);
    track.metrics = std::make_shared<TrackMetricCache>();
    next->tracks.push_back(std::move(track));
  }
  for (const auto& w : next->schedule.weights()) {
    for (std::size_t i = 0; i < next->tracks.size(); ++i) {
      if (next->tracks[i].name == w.track) next->schedule_track.push_back(i);
    }
  }
  if (config.route.sticky) {
    const char* secret = std::getenv(config.route.sticky->key_env.c_str());
    if (secret != nullptr && std::strlen(secret) >= StickyKey::kMinKeyBytes) {
      next->sticky_key = std::make_shared<const StickyKey>(secret);
      next->sticky_key_from_env = true;
    } else {
      if (!random_sticky_key_) {
        random_sticky_key_ = std::make_shared<const StickyKey>(StickyKey::random());
      }
      next->sticky_key = random_sticky_key_;
    }
  }
  for (const auto& text : config.trusted_proxies) {
    if (auto net = parse_ip_network(text)) next->trusted_proxies.push_back(*net);
  }
  auto current = table_.load();
  next->generation = current ? current->generation + 1 : 1;
  table_.store(std::move(next));
  table_version_.fetch_add(1, std::memory_order_release);
  return Status::ok();
}

namespace {
std::atomic<std::uint64_t> next_state_id{1};
}  // namespace

GatewayState::GatewayState(unsigned workers)
    : workers_(workers),
      id_(next_state_id.fetch_add(1, std::memory_order_relaxed)),
      pooled_(std::make_unique<PooledCount[]>(std::max(1u, workers))) {}

std::shared_ptr<const RouteTable> GatewayState::table() const {
  struct Handle {
    std::uint64_t state_id = 0;
    std::uint64_t version = 0;
    std::shared_ptr<const RouteTable> table;  // counts on this thread's own control block
  };
  thread_local Handle handle;
  const std::uint64_t version = table_version_.load(std::memory_order_acquire);
  if (handle.state_id != id_ || handle.version != version || !handle.table) {
    std::shared_ptr<const RouteTable> shared = table_.load();
    if (!shared) return shared;
    // An owner private to this thread: it holds the shared table, and copies of the
    // aliasing pointer count on it alone.
    auto owner = std::make_shared<const std::shared_ptr<const RouteTable>>(std::move(shared));
    const RouteTable* raw = owner->get();
    handle = Handle{id_, version, std::shared_ptr<const RouteTable>(std::move(owner), raw)};
  }
  return handle.table;
}

Endpoint* choose_endpoint(const Track& track, const Endpoint* exclude,
                          Endpoint::Clock::time_point now) {
  const auto& eps = track.endpoints;
  if (eps.empty()) return nullptr;
  if (track.balance == Balance::kRoundRobin) {
    const std::uint64_t start = track.rr->fetch_add(1, std::memory_order_relaxed);
    for (std::size_t k = 0; k < eps.size(); ++k) {
      Endpoint* ep = eps[(start + k) % eps.size()].get();
      if (ep != exclude && ep->available(now)) return ep;
    }
    return nullptr;
  }
  // Least outstanding; ties go round robin so equal endpoints share the load.
  const std::uint64_t start = track.rr->fetch_add(1, std::memory_order_relaxed);
  Endpoint* best = nullptr;
  for (std::size_t k = 0; k < eps.size(); ++k) {
    Endpoint* ep = eps[(start + k) % eps.size()].get();
    if (ep == exclude || !ep->available(now)) continue;
    if (!best || ep->outstanding() < best->outstanding()) best = ep;
  }
  return best;
}

}  // namespace sg::gateway
