// The runbook's periodic checks (daily, weekly, monthly) as a report, computed from the state
// store alone: the deployment history and the platform's own 1-minute rollups
// (store/rollup_store.hpp), so no Prometheus is needed. build_report() is pure; the
// renderers give text, Markdown and JSON (field names are a contract: README, "sgctl report").
//
// Definitions (also in the README):
//   * A minute (a rollup period) is unhealthy when, over the gateway's requests of that minute
//     (at least one a second, so a ratio of small numbers does not count), more than 1 % were
//     5xx or the P95 was above 500 ms, or when a replica exited unexpectedly. An incident is a run
//     of unhealthy minutes (runs one healthy minute apart are one incident); its time to resolve is
//     from its first unhealthy minute to the end of its last. Severity: critical when 5 % or more
//     of its requests failed or replicas restarted 3 times or more, else warning.
//   * Scaling accuracy: of the minutes a track was autoscaled, the share whose end found it
//     with as many ready replicas as the autoscaler wanted.
//   * Replica-hours: replica-minutes recorded / 60, the cost proxy.
//   * Trends compare the second half of the period with the first.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "platform/store/rollup_store.hpp"
#include "platform/store/state_store.hpp"

namespace sg::platform {

enum class ReportKind { kDaily, kWeekly, kMonthly };
Result<ReportKind> parse_report_kind(const std::string& text);  // daily | weekly | monthly
const char* report_kind_name(ReportKind kind);
std::int64_t report_span_ms(ReportKind kind);    // 1, 7, 30 days
std::int64_t report_bucket_ms(ReportKind kind);  // 1 hour for daily, else 1 day

struct ReportInput {
  ReportKind kind = ReportKind::kDaily;
  std::int64_t end_ms = 0;                    // the period is [end - span, end)
  std::vector<DeploymentRecord> deployments;  // any; those started in the period count
  std::vector<TrackRollup> tracks;            // rows of the period
  std::vector<ReplicaRollup> replicas;
};

struct TrafficFigures {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  std::optional<double> error_rate;  // errors / requests; none without requests
  std::optional<double> p50_ms, p95_ms, p99_ms;
  double avg_rps = 0;   // over the minutes recorded
  double peak_rps = 0;  // the busiest minute
};

struct ResourceFigures {
  std::optional<double> avg_cpu_cores;  // per replica, over replica-minutes with CPU known
  std::optional<double> peak_cpu_cores;
  std::optional<double> avg_memory_bytes;
  std::optional<double> peak_memory_bytes;
  double replica_hours = 0;
  double avg_replicas = 0;
  int restarts = 0;
};

struct ReportBucket {
  std::int64_t start_ms = 0;
  double recorded_s = 0;  // time covered by rollups in it
  TrafficFigures traffic;
  ResourceFigures resources;
  int scale_ups = 0;
  int scale_downs = 0;
};

struct ReportTrend {
  std::string metric;  // request_rate, error_rate, p95_ms, cpu_cores, memory_bytes, replicas
  std::optional<double> first_half;
  std::optional<double> second_half;
  std::string direction;  // up | down | flat | unknown (change within 10 % is flat)
};

struct ReportIncident {
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;          // end of its last unhealthy minute
  bool ongoing = false;             // its last minute is the last one recorded
  std::string severity;             // critical | warning
  std::vector<std::string> causes;  // high_error_rate, high_latency, pod_crash
  std::vector<std::string> tracks;
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  int restarts = 0;
};

struct ReportDeployment {
  std::int64_t id = 0;
  std::string strategy, from, to, result, reason;
  std::int64_t started_ms = 0;
  std::optional<double> duration_s;
};

struct ReportTrack {
  std::string track;
  std::string release;
  TrafficFigures traffic;
};

struct ReportCheck {
  std::string name;
  std::string status;  // ok | failed | no_data
  std::string detail;
};

struct Report {
  ReportKind kind = ReportKind::kDaily;
  std::int64_t from_ms = 0;
  std::int64_t to_ms = 0;
  double recorded_s = 0;  // time covered by rollups (the control plane was running)
  double period_s = 0;    // the rollups' period (60 s)
  std::vector<ReportCheck> checks;
  // Deployments
  std::vector<ReportDeployment> deployments;  // started in the period, newest first
  int promoted = 0, rolled_back = 0, failed = 0, in_progress = 0;
  std::optional<double> success_rate;  // promoted / finished
  std::optional<double> rollbacks_per_week;
  std::optional<double> mean_deploy_s;
  // Incidents
  std::vector<ReportIncident> incidents;  // oldest first
  std::optional<double> mean_resolve_s;
  std::optional<double> max_resolve_s;
  // Traffic, resources, scaling
  TrafficFigures traffic;
  std::vector<ReportTrack> tracks;
  ResourceFigures resources;
  int scale_ups = 0, scale_downs = 0;
  double autoscaled_s = 0;  // track-time under the autoscaler
  std::optional<double> scaling_accuracy;
  std::optional<double> replica_hours_per_million_requests;
  std::vector<ReportBucket> buckets;
  std::vector<ReportTrend> trends;
};

Report build_report(const ReportInput& input);

boost::json::value to_json(const Report& report);
std::string to_markdown(const Report& report);
std::string to_text(const Report& report);

}  // namespace sg::platform
