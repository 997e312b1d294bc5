// sgctl autoscale (on with a spec, or off) and sgctl get hpa: the autoscaler through the
// control API, in the typed model (platform/autoscaler_model.hpp, platform/hpa_json.hpp).
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/control_client.hpp"
#include "common/json_text.hpp"
#include "platform/hpa_json.hpp"
#include "platform/model.hpp"

namespace sg::cli {
namespace json = boost::json;

namespace {

int fail(const Error& e) {
  std::cerr << "sgctl: " << e.message << "\n";
  return kExitUsage;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

Result<control::HpaBehavior> read_behavior(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error(ErrorCode::kInvalidArgument, "--behavior " + file + ": cannot read it");
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > 64 * 1024) {
    return make_error(ErrorCode::kInvalidArgument, "--behavior " + file + ": larger than 64 KiB");
  }
  boost::system::error_code ec;
  const json::value v = json::parse(text.str(), ec);
  if (ec) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--behavior " + file + ": not JSON (" + ec.message() + ")");
  }
  auto b = platform::hpa_behavior_from_json(v);
  if (!b) return make_error(ErrorCode::kInvalidArgument, "--behavior " + file + ": " + b.error().message);
  return b;
}

std::string targets_text(const platform::HpaTrackView& t) {
  std::string out;
  for (const auto& m : t.metrics) {
    if (!out.empty()) out += ", ";
    const char* unit = m.metric == "cpu" ? "%" : "";
    out += m.metric + " " + (m.current ? num(*m.current) + unit : std::string("<unknown>")) + "/" +
           num(m.target) + unit;
  }
  return out;
}

}  // namespace

Result<control::HpaSpec> autoscale_spec(const AutoscaleArgs& a) {
  control::HpaSpec s;
  s.min_replicas = a.min_replicas;
  s.max_replicas = a.max_replicas;
  s.metrics.clear();
  if (a.cpu) s.metrics.push_back({control::HpaMetric::kCpu, *a.cpu});
  if (a.rps) {
    if (!(*a.rps > 0 && *a.rps <= 1e6)) return make_error(ErrorCode::kInvalidArgument, "--rps must be > 0 and <= 1000000");
    s.metrics.push_back({control::HpaMetric::kRps, static_cast<std::int64_t>(*a.rps * 1000 + 0.5)});
  }
  if (a.in_flight) {
    if (!(*a.in_flight > 0 && *a.in_flight <= 1e6)) {
      return make_error(ErrorCode::kInvalidArgument, "--in-flight must be > 0 and <= 1000000");
    }
    s.metrics.push_back(
        {control::HpaMetric::kInFlight, static_cast<std::int64_t>(*a.in_flight * 1000 + 0.5)});
  }
  if (s.metrics.empty()) s.metrics.push_back({control::HpaMetric::kCpu, 70});
  if (!a.cpu_request.empty()) {
    auto milli = control::parse_cpu_quantity(a.cpu_request);
    if (!milli) return milli.error();
    s.cpu_request_millicores = *milli;
  }
  s.sync_period = std::chrono::seconds(a.sync_period_s);
  if (!a.behavior_file.empty()) {
    auto b = read_behavior(a.behavior_file);
    if (!b) return b.error();
    s.behavior = *b;
  }
  if (a.scale_down_window_s) s.behavior.scale_down.stabilization_window_seconds = *a.scale_down_window_s;
  if (Status st = control::validate(s); !st) return st.error();
  return s;
}

int run_autoscale(const Common& c, const AutoscaleArgs& args) {
  auto spec = autoscale_spec(args);
  if (!spec) return usage_error(spec.error().message);
  auto client = ControlClient::connect(c.state_dir);
  if (!client) return fail(client.error());
  auto r = client->post("/control/v1/autoscale", platform::to_json(*spec));
  if (!r) return fail(r.error());
  if (c.output == "json") {
    std::cout << json_text(platform::to_json(*spec)) << "\n";
  } else {
    std::cout << "autoscaling on: min " << spec->min_replicas << ", max " << spec->max_replicas
              << ", every " << spec->sync_period.count() << " s (sgctl get hpa shows it)\n";
  }
  return kExitOk;
}

int run_autoscale_off(const Common& c) {
  auto client = ControlClient::connect(c.state_dir);
  if (!client) return fail(client.error());
  auto r = client->post("/control/v1/autoscale/off", json::object{});
  if (!r) return fail(r.error());
  if (c.output == "json") {
    std::cout << "{}\n";
  } else {
    std::cout << "autoscaling off: the active track keeps its current replica count\n";
  }
  return kExitOk;
}

int run_get_hpa(const Common& c) {
  auto client = ControlClient::connect(c.state_dir);
  if (!client) return fail(client.error());
  auto raw = client->get("/control/v1/status");
  if (!raw) return fail(raw.error());
  auto st = platform::status_from_json(*raw);
  if (!st) return fail(st.error());
  if (c.output == "json") {
    std::cout << json_text(st->autoscaler ? platform::to_json(*st->autoscaler) : json::value(nullptr))
              << "\n";
    return kExitOk;
  }
  if (!st->autoscaler) {
    std::cout << "autoscaling is off (sgctl autoscale --min 2 --max 10 --cpu 70 turns it on)\n";
    return kExitOk;
  }
  const platform::AutoscalerView& a = *st->autoscaler;
  std::printf("%-20s %-7s %-10s %-34s %7s %7s %8s %7s %5s  %s\n", "NAME", "TRACK", "RELEASE",
              "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "DESIRED", "READY", "LAST SCALE");
  if (a.tracks.empty()) {
    std::printf("%-20s (no evaluation yet: the first comes %s s after autoscaling started)\n",
                "streamgate-hpa-cpu", num(a.sync_period_s).c_str());
  }
  for (const auto& [track, t] : a.tracks) {
    std::printf("%-20s %-7s %-10s %-34s %7d %7d %8d %7d %5d  %s\n", "streamgate-hpa-cpu",
                track.c_str(), t.release.c_str(), targets_text(t).c_str(), t.min_replicas,
                t.max_replicas, t.current_replicas, t.desired_replicas, t.ready_replicas,
                t.last_scale_time.value_or("-").c_str());
  }
  for (const auto& [track, t] : a.tracks) {
    std::cout << "\n" << track << " conditions:\n";
    for (const auto& cond : t.conditions) {
      std::cout << "  " << cond.type << " " << (cond.status ? "True " : "False") << " "
                << cond.reason << ": " << cond.message << "\n";
    }
    if (t.last_decision) {
      std::cout << "  last decision " << t.last_decision->at << ": "
                << t.last_decision->current_replicas << " -> " << t.last_decision->desired_replicas
                << " (" << t.last_decision->reason << ")\n";
    }
    for (const auto& m : t.metrics) {
      if (!m.error.empty()) std::cout << "  " << m.metric << ": " << m.error << "\n";
    }
  }
  std::cout << "\nbehavior: scale up window " << a.scale_up_window_s << " s ("
            << a.scale_up_select_policy << "), scale down window " << a.scale_down_window_s
            << " s (" << a.scale_down_select_policy << "); sync period " << num(a.sync_period_s)
            << " s; CPU request " << num(a.cpu_request_millicores) << "m\n";
  return kExitOk;
}

}  // namespace sg::cli
