#include "control/synthetic.hpp"

#include <algorithm>
#include <cmath>

namespace sg::control {
namespace {

// Clean requests for one binomial SPRT (p1 vs p0 = p1 / 2) to fall to its pass boundary B:
// each clean request adds ln((1 - p1) / (1 - p0)) < 0 to the LLR, which starts at 0.
double clean_requests_to_pass(double p1, double b) {
  const double step = std::log((1 - p1) / (1 - p1 / 2));
  return std::ceil(b / step);
}

}  // namespace

std::uint64_t requests_to_pass(const JudgeConfig& j) {
  const double b = std::log(j.beta / (1 - j.alpha));
  const double errors = clean_requests_to_pass(j.max_error_rate, b);
  const double latency = clean_requests_to_pass(1 - j.latency_quantile, b);
  return std::max<std::uint64_t>(j.min_requests,
                                 static_cast<std::uint64_t>(std::max(errors, latency)));
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

TrafficSample merge_samples(TrafficSample a, const TrafficSample& b) {
  a.requests += b.requests;
  a.errors += b.errors;
  if (a.bounds.empty() && a.counts.empty()) {
    a.bounds = b.bounds;
    a.counts = b.counts;
  } else if (a.bounds == b.bounds && a.counts.size() == b.counts.size()) {
    for (std::size_t i = 0; i < a.counts.size(); ++i) a.counts[i] += b.counts[i];
  }
  a.window = std::max(a.window, b.window);
  return a;
}

}  // namespace sg::control
