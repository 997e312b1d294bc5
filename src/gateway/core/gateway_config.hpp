// GatewayConfig: everything streamgate-gateway is configured with, its validation, and its
// two text forms: the YAML file (--config, SIGHUP reload) and the JSON body of the admin API
// (GET/PUT). Both forms use the same keys:
//
//   listen: 127.0.0.1:8080                 # HOST:PORT, port 0..65535 (0 = any free port)
//   admin: { listen: 127.0.0.1:8081, token_env: STREAMGATE_ADMIN_TOKEN, insecure_listen: false }
//                                          # a non-loopback admin listen needs
//                                          # insecure_listen: true (plain HTTP, no TLS)
//   threads: 0                             # 0..256, 0 = one per CPU the process may use
//   cpu_affinity: none                     # none | auto (worker i on the i-th usable CPU)
//   tracks:                                # name -> track; names match [a-z0-9-]{1,32}
//     stable: { endpoints: [127.0.0.1:9101, 127.0.0.1:9102], balance: least_outstanding }
//     canary: { endpoints: [127.0.0.1:9201] }  # balance: least_outstanding | round_robin
//   route:
//     weights: { stable: 95, canary: 5 }   # integers 0..100, sum 100, tracks must exist
//     sticky: { header: X-Viewer-Id, key_env: STREAMGATE_STICKY_KEY }
//                                          # optional; exactly one of header or cookie;
//                                          # key_env names the variable holding the secret
//                                          # key of the sticky hash (sticky_key.hpp)
//   health_check: { path: /ready, interval_ms: 1000, timeout_ms: 500, rise: 2, fall: 2 }
//   outlier: { consecutive_failures: 5, base_ejection_ms: 10000, max_ejection_ms: 300000 }
//   timeouts: { connect_ms: 1000, first_byte_ms: 30000, idle_ms: 60000, header_ms: 10000 }
//   limits: { header_bytes: 16384, max_connections: 10000 }
//   retries: { enabled: true }
//   trusted_proxies: []                    # CIDRs ("10.0.0.0/8", "::1/128", "192.0.2.7")
//                                          # whose X-Forwarded-For is kept and appended to;
//                                          # from anyone else it is replaced
//
// tracks and route are required; every other key has the default shown (and in the structs
// below). Parsing is strict: an unknown key, a wrong type or a value out of range is an
// error whose message starts with the key path and states the rule, for example
// "route.weights: weights must sum to 100, got 105". A key given twice is an error in YAML;
// in JSON the last one wins (Boost.JSON's behaviour).
//
// Serializing to JSON and parsing the result gives back an equal GatewayConfig.
// All functions are pure and may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>
#include <boost/json/value.hpp>

#include "common/result.hpp"
#include "gateway/core/track_schedule.hpp"

namespace sg::gateway {

// How a track spreads requests over its endpoints.
enum class Balance {
  kLeastOutstanding,  // "least_outstanding": the endpoint with the fewest requests in flight
  kRoundRobin,        // "round_robin"
};
const char* balance_name(Balance balance);

// How the data plane's worker threads are placed on CPUs.
enum class CpuAffinity {
  kNone,  // "none": where the kernel puts them
  kAuto,  // "auto": worker i pinned to the i-th CPU the process may use (round robin)
};
const char* cpu_affinity_name(CpuAffinity affinity);
// "none" or "auto"; nullopt for anything else.
std::optional<CpuAffinity> parse_cpu_affinity(std::string_view name);

struct TrackConfig {
  std::vector<std::string> endpoints;  // "HOST:PORT", port 1..65535, no duplicates
  Balance balance = Balance::kLeastOutstanding;

  bool operator==(const TrackConfig&) const = default;
};

// Stickiness: the value of a request header, or of a cookie, picks the track through a
// keyed hash (StickyKey, TrackSchedule::pick_sticky_hash). The name is an HTTP token
// (RFC 9110), 1..128 characters. `key_env` names the environment variable holding the hash's
// secret key, the same on every gateway instance ([A-Za-z_][A-Za-z0-9_]*).
struct StickyConfig {
  enum class Source { kHeader, kCookie };
  Source source = Source::kHeader;
  std::string name;
  std::string key_env = "STREAMGATE_STICKY_KEY";

  bool operator==(const StickyConfig&) const = default;
};

struct RouteConfig {
  // In the order written; every track named exists; each track at most once; sum 100.
  // A track not named gets weight 0. A track with weight > 0 has at least one endpoint.
  std::vector<TrackWeight> weights;
  std::optional<StickyConfig> sticky;

