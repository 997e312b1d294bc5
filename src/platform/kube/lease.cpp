#include "platform/kube/lease.hpp"

#include <boost/json.hpp>
#include <ctime>

#include "platform/kube/json_path.hpp"

namespace sg::platform {
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// metav1.MicroTime: RFC 3339 with microseconds, UTC.
std::string micro_time_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(micros));
  return buf;
}

// "2026-12-06T07:00:00.123456Z" (or without the fraction) -> Unix seconds; nullopt if not.
std::optional<std::int64_t> parse_time(const std::string& t) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &consumed) != 6 || consumed < 19) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace

Result<std::optional<std::string>> live_lease_holder(const Kubectl& kubectl, const std::string& name,
                                                     std::chrono::seconds margin) {
  auto got = kubectl.get_json({"get", "lease/" + name});
  if (!got) {
    if (got.error().code == ErrorCode::kNotFound) return std::optional<std::string>();
    return got.error();
  }
  const json::value* spec = got->is_object() ? got->as_object().if_contains("spec") : nullptr;
  if (spec == nullptr || !spec->is_object()) return std::optional<std::string>();
  const std::string holder = text_of(spec->as_object(), "holderIdentity");
  const auto renewed = parse_time(text_of(spec->as_object(), "renewTime"));
  std::int64_t duration = 15;
  if (const auto* d = spec->as_object().if_contains("leaseDurationSeconds"); d != nullptr && d->is_int64()) {
    duration = d->as_int64();
  }
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  if (holder.empty() || !renewed || now - *renewed > duration + margin.count()) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(holder);
}

namespace {

KubectlOptions limited(KubectlOptions o, std::chrono::seconds duration) {
  o.timeout = std::max<std::chrono::milliseconds>(std::chrono::seconds(1), duration / 3);
  return o;
}

std::int64_t steady_ns(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

LeaderLease::LeaderLease(KubectlOptions kubectl, LeaseOptions options, EventFn events)
    : kubectl_(limited(std::move(kubectl), options.duration)),
      opts_(std::move(options)),
      events_(std::move(events)) {}

LeaderLease::~LeaderLease() { stop_renewal(); }

void LeaderLease::stop_renewal() {
  stop_renewing_ = true;
  if (renewer_.joinable()) renewer_.join();
}

std::chrono::milliseconds LeaderLease::give_up() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(opts_.duration) * 2 / 3;
}

bool LeaderLease::holding() const {
  if (!holding_.load()) return false;
  const auto since = std::chrono::nanoseconds(steady_ns(std::chrono::steady_clock::now()) - renewed_at_ns_.load());
  return since < give_up();
}

Result<bool> LeaderLease::try_acquire_or_renew() {
  const auto now = std::chrono::steady_clock::now();
  const std::string stamp = micro_time_now();
  auto got = kubectl_.get_json({"get", "lease/" + opts_.name});
  if (!got) {
    if (got.error().code != ErrorCode::kNotFound) return got.error();
    json::object lease{
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", json::object{{"name", opts_.name},
                                  {"labels", json::object{{"app.kubernetes.io/part-of", "streamgate"}}}}},
        {"spec", json::object{{"holderIdentity", opts_.identity},
                              {"leaseDurationSeconds", opts_.duration.count()},
                              {"acquireTime", stamp},
                              {"renewTime", stamp},
                              {"leaseTransitions", 0}}}};
    Status st = kubectl_.create(lease);
    if (!st) return st.error().code == ErrorCode::kConflict ? Result<bool>(false) : Result<bool>(st.error());
    renewed_at_ns_ = steady_ns(now);
    return true;
  }
  if (!got->is_object() || !got->as_object().contains("metadata") || !got->as_object().at("metadata").is_object()) {
    return make_error(ErrorCode::kUnavailable, "lease " + opts_.name + ": not a Lease object");
  }
  json::object lease = got->as_object();
  json::object& meta = lease["metadata"].as_object();
  if (!lease.contains("spec") || !lease["spec"].is_object()) lease["spec"] = json::object{};
  json::object& spec = lease["spec"].as_object();
  const std::string version = text_of(meta, "resourceVersion");
  const std::string holder = text_of(spec, "holderIdentity");
  if (version != seen_version_) {
    seen_version_ = version;
    seen_at_ = now;
  }
  const bool ours = holder == opts_.identity;
  if (!ours && !holder.empty()) {
    std::int64_t secs = opts_.duration.count();
    if (const auto* d = spec.if_contains("leaseDurationSeconds"); d != nullptr && d->is_int64()) secs = d->as_int64();
    if (now - seen_at_ < std::chrono::seconds(secs)) return false;  // the holder is alive
  }
  if (!ours) {
    std::int64_t transitions = 0;
    if (const auto* t = spec.if_contains("leaseTransitions"); t != nullptr && t->is_int64()) transitions = t->as_int64();
    spec["leaseTransitions"] = transitions + 1;
    spec["acquireTime"] = stamp;
    spec["holderIdentity"] = opts_.identity;
  }
  spec["leaseDurationSeconds"] = opts_.duration.count();
  spec["renewTime"] = stamp;
  Status st = kubectl_.replace(lease);  // carries the resourceVersion read: a race is a Conflict
  if (!st) return st.error().code == ErrorCode::kConflict ? Result<bool>(false) : Result<bool>(st.error());
  if (!ours) events_("lease", "acquired lease " + opts_.name + " as " + opts_.identity + " (from " +
                                  (holder.empty() ? std::string("nobody") : holder) + ")");
  renewed_at_ns_ = steady_ns(now);
  return true;
}

