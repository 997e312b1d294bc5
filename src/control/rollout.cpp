#include "control/rollout.hpp"

#include <charconv>
#include <type_traits>

#include "control/rollout_internal.hpp"

namespace sg::control {

const char* colour_name(Colour colour) { return colour == Colour::kBlue ? "blue" : "green"; }

Colour other(Colour colour) { return colour == Colour::kBlue ? Colour::kGreen : Colour::kBlue; }

const char* result_name(RolloutResult result) {
  switch (result) {
    case RolloutResult::kInProgress:
      return "in_progress";
    case RolloutResult::kPromoted:
      return "promoted";
    case RolloutResult::kRolledBack:
      return "rolled_back";
    case RolloutResult::kFailed:
      return "failed";
  }
  return "in_progress";
}

std::string describe(const Action& action) {
  return std::visit(
      [](const auto& a) -> std::string {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, StartNewColour>) {
          return std::string("StartNewColour colour=") + colour_name(a.colour) +
                 " release=" + a.release + " replicas=" + std::to_string(a.replicas);
        } else if constexpr (std::is_same_v<T, SwitchRoute>) {
          return std::string("SwitchRoute to=") + colour_name(a.to);
        } else if constexpr (std::is_same_v<T, SwitchBack>) {
          return std::string("SwitchBack to=") + colour_name(a.to);
        } else if constexpr (std::is_same_v<T, ScaleDown>) {
          return std::string("ScaleDown colour=") + colour_name(a.colour);
        } else if constexpr (std::is_same_v<T, StartCanary>) {
          return "StartCanary release=" + a.release + " replicas=" + std::to_string(a.replicas);
        } else if constexpr (std::is_same_v<T, SetWeights>) {
          return "SetWeights stable=" + std::to_string(a.stable) +
                 " canary=" + std::to_string(a.canary);
        } else {
          static_assert(std::is_same_v<T, ScaleCanary>);
          return "ScaleCanary replicas=" + std::to_string(a.replicas);
        }
      },
      action);
}

namespace detail {

bool held_ready(std::optional<TimePoint>& ready_since, int desired, int ready, TimePoint now,
                std::chrono::seconds stability) {
  if (desired <= 0 || ready < desired) {
    ready_since.reset();  // a flap restarts the wait
    return false;
  }
  if (!ready_since) ready_since = now;
  return now - *ready_since >= stability;
}

std::string replicas_text(int ready, int desired) {
  return std::to_string(ready) + " of " + std::to_string(desired) + " replicas ready";
}

long long seconds(std::chrono::system_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

void add_synthetic_evidence(Verdict& v, const TrafficSample& sample,
                            const TrafficSample& synthetic) {
  v.evidence.emplace_back("synthetic_requests", static_cast<double>(synthetic.requests));
  v.evidence.emplace_back("organic_requests",
                          static_cast<double>(sample.requests - synthetic.requests));
  if (synthetic.requests > 0) {
    v.reason += " (" + std::to_string(synthetic.requests) + " of " +
                std::to_string(sample.requests) + " requests synthetic)";
  }
}

void add_health_evidence(Verdict& v, const Verdict& health) {
  v.evidence.insert(v.evidence.end(), health.evidence.begin(), health.evidence.end());
  v.details.insert(v.details.end(), health.details.begin(), health.details.end());
}

std::string encode_time(TimePoint t) {
  return std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

std::string encode_time(const std::optional<TimePoint>& t) {
  return t ? encode_time(*t) : std::string();
}

void StateReader::fail(const char* key, const std::string& problem) {
  if (!error_) {
    error_ = make_error(ErrorCode::kInvalidArgument,
                        std::string(what_) + " state: key '" + key + "': " + problem +
                            "; the rollout cannot resume from it");
  }
}

std::string StateReader::text(const char* key) {
  const auto it = map_.find(key);
  if (it == map_.end()) {
    fail(key, "missing");
    return {};
  }
  return it->second;
}

long long StateReader::integer(const char* key, long long min, long long max) {
  const std::string value = text(key);
  long long out = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || end != value.data() + value.size() || value.empty()) {
    fail(key, "not an integer: '" + value + "'");
    return min;
  }
  if (out < min || out > max) {
    fail(key, "out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    return min;
  }
  return out;
}

TimePoint StateReader::time(const char* key) {
  // Unix milliseconds between 2000 and 2200: anything else is not a time this code wrote.
  const long long ms = integer(key, 946684800000LL, 7258118400000LL);
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::milliseconds(ms)));
}

void StateReader::check_version() {
  const auto it = map_.find("version");
  if (it == map_.end() || it->second != kStateVersion) {
    fail("version", "stored by another sgctl version (state format " +
                        (it == map_.end() ? std::string("1") : it->second) + ", this one reads " +
                        kStateVersion + ")");
  }
}

std::optional<TimePoint> StateReader::optional_time(const char* key) {
  const auto it = map_.find(key);
  if (it != map_.end() && it->second.empty()) return std::nullopt;
  return time(key);
}

}  // namespace detail
}  // namespace sg::control
