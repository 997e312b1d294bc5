#include "gateway/core/gateway_config.hpp"

#include <array>
#include <charconv>
#include <set>

#include "common/host_port.hpp"

namespace sg::gateway {
namespace {

constexpr int kMaxMillis = 3600000;  // one hour

// Each check returns the problem ("key.path: rule") or an empty string.
std::string in_range(const std::string& path, long long value, long long lo, long long hi) {
  if (value >= lo && value <= hi) return {};
  return path + ": must be " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " +
         std::to_string(value);
}

bool is_tchar(char c) {
  static constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         kExtra.find(c) != std::string_view::npos;
}

bool is_track_name(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

bool is_env_name(std::string_view name) {
  if (name.empty() || name.size() > 128 || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  }
  return true;
}

std::string check_listeners(const GatewayConfig& c) {
  if (!is_host_port(c.listen, 0)) {
    return "listen: '" + c.listen + "' must be HOST:PORT with port 0..65535";
  }
  if (!is_host_port(c.admin_listen, 0)) {
    return "admin.listen: '" + c.admin_listen + "' must be HOST:PORT with port 0..65535";
  }
  if (!c.admin_insecure_listen) {
    auto admin = parse_host_port(c.admin_listen, {.allow_port_zero = true});
    if (admin && !is_loopback_host(admin->host)) {
      return "admin.listen: '" + c.admin_listen +
             "' is not a loopback address and the admin API has no TLS; listen on 127.0.0.1 "
             "(reach it through a tunnel), or set admin.insecure_listen: true to accept plain "
             "HTTP there";
    }
  }
  if (!is_env_name(c.admin_token_env)) {
    return "admin.token_env: '" + c.admin_token_env +
           "' must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*, 1..128 characters)";
  }
  return in_range("threads", c.threads, 0, 256);
}

std::string check_tracks(const std::map<std::string, TrackConfig>& tracks) {
  if (tracks.empty()) return "tracks: at least one track is required";
  for (const auto& [name, track] : tracks) {
    if (!is_track_name(name)) {
      return "tracks." + name + ": track name must match [a-z0-9-]{1,32}";
    }
    std::set<std::string_view> seen;
    for (std::size_t i = 0; i < track.endpoints.size(); ++i) {
      const std::string& ep = track.endpoints[i];
      const std::string path = "tracks." + name + ".endpoints[" + std::to_string(i) + "]";
      if (!is_host_port(ep, 1)) return path + ": '" + ep + "' must be HOST:PORT with port 1..65535";
      if (!seen.insert(ep).second) return path + ": '" + ep + "' is listed twice";
    }
  }
  return {};
}

std::string check_weights(const GatewayConfig& c) {
  const auto& weights = c.route.weights;
  if (weights.empty()) return "route.weights: at least one track weight is required";
  std::set<std::string_view> seen;
  long long sum = 0;
  for (const auto& w : weights) {
    const std::string path = "route.weights." + w.track;
    const auto track = c.tracks.find(w.track);
    if (track == c.tracks.end()) return path + ": track '" + w.track + "' is not defined in tracks";
    if (!seen.insert(w.track).second) return path + ": the track is listed twice";
    if (auto problem = in_range(path, w.weight, 0, 100); !problem.empty()) return problem;
    if (w.weight > 0 && track->second.endpoints.empty()) {
      return path + ": track has weight " + std::to_string(w.weight) + " but no endpoints";
    }
    sum += w.weight;
  }
  if (sum != TrackSchedule::kTotalWeight) {
    return "route.weights: weights must sum to 100, got " + std::to_string(sum);
  }
  return {};
}

std::string check_sticky(const std::optional<StickyConfig>& sticky) {
  if (!sticky) return {};
  const char* key = sticky->source == StickyConfig::Source::kHeader ? "route.sticky.header"
                                                                    : "route.sticky.cookie";
  bool token = !sticky->name.empty() && sticky->name.size() <= 128;
  for (char c : sticky->name) token = token && is_tchar(c);
  if (!token) {
    return std::string(key) + ": '" + sticky->name +
           "' must be an HTTP token (letters, digits, !#$%&'*+-.^_`|~), 1..128 characters";
  }
  if (!is_env_name(sticky->key_env)) {
    return "route.sticky.key_env: '" + sticky->key_env +
           "' must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*, 1..128 characters)";
  }
  return {};
}

std::string check_trusted_proxies(const std::vector<std::string>& proxies) {
  if (proxies.size() > 64) return "trusted_proxies: at most 64 entries";
  for (std::size_t i = 0; i < proxies.size(); ++i) {
    if (!parse_ip_network(proxies[i])) {
      return "trusted_proxies[" + std::to_string(i) + "]: '" + proxies[i] +
             "' must be an IP address or ADDRESS/BITS (e.g. 10.0.0.0/8)";
    }
  }
  return {};
}

std::string check_health_check(const HealthCheckConfig& h) {
  bool path_ok = !h.path.empty() && h.path.front() == '/' && h.path.size() <= 1024;
  for (char c : h.path) path_ok = path_ok && c > 0x20 && c < 0x7f;
  if (!path_ok) {
    return "health_check.path: '" + h.path +
           "' must start with '/' and hold only visible ASCII, at most 1024 bytes";
  }
  if (auto p = in_range("health_check.interval_ms", h.interval_ms, 100, kMaxMillis); !p.empty())
    return p;
  if (auto p = in_range("health_check.timeout_ms", h.timeout_ms, 1, h.interval_ms); !p.empty())
    return p + " (at most interval_ms)";
  if (auto p = in_range("health_check.rise", h.rise, 1, 100); !p.empty()) return p;
  return in_range("health_check.fall", h.fall, 1, 100);
}

std::string check_limits(const GatewayConfig& c) {
  const OutlierConfig& o = c.outlier;
  const TimeoutsConfig& t = c.timeouts;
  const std::pair<std::string, std::array<long long, 3>> checks[] = {
      {"outlier.consecutive_failures", {o.consecutive_failures, 1, 1000}},
      {"outlier.base_ejection_ms", {o.base_ejection_ms, 1, kMaxMillis}},
      {"outlier.max_ejection_ms", {o.max_ejection_ms, o.base_ejection_ms, kMaxMillis}},
      {"timeouts.connect_ms", {t.connect_ms, 1, kMaxMillis}},
      {"timeouts.first_byte_ms", {t.first_byte_ms, 1, kMaxMillis}},
      {"timeouts.idle_ms", {t.idle_ms, 1, kMaxMillis}},
      {"timeouts.header_ms", {t.header_ms, 1, kMaxMillis}},
      {"limits.header_bytes", {c.limits.header_bytes, 1024, 1048576}},
      {"limits.max_connections", {c.limits.max_connections, 1, 1000000}},
  };
  for (const auto& [path, v] : checks) {
    if (auto p = in_range(path, v[0], v[1], v[2]); !p.empty()) return p;
  }
  return {};
}

}  // namespace

const char* cpu_affinity_name(CpuAffinity affinity) {
  return affinity == CpuAffinity::kAuto ? "auto" : "none";
}

std::optional<CpuAffinity> parse_cpu_affinity(std::string_view name) {
  if (name == "auto") return CpuAffinity::kAuto;
  if (name == "none") return CpuAffinity::kNone;
  return std::nullopt;
}

const char* balance_name(Balance balance) {
  return balance == Balance::kRoundRobin ? "round_robin" : "least_outstanding";
}

bool is_host_port(std::string_view text, unsigned min_port) {
  return parse_host_port(text, {.allow_port_zero = min_port == 0}).is_ok();
}

std::optional<IpNetwork> parse_ip_network(std::string_view text) {
  const auto slash = text.find('/');
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(std::string(text.substr(0, slash)), ec);
  if (ec) return std::nullopt;
  const unsigned max_bits = address.is_v4() ? 32 : 128;
  unsigned bits = max_bits;
  if (slash != std::string_view::npos) {
    const std::string_view b = text.substr(slash + 1);
    const auto [end, bec] = std::from_chars(b.data(), b.data() + b.size(), bits);
    if (b.empty() || bec != std::errc() || end != b.data() + b.size() || bits > max_bits)
      return std::nullopt;
  }
  return IpNetwork{address, bits};
}

bool IpNetwork::contains(const boost::asio::ip::address& a) const {
  boost::asio::ip::address peer = a;
  if (peer.is_v6() && peer.to_v6().is_v4_mapped()) {
    peer = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, peer.to_v6());
  }
  if (peer.is_v4() != address.is_v4()) return false;
  const auto prefix_matches = [this](const auto& x, const auto& y) {
    for (unsigned i = 0; i < bits; ++i) {
      const unsigned byte = i / 8, bit = 7 - i % 8;
      if (((x[byte] >> bit) & 1) != ((y[byte] >> bit) & 1)) return false;
    }
    return true;
  };
  if (peer.is_v4()) return prefix_matches(peer.to_v4().to_bytes(), address.to_v4().to_bytes());
  return prefix_matches(peer.to_v6().to_bytes(), address.to_v6().to_bytes());
}

Status validate_gateway_config(const GatewayConfig& config) {
  std::string problem = check_listeners(config);
  if (problem.empty()) problem = check_tracks(config.tracks);
  if (problem.empty()) problem = check_weights(config);
  if (problem.empty()) problem = check_sticky(config.route.sticky);
  if (problem.empty()) problem = check_trusted_proxies(config.trusted_proxies);
  if (problem.empty()) problem = check_health_check(config.health_check);
  if (problem.empty()) problem = check_limits(config);
  if (problem.empty()) return Status::ok();
  return make_error(ErrorCode::kInvalidArgument, std::move(problem));
}

}  // namespace sg::gateway