bool LeaderLease::acquire(const std::atomic<bool>& stop) {
  stop_renewal();  // a renewal thread of an earlier term, if any
  holding_ = false;
  std::string last_error;
  while (!stop.load()) {
    auto held = try_acquire_or_renew();
    if (held && *held) {
      holding_ = true;
      stop_renewing_ = false;
      renewer_ = std::thread([this] { renew_loop(); });
      return true;
    }
    if (!held && held.error().message != last_error) {
      last_error = held.error().message;
      events_("lease_error", last_error);
    }
    for (int i = 0; i < 10 && !stop.load(); ++i) std::this_thread::sleep_for(100ms);
  }
  return false;
}

void LeaderLease::renew_loop() {
  const auto period = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.duration) / 3;
  while (!stop_renewing_.load() && holding_.load()) {
    const auto next = std::chrono::steady_clock::now() + period;
    while (!stop_renewing_.load() && std::chrono::steady_clock::now() < next) std::this_thread::sleep_for(50ms);
    if (stop_renewing_.load()) return;
    auto held = try_acquire_or_renew();
    if (held && !*held) {
      holding_ = false;
      events_("lease_lost", "lease " + opts_.name + " is held by another controller now");
      return;
    }
    if (!held && !holding()) {
      holding_ = false;
      events_("lease_lost", "could not renew lease " + opts_.name + ": " + held.error().message);
      return;
    }
  }
}

void LeaderLease::release() {
  stop_renewal();
  if (!holding_.exchange(false)) return;
  auto got = kubectl_.get_json({"get", "lease/" + opts_.name});
  if (!got || !got->is_object()) return;
  json::object lease = got->as_object();
  if (!lease.contains("spec") || !lease["spec"].is_object()) return;
  json::object& spec = lease["spec"].as_object();
  if (text_of(spec, "holderIdentity") != opts_.identity) return;
  // As client-go releases: no holder, a 1 s duration from now.
  spec["holderIdentity"] = "";
  spec["leaseDurationSeconds"] = 1;
  spec["renewTime"] = micro_time_now();
  if (kubectl_.replace(lease)) events_("lease", "released lease " + opts_.name);
}

}  // namespace sg::platform
