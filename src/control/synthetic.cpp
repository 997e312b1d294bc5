#include "control/synthetic.hpp"

#include <algorithm>
#include <cmath>

namespace sg::control {
std::uint64_t requests_to_pass(const JudgeConfig& j) {
  return std::max({j.min_requests, clean_trials_to_pass(j.max_error_rate, j),
                   clean_trials_to_pass(1 - j.latency_quantile, j)});
}

double synthetic_rps(const SyntheticConfig& c, const SyntheticInput& in) {
  if (c.max_rps <= 0 || in.synthetic_sent >= c.max_requests) return 0;
  if (in.sample_requests >= in.needed) return 0;
  const double missing = static_cast<double>(in.needed - in.sample_requests);
  if (in.time_left_s <= 0) return c.max_rps;  // the window is over: as fast as allowed
  const double wanted = missing / in.time_left_s - in.organic_rps;
  if (wanted <= 0) return 0;
  // At least 1 request a second once needed, so a short remainder does not crawl.
  return std::clamp(wanted * 1.1, 1.0, c.max_rps);
}

namespace {

// Adds histogram b into a (taken as is when a is empty; ignored when the bounds differ).
void add_histogram(std::vector<double>& a_bounds, std::vector<std::uint64_t>& a_counts,
                   const std::vector<double>& b_bounds, const std::vector<std::uint64_t>& b_counts) {
  if (a_bounds.empty() && a_counts.empty()) {
    a_bounds = b_bounds;
    a_counts = b_counts;
  } else if (a_bounds == b_bounds && a_counts.size() == b_counts.size()) {
    for (std::size_t i = 0; i < a_counts.size(); ++i) a_counts[i] += b_counts[i];
  }
}

}  // namespace

TrafficSample merge_samples(TrafficSample a, const TrafficSample& b) {
  a.requests += b.requests;
  a.errors += b.errors;
  add_histogram(a.bounds, a.counts, b.bounds, b.counts);
  a.window = std::max(a.window, b.window);
  StreamingSample& sa = a.streaming;
  const StreamingSample& sb = b.streaming;
  sa.segments += sb.segments;
  sa.segment_errors += sb.segment_errors;
  add_histogram(sa.ttfb_bounds, sa.ttfb_counts, sb.ttfb_bounds, sb.ttfb_counts);
  sa.sessions_started += sb.sessions_started;
  sa.session_minutes += sb.session_minutes;
  sa.rebuffer_reports += sb.rebuffer_reports;
  sa.throughput_reports += sb.throughput_reports;
  sa.throughput_kbps_sum += sb.throughput_kbps_sum;
  return a;
}

}  // namespace sg::control