  bool operator==(const RouteConfig&) const = default;
};

struct HealthCheckConfig {
  std::string path = "/ready";  // origin-form: starts with '/', visible ASCII, <= 1024 bytes
  int interval_ms = 1000;       // 100..3600000
  int timeout_ms = 500;         // 1..interval_ms
  int rise = 2;                 // consecutive successes to become healthy, 1..100
  int fall = 2;                 // consecutive failures to become unhealthy, 1..100

  bool operator==(const HealthCheckConfig&) const = default;
};

struct OutlierConfig {
  int consecutive_failures = 5;  // connect errors / 5xx in a row that eject, 1..1000
  int base_ejection_ms = 10000;  // first ejection; doubles on each repeat, 1..3600000
  int max_ejection_ms = 300000;  // cap of the doubling, base_ejection_ms..3600000

  bool operator==(const OutlierConfig&) const = default;
};

struct TimeoutsConfig {
  int connect_ms = 1000;      // upstream connect, 1..3600000
  int first_byte_ms = 30000;  // request sent -> first response byte, 1..3600000
  int idle_ms = 60000;        // no byte either way on a connection, 1..3600000
  int header_ms = 10000;      // client's request head must arrive within, 1..3600000

  bool operator==(const TimeoutsConfig&) const = default;
};

struct LimitsConfig {
  int header_bytes = 16384;     // largest request head, 1024..1048576; larger -> 431
  int max_connections = 10000;  // client connections at once, 1..1000000

  bool operator==(const LimitsConfig&) const = default;
};

struct RetriesConfig {
  bool enabled = true;  // retry once on another endpoint before any response byte

  bool operator==(const RetriesConfig&) const = default;
};

struct GatewayConfig {
  std::string listen = "127.0.0.1:8080";
  std::string admin_listen = "127.0.0.1:8081";
  // The environment variable holding the admin bearer token, [A-Za-z_][A-Za-z0-9_]{0,127}.
  std::string admin_token_env = "STREAMGATE_ADMIN_TOKEN";
  // The admin API speaks plain HTTP: a listen address others can reach is refused unless
  // this says the operator accepts that (a private network, a pod network behind policies).
  bool admin_insecure_listen = false;
  int threads = 0;
  CpuAffinity cpu_affinity = CpuAffinity::kNone;
  std::map<std::string, TrackConfig> tracks;  // at least one
  RouteConfig route;
  HealthCheckConfig health_check;
  OutlierConfig outlier;
  TimeoutsConfig timeouts;
  LimitsConfig limits;
  RetriesConfig retries;
  // Peers (CIDR blocks, or single addresses) whose X-Forwarded-For / Forwarded fields are
  // trusted; at most 64, e.g. "10.0.0.0/8". Empty: no client's are.
  std::vector<std::string> trusted_proxies{};

  bool operator==(const GatewayConfig&) const = default;
};

// Checks every rule stated above on a config built in code (the admin API edits a copy and
// validates it before swapping it in). The error (kInvalidArgument) names the key path.
Status validate_gateway_config(const GatewayConfig& config);

// Parses and validates the YAML form. Plain scalars that look like decimal integers or
// true/false are numbers and booleans; quoted scalars are always strings.
Result<GatewayConfig> parse_gateway_config_yaml(std::string_view text);
// Parses and validates the JSON form.
Result<GatewayConfig> parse_gateway_config_json(std::string_view text);
Result<GatewayConfig> gateway_config_from_json(const boost::json::value& json);

// The JSON form with every key present (defaults included), tracks in name order and
// weights in route order; `sticky` is omitted when not set.
boost::json::value gateway_config_to_json(const GatewayConfig& config);
std::string gateway_config_to_json_text(const GatewayConfig& config);

// An IP network: "ADDR/BITS" or a single "ADDR" (all bits), IPv4 or IPv6.
struct IpNetwork {
  boost::asio::ip::address address;
  unsigned bits = 0;
  // Whether `a` lies in this network (an IPv4-mapped IPv6 address counts as IPv4).
  bool contains(const boost::asio::ip::address& a) const;
};
std::optional<IpNetwork> parse_ip_network(std::string_view text);

// Whether `text` is HOST:PORT with a non-empty host (a name, an IPv4 address, or an IPv6
// address in brackets) and a decimal port in [min_port, 65535].
bool is_host_port(std::string_view text, unsigned min_port);

}  // namespace sg::gateway
