#include "platform/report.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "control/judge.hpp"
#include "control/synthetic.hpp"

namespace sg::platform {
namespace {

constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;
constexpr double kMaxErrorRate = 0.01;
constexpr double kMaxP95Ms = 500;
constexpr double kMinRps = 1;  // below it a minute's ratios do not count
constexpr int kMaxRestarts = 3;
constexpr double kMinAccuracy = 0.95;

using Tracks = std::vector<const TrackRollup*>;
using Replicas = std::vector<const ReplicaRollup*>;

double seconds(std::int64_t ms) { return static_cast<double>(ms) / 1000.0; }

// Time covered: each distinct period once.
double covered_s(const Tracks& t, const Replicas& r) {
  std::map<std::int64_t, std::int64_t> periods;
  for (const auto* x : t) periods[x->start_ms] = x->period_ms;
  for (const auto* x : r) periods[x->start_ms] = x->period_ms;
  double s = 0;
  for (const auto& [start, len] : periods) s += seconds(len);
  return s;
}

control::TrafficSample sample_of(const TrackRollup& r) {
  control::TrafficSample s;
  s.requests = r.requests;
  s.errors = r.errors;
  s.bounds = r.latency_bounds;
  s.counts = r.latency_counts;
  return s;
}

std::optional<double> quantile_ms(const control::TrafficSample& s, double q) {
  const double v = control::histogram_quantile(s, q);
  if (v < 0) return std::nullopt;
  return v * 1000.0;
}

TrafficFigures traffic_of(const Tracks& rows, double recorded_s) {
  TrafficFigures f;
  control::TrafficSample all;
  std::map<std::int64_t, std::pair<std::uint64_t, std::int64_t>> per_period;
  for (const auto* r : rows) {
    all = control::merge_samples(all, sample_of(*r));
    auto& [n, len] = per_period[r->start_ms];
    n += r->requests;
    len = r->period_ms;
  }
  f.requests = all.requests;
  f.errors = all.errors;
  if (f.requests > 0) {
    f.error_rate = static_cast<double>(f.errors) / static_cast<double>(f.requests);
    f.p50_ms = quantile_ms(all, 0.50);
    f.p95_ms = quantile_ms(all, 0.95);
    f.p99_ms = quantile_ms(all, 0.99);
  }
  if (recorded_s > 0) f.avg_rps = static_cast<double>(f.requests) / recorded_s;
  for (const auto& [start, v] : per_period) {
    if (v.second > 0)
      f.peak_rps = std::max(f.peak_rps, static_cast<double>(v.first) / seconds(v.second));
  }
  return f;
}

ResourceFigures resources_of(const Replicas& rows, double recorded_s) {
  ResourceFigures f;
  double cpu_sum = 0, mem_sum = 0, replica_s = 0;
  int cpu_n = 0, mem_n = 0;
  for (const auto* r : rows) {
    const double len = seconds(r->period_ms);
    replica_s += len;
    f.restarts += r->restarts;
    if (r->cpu_seconds && len > 0) {
      const double cores = *r->cpu_seconds / len;
      cpu_sum += cores;
      ++cpu_n;
      f.peak_cpu_cores = std::max(f.peak_cpu_cores.value_or(0), cores);
    }
    if (r->memory_bytes) {
      mem_sum += *r->memory_bytes;
      ++mem_n;
      f.peak_memory_bytes = std::max(f.peak_memory_bytes.value_or(0), *r->memory_bytes);
    }
  }
  if (cpu_n > 0) f.avg_cpu_cores = cpu_sum / cpu_n;
  if (mem_n > 0) f.avg_memory_bytes = mem_sum / mem_n;
  f.replica_hours = replica_s / 3600.0;
  if (recorded_s > 0) f.avg_replicas = replica_s / recorded_s;
  return f;
}

struct Minute {
  std::int64_t start_ms = 0;
  std::int64_t period_ms = 0;
  control::TrafficSample traffic;
  std::set<std::string> tracks;  // those whose figures made it unhealthy
  std::set<std::string> causes;
  int restarts = 0;
};

// One entry per period with its health.
std::vector<Minute> minutes_of(const Tracks& tracks, const Replicas& replicas) {
  std::map<std::int64_t, Minute> by_start;
  for (const auto* r : tracks) {
    Minute& m = by_start[r->start_ms];
    m.start_ms = r->start_ms;
    m.period_ms = r->period_ms;
    const control::TrafficSample s = sample_of(*r);
    m.traffic = control::merge_samples(m.traffic, s);
    if (static_cast<double>(r->requests) < kMinRps * seconds(r->period_ms)) continue;
    if (static_cast<double>(r->errors) > kMaxErrorRate * static_cast<double>(r->requests)) {
      m.causes.insert("high_error_rate");
      m.tracks.insert(r->track);
    }
    if (auto p95 = quantile_ms(s, 0.95); p95 && *p95 > kMaxP95Ms) {
      m.causes.insert("high_latency");
      m.tracks.insert(r->track);
    }
  }
  for (const auto* r : replicas) {
    Minute& m = by_start[r->start_ms];
    m.start_ms = r->start_ms;
    m.period_ms = r->period_ms;
    if (r->restarts > 0) {
      m.restarts += r->restarts;
      m.causes.insert("pod_crash");
      m.tracks.insert(r->track);
    }
  }
  std::vector<Minute> out;
  for (auto& [start, m] : by_start) out.push_back(std::move(m));
  return out;
}

void close_incident(ReportIncident& i, std::set<std::string>& causes, std::set<std::string>& tracks,
                    std::vector<ReportIncident>& out) {
  i.causes.assign(causes.begin(), causes.end());
  i.tracks.assign(tracks.begin(), tracks.end());
  const bool bad =
      i.requests > 0 && static_cast<double>(i.errors) >= 0.05 * static_cast<double>(i.requests);
  i.severity = bad || i.restarts >= kMaxRestarts ? "critical" : "warning";
  out.push_back(i);
  causes.clear();
  tracks.clear();
}

std::vector<ReportIncident> incidents_of(const std::vector<Minute>& minutes) {
  std::vector<ReportIncident> out;
  std::optional<ReportIncident> open;
  std::set<std::string> causes, tracks;
  std::int64_t last_bad_end = 0;
  for (const Minute& m : minutes) {
    const bool bad = !m.causes.empty();
    if (open) {
      // Runs one period apart are one incident; a second healthy (or missing) period ends it.
      const std::int64_t gap = m.start_ms - last_bad_end;
      if ((bad && gap > m.period_ms) || (!bad && gap >= m.period_ms)) {
        close_incident(*open, causes, tracks, out);
        open.reset();
      }
    }
    if (!bad) continue;
    if (!open) {
      open.emplace();
      open->start_ms = m.start_ms;
    }
    open->end_ms = m.start_ms + m.period_ms;
    last_bad_end = open->end_ms;
    open->requests += m.traffic.requests;
    open->errors += m.traffic.errors;
    open->restarts += m.restarts;
    causes.insert(m.causes.begin(), m.causes.end());
    tracks.insert(m.tracks.begin(), m.tracks.end());
  }
  if (open) {
    open->ongoing =
        !minutes.empty() && minutes.back().start_ms + minutes.back().period_ms == open->end_ms;
    close_incident(*open, causes, tracks, out);
  }
  return out;
}

std::optional<double> ratio(double num, double den) {
  if (den <= 0) return std::nullopt;
  return num / den;
}

void add_deployments(const ReportInput& in, Report& r) {
  double total_s = 0;
  int finished_n = 0;
  for (const DeploymentRecord& d : in.deployments) {
    if (d.started_ms < r.from_ms || d.started_ms >= r.to_ms) continue;
    ReportDeployment out{d.id,     d.strategy, d.from_release, d.to_release,
                         d.result, d.reason,   d.started_ms,   std::nullopt};
    if (d.finished_ms > 0) {
      out.duration_s = seconds(d.finished_ms - d.started_ms);
      total_s += *out.duration_s;
      ++finished_n;
    }
    if (d.result == "promoted") ++r.promoted;
    if (d.result == "rolled_back") ++r.rolled_back;
    if (d.result == "failed") ++r.failed;
    if (d.result == "in_progress") ++r.in_progress;
    r.deployments.push_back(std::move(out));
  }
  std::sort(r.deployments.begin(), r.deployments.end(),
            [](const auto& a, const auto& b) { return a.started_ms > b.started_ms; });
  r.success_rate = ratio(r.promoted, r.promoted + r.rolled_back + r.failed);
  r.rollbacks_per_week = r.rolled_back / (seconds(r.to_ms - r.from_ms) / (7 * 86400.0));
  r.mean_deploy_s = ratio(total_s, finished_n);
}

void add_scaling(const Tracks& rows, Report& r) {
  double converged_s = 0;
  for (const auto* t : rows) {
    r.scale_ups += t->scale_ups;
    r.scale_downs += t->scale_downs;
    if (!t->autoscaled) continue;
    r.autoscaled_s += seconds(t->period_ms);
    if (t->autoscaler_desired && t->ready == *t->autoscaler_desired) {
      converged_s += seconds(t->period_ms);
    }
  }
  r.scaling_accuracy = ratio(converged_s, r.autoscaled_s);
}

ReportTrend trend(const char* metric, std::optional<double> a, std::optional<double> b) {
  ReportTrend t{metric, a, b, "unknown"};
  if (!a || !b) return t;
  const double base = std::max(std::abs(*a), 1e-12);
  const double change = (*b - *a) / base;
  if ((*a == 0 && *b == 0) || std::abs(change) <= 0.10) {
    t.direction = "flat";
  } else {
    t.direction = change > 0 ? "up" : "down";
  }
  return t;
}

void add_trends(const Tracks& tracks, const Replicas& replicas, Report& r) {
  const std::int64_t mid = r.from_ms + (r.to_ms - r.from_ms) / 2;
  Tracks t1, t2;
  Replicas p1, p2;
  for (const auto* t : tracks) (t->start_ms < mid ? t1 : t2).push_back(t);
  for (const auto* p : replicas) (p->start_ms < mid ? p1 : p2).push_back(p);
  const double s1 = covered_s(t1, p1), s2 = covered_s(t2, p2);
  const TrafficFigures a = traffic_of(t1, s1), b = traffic_of(t2, s2);
  const ResourceFigures ra = resources_of(p1, s1), rb = resources_of(p2, s2);
  auto rate = [](double v, double s) { return s > 0 ? std::optional<double>(v) : std::nullopt; };
  r.trends = {trend("request_rate", rate(a.avg_rps, s1), rate(b.avg_rps, s2)),
              trend("error_rate", a.error_rate, b.error_rate),
              trend("p95_ms", a.p95_ms, b.p95_ms),
              trend("cpu_cores", ra.avg_cpu_cores, rb.avg_cpu_cores),
              trend("memory_bytes", ra.avg_memory_bytes, rb.avg_memory_bytes),
              trend("replicas", rate(ra.avg_replicas, s1), rate(rb.avg_replicas, s2))};
}

void add_buckets(const Tracks& tracks, const Replicas& replicas, Report& r) {
  const std::int64_t width = report_bucket_ms(r.kind);
  std::map<std::int64_t, std::pair<Tracks, Replicas>> by;
  // Buckets on whole UTC hours or days.
  auto bucket = [width](std::int64_t ms) { return ms - ((ms % width) + width) % width; };
  for (const auto* t : tracks) by[bucket(t->start_ms)].first.push_back(t);
  for (const auto* p : replicas) by[bucket(p->start_ms)].second.push_back(p);
  for (const auto& [start, rows] : by) {
    ReportBucket b;
    b.start_ms = start;
    b.recorded_s = covered_s(rows.first, rows.second);
    b.traffic = traffic_of(rows.first, b.recorded_s);
    b.resources = resources_of(rows.second, b.recorded_s);
    for (const auto* t : rows.first) {
      b.scale_ups += t->scale_ups;
      b.scale_downs += t->scale_downs;
    }
    r.buckets.push_back(std::move(b));
  }
}

std::string percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %%", v * 100);
  return buf;
}

ReportCheck check(const char* name, std::optional<bool> ok, std::string detail) {
  return {name, !ok ? "no_data" : (*ok ? "ok" : "failed"), std::move(detail)};
}

void add_checks(const Replicas& replicas, Report& r) {
  const auto& t = r.traffic;
  r.checks.push_back(
      check("error_rate",
            t.error_rate ? std::optional<bool>(*t.error_rate <= kMaxErrorRate) : std::nullopt,
            t.error_rate ? percent(*t.error_rate) + " of " + std::to_string(t.requests) +
                               " requests were 5xx (runbook: <= 1 %)"
                         : "no requests recorded"));
  r.checks.push_back(
      check("latency_p95", t.p95_ms ? std::optional<bool>(*t.p95_ms <= kMaxP95Ms) : std::nullopt,
            t.p95_ms ? "P95 " + std::to_string(static_cast<long>(std::lround(*t.p95_ms))) +
                           " ms (runbook: <= 500 ms)"
                     : "no requests recorded"));
  std::map<std::string, int> restarts;
  for (const auto* p : replicas) restarts[p->replica] += p->restarts;
  std::string worst;
  int most = 0;
  for (const auto& [name, n] : restarts) {
    if (n > most) {
      most = n;
      worst = name;
    }
  }
  r.checks.push_back(check(
      "pod_restarts", replicas.empty() ? std::nullopt : std::optional<bool>(most <= kMaxRestarts),
      most == 0 ? "no replica restarted"
                : worst + " restarted " + std::to_string(most) + " times (runbook: <= 3)"));
  r.checks.push_back(check(
      "scaling_accuracy",
      r.scaling_accuracy ? std::optional<bool>(*r.scaling_accuracy > kMinAccuracy) : std::nullopt,
      r.scaling_accuracy ? percent(*r.scaling_accuracy) + " of autoscaled time at the desired "
                                                          "replicas (runbook: > 95 %)"
                         : "autoscaling was off"));
  const auto ongoing = std::count_if(r.incidents.begin(), r.incidents.end(),
                                     [](const ReportIncident& i) { return i.ongoing; });
  r.checks.push_back(check("incidents",
                           r.recorded_s > 0 ? std::optional<bool>(ongoing == 0) : std::nullopt,
                           std::to_string(r.incidents.size()) + " in the period, " +
                               std::to_string(ongoing) + " ongoing"));
  r.checks.push_back(check(
      "deployments", r.deployments.empty() ? std::nullopt : std::optional<bool>(r.failed == 0),
      std::to_string(r.deployments.size()) + " started, " + std::to_string(r.failed) +
          " failed (not rolled back cleanly)"));
}

}  // namespace

