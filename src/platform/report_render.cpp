// The report's three renderings (report.hpp): JSON (the contract), Markdown and text.
#include <boost/json.hpp>

#include <cmath>
#include <cstdio>

#include "platform/report.hpp"

namespace sg::platform {
namespace json = boost::json;
namespace {

json::value opt(const std::optional<double>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

json::object traffic_json(const TrafficFigures& t) {
  return {{"requests", t.requests},  {"errors", t.errors},      {"error_rate", opt(t.error_rate)},
          {"p50_ms", opt(t.p50_ms)}, {"p95_ms", opt(t.p95_ms)}, {"p99_ms", opt(t.p99_ms)},
          {"avg_rps", t.avg_rps},    {"peak_rps", t.peak_rps}};
}

json::object resources_json(const ResourceFigures& r) {
  return {{"avg_cpu_cores", opt(r.avg_cpu_cores)},
          {"peak_cpu_cores", opt(r.peak_cpu_cores)},
          {"avg_memory_bytes", opt(r.avg_memory_bytes)},
          {"peak_memory_bytes", opt(r.peak_memory_bytes)},
          {"replica_hours", r.replica_hours},
          {"avg_replicas", r.avg_replicas},
          {"restarts", r.restarts}};
}

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

std::string fixed(std::optional<double> v, int digits, const char* unit = "") {
  if (!v) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f%s", digits, *v, unit);
  return buf;
}
std::string pct(std::optional<double> v) { return v ? fixed(*v * 100, 2, " %") : std::string("-"); }
std::string mib(std::optional<double> v) {
  return v ? fixed(*v / 1048576.0, 1, " MiB") : std::string("-");
}
std::string duration(std::optional<double> s) {
  if (!s) return "-";
  if (*s < 120) return fixed(*s, 0, " s");
  if (*s < 7200) return fixed(*s / 60, 1, " min");
  return fixed(*s / 3600, 1, " h");
}
std::string when(std::int64_t ms) { return iso8601_utc(ms).substr(0, 16) + "Z"; }

// Rows of cells; Markdown pipes them, text pads them.
using Table = std::vector<std::vector<std::string>>;

std::string render_table(const Table& t, bool markdown) {
  if (t.empty()) return "";
  std::vector<std::size_t> width(t.front().size(), 0);
  for (const auto& row : t) {
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  std::string out;
  for (std::size_t r = 0; r < t.size(); ++r) {
    std::string line = markdown ? "|" : "  ";
    for (std::size_t i = 0; i < t[r].size(); ++i) {
      std::string cell = t[r][i];
      cell.resize(std::max(cell.size(), width[i]), ' ');
      line += markdown ? " " + cell + " |" : cell + "  ";
    }
    while (!markdown && !line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
    if (markdown && r == 0) {
      std::string sep = "|";
      for (std::size_t i = 0; i < width.size(); ++i) sep += std::string(width[i] + 2, '-') + "|";
      out += sep + "\n";
    }
  }
  return out;
}

struct Sections {
  std::vector<std::pair<std::string, std::string>> items;  // heading -> body
};

Sections sections_of(const Report& r, bool md) {
  Sections s;
  Table checks{{"check", "status", "detail"}};
  for (const auto& c : r.checks) checks.push_back({c.name, c.status, c.detail});
  s.items.emplace_back("Checks", render_table(checks, md));

  std::string dep = "started " + std::to_string(r.deployments.size()) + ": promoted " +
                    std::to_string(r.promoted) + ", rolled back " + std::to_string(r.rolled_back) +
                    ", failed " + std::to_string(r.failed) + ", in progress " +
                    std::to_string(r.in_progress) + "; success rate " + pct(r.success_rate) +
                    "; rollbacks per week " + fixed(r.rollbacks_per_week, 1) + "; mean duration " +
                    duration(r.mean_deploy_s) + "\n";
  Table deps{{"id", "started", "strategy", "from", "to", "result", "duration", "reason"}};
  for (std::size_t i = 0; i < r.deployments.size() && i < 50; ++i) {
    const auto& d = r.deployments[i];
    deps.push_back({std::to_string(d.id), when(d.started_ms), d.strategy, d.from, d.to, d.result,
                    duration(d.duration_s), d.reason.substr(0, 80)});
  }
  if (deps.size() > 1) dep += (md ? "\n" : "") + render_table(deps, md);
  s.items.emplace_back("Deployments", dep);

  std::string inc = std::to_string(r.incidents.size()) + " incidents; time to resolve: mean " +
                    duration(r.mean_resolve_s) + ", max " + duration(r.max_resolve_s) + "\n";
  Table incs{
      {"start", "duration", "severity", "causes", "tracks", "requests", "errors", "restarts"}};
  for (const auto& i : r.incidents) {
    std::string causes, tracks;
    for (const auto& c : i.causes) causes += (causes.empty() ? "" : ",") + c;
    for (const auto& t : i.tracks) tracks += (tracks.empty() ? "" : ",") + t;
    incs.push_back({when(i.start_ms),
                    duration(static_cast<double>(i.end_ms - i.start_ms) / 1000) +
                        (i.ongoing ? " (ongoing)" : ""),
                    i.severity, causes, tracks, std::to_string(i.requests),
                    std::to_string(i.errors), std::to_string(i.restarts)});
  }
  if (incs.size() > 1) inc += (md ? "\n" : "") + render_table(incs, md);
  s.items.emplace_back("Incidents", inc);

  const auto& t = r.traffic;
  Table traffic{
      {"track", "release", "requests", "error rate", "P50", "P95", "P99", "avg rps", "peak rps"}};
  traffic.push_back({"all", "", std::to_string(t.requests), pct(t.error_rate),
                     fixed(t.p50_ms, 1, " ms"), fixed(t.p95_ms, 1, " ms"),
                     fixed(t.p99_ms, 1, " ms"), fixed(t.avg_rps, 2), fixed(t.peak_rps, 2)});
  for (const auto& tr : r.tracks) {
    const auto& x = tr.traffic;
    traffic.push_back({tr.track, tr.release, std::to_string(x.requests), pct(x.error_rate),
                       fixed(x.p50_ms, 1, " ms"), fixed(x.p95_ms, 1, " ms"),
                       fixed(x.p99_ms, 1, " ms"), fixed(x.avg_rps, 2), fixed(x.peak_rps, 2)});
  }
  s.items.emplace_back("Traffic and latency", render_table(traffic, md));

  const auto& res = r.resources;
  s.items.emplace_back(
      "Resources and cost",
      "CPU per replica: avg " + fixed(res.avg_cpu_cores, 3, " cores") + ", peak " +
          fixed(res.peak_cpu_cores, 3, " cores") + "; memory per replica: avg " +
          mib(res.avg_memory_bytes) + ", peak " + mib(res.peak_memory_bytes) + "\n" +
          "replicas: avg " + fixed(res.avg_replicas, 2) + "; replica-hours " +
          fixed(res.replica_hours, 2) + " (" + fixed(r.replica_hours_per_million_requests, 2) +
          " per million requests); restarts " + std::to_string(res.restarts) + "\n");
  s.items.emplace_back("Scaling", "scale-ups " + std::to_string(r.scale_ups) + ", scale-downs " +
                                      std::to_string(r.scale_downs) + "; autoscaled " +
                                      duration(r.autoscaled_s) + "; accuracy " +
                                      pct(r.scaling_accuracy) + "\n");

  Table trends{{"metric", "first half", "second half", "trend"}};
  for (const auto& tr : r.trends) {
    const int digits = tr.metric == "error_rate" ? 4 : 2;
    trends.push_back(
        {tr.metric, fixed(tr.first_half, digits), fixed(tr.second_half, digits), tr.direction});
  }
  s.items.emplace_back("Trends", render_table(trends, md));

  Table buckets{{"from", "requests", "error rate", "P95", "avg rps", "CPU/replica",
                 "memory/replica", "replicas", "scale up/down"}};
  for (const auto& b : r.buckets) {
    buckets.push_back({when(b.start_ms), std::to_string(b.traffic.requests),
                       pct(b.traffic.error_rate), fixed(b.traffic.p95_ms, 1, " ms"),
                       fixed(b.traffic.avg_rps, 2), fixed(b.resources.avg_cpu_cores, 3),
                       mib(b.resources.avg_memory_bytes), fixed(b.resources.avg_replicas, 2),
                       std::to_string(b.scale_ups) + "/" + std::to_string(b.scale_downs)});
  }
  s.items.emplace_back(r.kind == ReportKind::kDaily ? "By hour" : "By day",
                       buckets.size() > 1 ? render_table(buckets, md) : "no data\n");
  return s;
}

std::string title(const Report& r) {
  std::string kind = report_kind_name(r.kind);
  kind[0] = static_cast<char>(kind[0] - 'a' + 'A');
  return "StreamGate " + kind + " report, " + when(r.from_ms) + " to " + when(r.to_ms);
}

std::string coverage(const Report& r) {
  const double span = static_cast<double>(r.to_ms - r.from_ms) / 1000;
  return "Recorded: " + duration(r.recorded_s) + " of " + duration(span) + " (" +
         pct(span > 0 ? std::optional<double>(r.recorded_s / span) : std::nullopt) +
         "; the control plane records while `sgctl up` runs)\n";
}

}  // namespace

json::value to_json(const Report& r) {
  json::array checks, deps, incs, tracks, buckets, trends;
  for (const auto& c : r.checks) {
    checks.push_back(json::object{{"name", c.name}, {"status", c.status}, {"detail", c.detail}});
  }
  for (const auto& d : r.deployments) {
    deps.push_back(json::object{{"id", d.id},
                                {"strategy", d.strategy},
                                {"from", d.from},
                                {"to", d.to},
                                {"result", d.result},
                                {"reason", d.reason},
                                {"started", iso8601_utc(d.started_ms)},
                                {"duration_s", opt(d.duration_s)}});
  }
  for (const auto& i : r.incidents) {
    incs.push_back(json::object{{"start", iso8601_utc(i.start_ms)},
                                {"end", iso8601_utc(i.end_ms)},
                                {"duration_s", static_cast<double>(i.end_ms - i.start_ms) / 1000},
                                {"ongoing", i.ongoing},
                                {"severity", i.severity},
                                {"causes", strings(i.causes)},
                                {"tracks", strings(i.tracks)},
                                {"requests", i.requests},
                                {"errors", i.errors},
                                {"restarts", i.restarts}});
  }
  for (const auto& t : r.tracks) {
    tracks.push_back(json::object{
        {"track", t.track}, {"release", t.release}, {"traffic", traffic_json(t.traffic)}});
  }
  for (const auto& b : r.buckets) {
    buckets.push_back(json::object{{"start", iso8601_utc(b.start_ms)},
                                   {"recorded_s", b.recorded_s},
                                   {"traffic", traffic_json(b.traffic)},
                                   {"resources", resources_json(b.resources)},
                                   {"scale_ups", b.scale_ups},
                                   {"scale_downs", b.scale_downs}});
  }
  for (const auto& t : r.trends) {
    trends.push_back(json::object{{"metric", t.metric},
                                  {"first_half", opt(t.first_half)},
                                  {"second_half", opt(t.second_half)},
                                  {"direction", t.direction}});
  }
  return json::object{
      {"report", report_kind_name(r.kind)},
      {"from", iso8601_utc(r.from_ms)},
      {"to", iso8601_utc(r.to_ms)},
      {"recorded_s", r.recorded_s},
      {"period_s", r.period_s},
      {"checks", checks},
      {"deployments", json::object{{"started", r.deployments.size()},
                                   {"promoted", r.promoted},
                                   {"rolled_back", r.rolled_back},
                                   {"failed", r.failed},
                                   {"in_progress", r.in_progress},
                                   {"success_rate", opt(r.success_rate)},
                                   {"rollbacks_per_week", opt(r.rollbacks_per_week)},
                                   {"mean_duration_s", opt(r.mean_deploy_s)},
                                   {"list", deps}}},
      {"incidents", json::object{{"count", r.incidents.size()},
                                 {"mean_resolve_s", opt(r.mean_resolve_s)},
                                 {"max_resolve_s", opt(r.max_resolve_s)},
                                 {"list", incs}}},
      {"traffic", traffic_json(r.traffic)},
      {"tracks", tracks},
      {"resources", resources_json(r.resources)},
      {"scaling", json::object{{"scale_ups", r.scale_ups},
                               {"scale_downs", r.scale_downs},
                               {"autoscaled_s", r.autoscaled_s},
                               {"accuracy", opt(r.scaling_accuracy)}}},
      {"replica_hours_per_million_requests", opt(r.replica_hours_per_million_requests)},
      {"buckets", buckets},
      {"trends", trends}};
}

std::string to_markdown(const Report& r) {
  std::string out = "# " + title(r) + "\n\n" + coverage(r);
  for (const auto& [heading, body] : sections_of(r, true).items) {
    out += "\n## " + heading + "\n\n" + body;
  }
  return out;
}

std::string to_text(const Report& r) {
  std::string out = title(r) + "\n" + coverage(r);
  for (const auto& [heading, body] : sections_of(r, false).items) {
    out += "\n" + heading + "\n";
    std::size_t start = 0;
    while (start < body.size()) {  // indent every line of the body
      const auto nl = body.find('\n', start);
      const std::string line = body.substr(start, nl == std::string::npos ? nl : nl - start);
      out += (line.starts_with("  ") ? "" : "  ") + line + "\n";
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
  }
  return out;
}

}  // namespace sg::platform
