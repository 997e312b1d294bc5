#include "control/rollout.hpp"

#include <charconv>
#include <limits>
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
        } else if constexpr (std::is_same_v<T, ScaleCanary>) {
          return "ScaleCanary replicas=" + std::to_string(a.replicas);
        } else {
          return "UpdateStable release=" + a.release;
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

long long seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

std::string encode_time(TimePoint t) { return std::to_string(t.time_since_epoch().count()); }

std::string encode_time(const std::optional<TimePoint>& t) {
  return t ? encode_time(*t) : std::string();
}

void StateReader::fail(const char* key, const std::string& problem) {
  if (!error_) {
    error_ = make_error(ErrorCode::kInvalidArgument,
                        std::string(what_) + " state: key '" + key + "': " + problem +
                            "; the stored rollout state is damaged, roll back by hand");
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
  const long long ticks =
      integer(key, std::numeric_limits<long long>::min(), std::numeric_limits<long long>::max());
  return TimePoint(TimePoint::duration(ticks));
}

std::optional<TimePoint> StateReader::optional_time(const char* key) {
  const auto it = map_.find(key);
  if (it != map_.end() && it->second.empty()) return std::nullopt;
  return time(key);
}

}  // namespace detail
}  // namespace sg::control