Result<ReportKind> parse_report_kind(const std::string& text) {
  if (text == "daily") return ReportKind::kDaily;
  if (text == "weekly") return ReportKind::kWeekly;
  if (text == "monthly") return ReportKind::kMonthly;
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown report '" + text + "' (daily, weekly or monthly)");
}

const char* report_kind_name(ReportKind kind) {
  switch (kind) {
    case ReportKind::kDaily:
      return "daily";
    case ReportKind::kWeekly:
      return "weekly";
    case ReportKind::kMonthly:
      return "monthly";
  }
  return "daily";
}

std::int64_t report_span_ms(ReportKind kind) {
  switch (kind) {
    case ReportKind::kDaily:
      return kDayMs;
    case ReportKind::kWeekly:
      return 7 * kDayMs;
    case ReportKind::kMonthly:
      return 30 * kDayMs;
  }
  return kDayMs;
}

std::int64_t report_bucket_ms(ReportKind kind) {
  return kind == ReportKind::kDaily ? 3600LL * 1000 : kDayMs;
}

Report build_report(const ReportInput& in) {
  Report r;
  r.kind = in.kind;
  r.to_ms = in.end_ms;
  r.from_ms = in.end_ms - report_span_ms(in.kind);
  Tracks tracks;
  Replicas replicas;
  for (const auto& t : in.tracks) {
    if (t.start_ms >= r.from_ms && t.start_ms < r.to_ms) tracks.push_back(&t);
  }
  for (const auto& p : in.replicas) {
    if (p.start_ms >= r.from_ms && p.start_ms < r.to_ms) replicas.push_back(&p);
  }
  r.recorded_s = covered_s(tracks, replicas);
  r.period_s = tracks.empty() ? (replicas.empty() ? 60 : seconds(replicas.front()->period_ms))
                              : seconds(tracks.front()->period_ms);
  add_deployments(in, r);
  r.incidents = incidents_of(minutes_of(tracks, replicas));
  double resolve_total = 0;
  for (const auto& i : r.incidents) {
    const double s = seconds(i.end_ms - i.start_ms);
    resolve_total += s;
    r.max_resolve_s = std::max(r.max_resolve_s.value_or(0), s);
  }
  r.mean_resolve_s = ratio(resolve_total, static_cast<double>(r.incidents.size()));
  r.traffic = traffic_of(tracks, r.recorded_s);
  std::map<std::pair<std::string, std::string>, Tracks> per_track;
  for (const auto* t : tracks) per_track[{t->track, t->release}].push_back(t);
  for (const auto& [key, rows] : per_track) {
    r.tracks.push_back({key.first, key.second, traffic_of(rows, covered_s(rows, {}))});
  }
  r.resources = resources_of(replicas, r.recorded_s);
  add_scaling(tracks, r);
  if (r.traffic.requests > 0) {
    r.replica_hours_per_million_requests =
        r.resources.replica_hours / (static_cast<double>(r.traffic.requests) / 1e6);
  }
  add_buckets(tracks, replicas, r);
  add_trends(tracks, replicas, r);
  add_checks(replicas, r);
  return r;
}

}  // namespace sg::platform
