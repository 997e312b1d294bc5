#include "control/judge.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

namespace sg::control {
namespace {

using Bounds = std::vector<double>;
using Counts = std::vector<std::uint64_t>;

bool histogram_ok(const Bounds& bounds, const Counts& counts) {
  return !bounds.empty() && counts.size() == bounds.size() + 1;
}

double bucket_lower(const Bounds& bounds, std::size_t i) { return i == 0 ? 0.0 : bounds[i - 1]; }

// Result of one binomial SPRT: the log-likelihood ratio and where it stands.
struct Sprt {
  double llr = 0;
  bool fail = false;
  bool pass = false;
};

// Binomial SPRT on `hits` out of `n` (hits may be fractional: interpolated slow counts).
Sprt binomial_sprt(double hits, double n, double p1, double a, double b) {
  const double p0 = p1 / 2;
  Sprt r;
  r.llr = hits * std::log(p1 / p0) + (n - hits) * std::log((1 - p1) / (1 - p0));
  r.fail = r.llr >= a;
  r.pass = r.llr <= b;
  return r;
}

// One-sided exact p-value of the conditional binomial test: given k errors in both tracks,
// under equal rates the canary's share is Binomial(k, pi) with pi its share of requests; this
// is P(X >= x). Exact where the z-test's normal approximation is not: rare errors, small
// windows. Terms fall monotonically above the mode, so the sum stops once they are negligible.
double binomial_upper_tail(std::uint64_t k, std::uint64_t x, double pi) {
  if (x == 0) return 1.0;
  if (pi >= 1.0) return 1.0;
  if (static_cast<double>(x) <= static_cast<double>(k) * pi) return 0.5;  // at or below the mode
  const double lk = std::lgamma(static_cast<double>(k) + 1);
  double sum = 0;
  for (std::uint64_t i = x; i <= k; ++i) {
    const double di = static_cast<double>(i);
    const double log_term = lk - std::lgamma(di + 1) -
                            std::lgamma(static_cast<double>(k) - di + 1) + di * std::log(pi) +
                            (static_cast<double>(k) - di) * std::log1p(-pi);
    const double term = std::exp(log_term);
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return std::min(sum, 1.0);
}

double rate(const TrafficSample& s) {
  return s.requests == 0 ? 0.0 : static_cast<double>(s.errors) / static_cast<double>(s.requests);
}

std::string format(const char* fmt, double a, double b = 0, double c = 0, double d = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, a, b, c, d);
  return buf;
}

struct Comparison {
  bool done = false;
  bool fail = false;
  double z = 0;        // the two-proportion z statistic, for the journal
  double p_value = 1;  // of the exact conditional test, which decides
  double stable_rate = 0;
};

Comparison compare_with_stable(const TrafficSample& canary, const TrafficSample& stable,
                               const JudgeConfig& config) {
  Comparison c;
  c.done = true;
  c.stable_rate = rate(stable);
  const double nc = static_cast<double>(canary.requests);
  const double ns = static_cast<double>(stable.requests);
  const double pooled = static_cast<double>(canary.errors + stable.errors) / (nc + ns);
  const double se = std::sqrt(pooled * (1 - pooled) * (1 / nc + 1 / ns));
  const double rc = rate(canary);
  // se == 0 only when both rates are 0 or both are 1: equal, nothing to reject.
  c.z = se > 0 ? (rc - c.stable_rate) / se : 0.0;
  c.p_value = binomial_upper_tail(canary.errors + stable.errors, canary.errors, nc / (nc + ns));
  c.fail = rc > config.relative_error_factor * c.stable_rate &&
           rc - c.stable_rate > config.relative_min_excess && c.p_value < config.comparison_alpha;
  return c;
}

// One clause per failed check, joined with "; ".
std::string failure_reasons(const TrafficSample& canary, const JudgeConfig& config,
                            const Sprt& errors, const Sprt& latency, const Comparison& cmp,
                            double slow_fraction, double p95) {
  const double a = std::log((1 - config.beta) / config.alpha);
  const double error_rate = rate(canary);
  std::string failures;
  auto append = [&failures](const std::string& s) { failures += failures.empty() ? s : "; " + s; };
  if (errors.fail) {
    append(format("error rate %.2f%% >= %.2f%% (SPRT LLR %.2f >= %.2f)", error_rate * 100,
                  config.max_error_rate * 100, errors.llr, a));
  }
  if (latency.fail) {
    append(format("%.1f%% of requests slower than %.0f ms, P%.0f ~ %.0f ms", slow_fraction * 100,
                  config.max_latency_seconds * 1000, config.latency_quantile * 100, p95 * 1000) +
           format(" (SPRT LLR %.2f >= %.2f)", latency.llr, a));
  }
  if (cmp.fail) {
    append(format("error rate %.2f%% vs stable %.2f%% (z %.1f, p %.2g < alpha)", error_rate * 100,
                  cmp.stable_rate * 100, cmp.z, cmp.p_value));
  }
  return failures;
}

void add(Verdict& v, const char* name, double value) { v.evidence.emplace_back(name, value); }

// The numbers every verdict carries, whatever its outcome.
void add_base_evidence(Verdict& v, const TrafficSample& canary, const JudgeConfig& config,
                       double p95) {
  add(v, "requests", static_cast<double>(canary.requests));
  add(v, "errors", static_cast<double>(canary.errors));
  add(v, "error_rate", rate(canary));
  add(v, "p95_ms", p95 < 0 ? -1 : p95 * 1000);
  add(v, "threshold_error_rate", config.max_error_rate);
  add(v, "threshold_latency_ms", config.max_latency_seconds * 1000);
  add(v, "latency_quantile", config.latency_quantile);
  add(v, "min_requests", static_cast<double>(config.min_requests));
  add(v, "sprt_fail_boundary", std::log((1 - config.beta) / config.alpha));
  add(v, "sprt_pass_boundary", std::log(config.beta / (1 - config.alpha)));
}

// The streaming checks (judge.hpp): two SPRTs on the canary's segments and the comparison of
// its rebuffering with stable's.
struct Streaming {
  bool applies = false;  // the canary served min_segments segments
  std::uint64_t segments = 0;
  std::uint64_t errors_pass_from = 0;  // segments from which the error SPRT must pass
  std::uint64_t ttfb_pass_from = 0;    // and the TTFB SPRT
  Sprt errors;
  Sprt ttfb;
  bool have_ttfb = false;
  double error_rate = 0;
  double slow_fraction = -1;
  double p50 = -1;
  double p95 = -1;
  double rebuffer_rate = -1;  // reports per session-minute; -1 without session-minutes
  bool compared = false;      // a stable sample with enough session-minutes
  double stable_rebuffer_rate = -1;
  double rebuffer_p_value = 1;
  bool rebuffer_fail = false;
  bool pass() const {
    return !applies || ((segments < errors_pass_from || errors.pass) &&
                        (segments < ttfb_pass_from || ttfb.pass));
  }
};

double per_minute(std::uint64_t reports, std::uint64_t minutes) {
  return minutes == 0 ? -1.0 : static_cast<double>(reports) / static_cast<double>(minutes);
}

Streaming check_streaming(const StreamingSample& c, const StreamingSample* stable,
                          const JudgeConfig& config, double a, double b) {
  Streaming out;
  out.rebuffer_rate = per_minute(c.rebuffer_reports, c.session_minutes);
  out.p50 = histogram_quantile(c.ttfb_bounds, c.ttfb_counts, 0.5);
  out.p95 = histogram_quantile(c.ttfb_bounds, c.ttfb_counts, config.latency_quantile);
  if (c.segments > 0) {
    out.error_rate = static_cast<double>(c.segment_errors) / static_cast<double>(c.segments);
  }
  out.applies = c.segments >= config.min_segments && c.segments > 0;
  out.segments = c.segments;
  out.errors_pass_from = clean_trials_to_pass(config.max_segment_error_rate, config);
  out.ttfb_pass_from = clean_trials_to_pass(1 - config.latency_quantile, config);
  if (!out.applies) return out;
  out.errors = binomial_sprt(static_cast<double>(c.segment_errors), static_cast<double>(c.segments),
                             config.max_segment_error_rate, a, b);
  const SlowCount slow = count_slow(c.ttfb_bounds, c.ttfb_counts, config.max_segment_ttfb_seconds);
  out.have_ttfb = slow.total > 0;
  if (out.have_ttfb) {
    out.ttfb = binomial_sprt(slow.slow, slow.total, 1 - config.latency_quantile, a, b);
    out.slow_fraction = slow.slow / slow.total;
  }
  if (stable != nullptr && static_cast<double>(stable->session_minutes) >= config.min_session_minutes &&
      static_cast<double>(c.session_minutes) >= config.min_session_minutes) {
    out.compared = true;
    out.stable_rebuffer_rate = per_minute(stable->rebuffer_reports, stable->session_minutes);
    const double mc = static_cast<double>(c.session_minutes);
    const double ms = static_cast<double>(stable->session_minutes);
    out.rebuffer_p_value = binomial_upper_tail(c.rebuffer_reports + stable->rebuffer_reports,
                                               c.rebuffer_reports, mc / (mc + ms));
    out.rebuffer_fail = out.rebuffer_rate > config.rebuffer_factor * out.stable_rebuffer_rate &&
                        out.rebuffer_rate - out.stable_rebuffer_rate > config.rebuffer_min_excess &&
                        out.rebuffer_p_value < config.comparison_alpha;
  }
  return out;
}

// One clause per failed streaming check, for failure_reasons' list.
std::string streaming_failures(const StreamingSample& c, const JudgeConfig& config,
                               const Streaming& st, double a) {
  std::string failures;
  auto append = [&failures](const std::string& s) { failures += failures.empty() ? s : "; " + s; };
  if (st.errors.fail) {
    append(format("segment error rate %.2f%% >= %.2f%% (SPRT LLR %.2f >= %.2f",
                  st.error_rate * 100, config.max_segment_error_rate * 100, st.errors.llr, a) +
           format(", %.0f segments)", static_cast<double>(c.segments)));
  }
  if (st.ttfb.fail) {
    append(format("%.1f%% of segments slower than %.0f ms to first byte, P%.0f ~ %.0f ms",
                  st.slow_fraction * 100, config.max_segment_ttfb_seconds * 1000,
                  config.latency_quantile * 100, st.p95 * 1000) +
           format(" (SPRT LLR %.2f >= %.2f)", st.ttfb.llr, a));
  }
  if (st.rebuffer_fail) {
    append(format("rebuffering %.2f/session-minute vs stable %.2f (p %.2g < alpha)",
                  st.rebuffer_rate, st.stable_rebuffer_rate, st.rebuffer_p_value));
  }
  return failures;
}

// "; segments: errors 0.00% (LLR -2.10), TTFB P95 120 ms (LLR -4.70), rebuffering 0.00/min
// vs stable 0.00, over 900 segments" for a pass or inconclusive reason; empty without HLS.
std::string streaming_summary(const StreamingSample& c, const JudgeConfig& config,
                              const Streaming& st) {
  if (c.segments == 0) return {};
  if (!st.applies) {
    return format("; segments: %.0f of %.0f needed for the streaming checks",
                  static_cast<double>(c.segments), static_cast<double>(config.min_segments));
  }
  std::string out = format("; segments: errors %.2f%% (LLR %.2f), TTFB P%.0f", st.error_rate * 100,
                           st.errors.llr, config.latency_quantile * 100) +
                    format(" %.0f ms (LLR %.2f)", st.p95 * 1000, st.ttfb.llr);
  if (st.rebuffer_rate >= 0) {
    out += format(", rebuffering %.2f/min", st.rebuffer_rate);
    if (st.compared) out += format(" vs stable %.2f", st.stable_rebuffer_rate);
  }
  out += format(", over %.0f segments", static_cast<double>(c.segments));
  if (c.segments < st.errors_pass_from) {
    out += format(" (the segment tests must pass from %.0f)", static_cast<double>(
                                                                   c.segments < st.ttfb_pass_from
                                                                       ? st.ttfb_pass_from
                                                                       : st.errors_pass_from));
  }
  return out;
}

void add_streaming_evidence(Verdict& v, const StreamingSample& c, const JudgeConfig& config,
                            const Streaming& st) {
  if (c.segments == 0 && c.session_minutes == 0) return;
  add(v, "segments", static_cast<double>(c.segments));
  add(v, "segment_errors", static_cast<double>(c.segment_errors));
  add(v, "segment_error_rate", st.error_rate);
  add(v, "segment_ttfb_p50_ms", st.p50 < 0 ? -1 : st.p50 * 1000);
  add(v, "segment_ttfb_p95_ms", st.p95 < 0 ? -1 : st.p95 * 1000);
  add(v, "segment_slow_fraction", st.slow_fraction);
  add(v, "llr_segment_errors", st.errors.llr);
  add(v, "llr_segment_ttfb", st.ttfb.llr);
  add(v, "threshold_segment_error_rate", config.max_segment_error_rate);
  add(v, "threshold_segment_ttfb_ms", config.max_segment_ttfb_seconds * 1000);
  add(v, "min_segments", static_cast<double>(config.min_segments));
  add(v, "segment_errors_pass_from", static_cast<double>(st.errors_pass_from));
  add(v, "segment_ttfb_pass_from", static_cast<double>(st.ttfb_pass_from));
  add(v, "sessions_started", static_cast<double>(c.sessions_started));
  add(v, "session_minutes", static_cast<double>(c.session_minutes));
  add(v, "rebuffer_reports", static_cast<double>(c.rebuffer_reports));
  add(v, "rebuffer_per_minute", st.rebuffer_rate);
  add(v, "mean_throughput_kbps",
      c.throughput_reports == 0
          ? -1
          : c.throughput_kbps_sum / static_cast<double>(c.throughput_reports));
  if (st.compared) {
    add(v, "stable_rebuffer_per_minute", st.stable_rebuffer_rate);
    add(v, "rebuffer_p_value", st.rebuffer_p_value);
  }
}

}  // namespace

std::uint64_t clean_trials_to_pass(double p1, const JudgeConfig& config) {
  const double b = std::log(config.beta / (1 - config.alpha));
  const double step = std::log((1 - p1) / (1 - p1 / 2));
  return static_cast<std::uint64_t>(std::ceil(b / step));
}

SlowCount count_slow(const Bounds& bounds, const Counts& counts, double threshold) {
  SlowCount out;
  if (!histogram_ok(bounds, counts)) return out;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const double count = static_cast<double>(counts[i]);
    out.total += count;
    const double lo = bucket_lower(bounds, i);
    const bool overflow = i == bounds.size();
    const double hi = overflow ? std::numeric_limits<double>::infinity() : bounds[i];
    if (lo >= threshold) {
      out.slow += count;
    } else if (hi > threshold && count > 0) {
      // The straddling bucket: its share above the threshold if latencies are spread evenly
      // inside it; all of it for the unbounded overflow bucket (fail-safe).
      out.slow += overflow ? count : count * (hi - threshold) / (hi - lo);
      out.uncertainty = count;
    }
  }
  return out;
}

SlowCount count_slow(const TrafficSample& s, double threshold) {
  return count_slow(s.bounds, s.counts, threshold);
}

double histogram_quantile(const Bounds& bounds, const Counts& counts, double q) {
  if (!histogram_ok(bounds, counts)) return -1;
  double total = 0;
  for (auto c : counts) total += static_cast<double>(c);
  if (total <= 0) return -1;
  const double rank = q * total;
  double seen = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    const double count = static_cast<double>(counts[i]);
    if (count > 0 && seen + count >= rank) {
      const double lo = bucket_lower(bounds, i);
      return lo + (bounds[i] - lo) * (rank - seen) / count;
    }
    seen += count;
  }
  return bounds.back();
}

double histogram_quantile(const TrafficSample& s, double q) {
  return histogram_quantile(s.bounds, s.counts, q);
}

Verdict judge(const TrafficSample& canary, const TrafficSample* stable, const JudgeConfig& config) {
  Verdict v;
  const double n = static_cast<double>(canary.requests);
  const double error_rate = rate(canary);
  const double a = std::log((1 - config.beta) / config.alpha);
  const double b = std::log(config.beta / (1 - config.alpha));
  const double p95 = histogram_quantile(canary, config.latency_quantile);
  add_base_evidence(v, canary, config, p95);
  if (canary.requests < config.min_requests) {
    v.outcome = Verdict::Outcome::kInconclusive;
    v.reason = std::to_string(canary.requests) + " of " + std::to_string(config.min_requests) +
               " requests needed before any verdict";
    return v;
  }

  const Sprt errors =
      binomial_sprt(static_cast<double>(canary.errors), n, config.max_error_rate, a, b);
  const SlowCount slow = count_slow(canary, config.max_latency_seconds);
  const bool have_latency = slow.total > 0;
  const Sprt latency = have_latency
                           ? binomial_sprt(slow.slow, slow.total, 1 - config.latency_quantile, a, b)
                           : Sprt{};
  const double slow_fraction = have_latency ? slow.slow / slow.total : -1;
  add(v, "llr_errors", errors.llr);
  add(v, "llr_latency", latency.llr);
  add(v, "slow_fraction", slow_fraction);
  add(v, "slow_count_uncertainty", slow.uncertainty);

  Comparison cmp;
  if (stable != nullptr && stable->requests >= config.min_requests) {
    cmp = compare_with_stable(canary, *stable, config);
    add(v, "stable_requests", static_cast<double>(stable->requests));
    add(v, "stable_error_rate", cmp.stable_rate);
    add(v, "comparison_z", cmp.z);
    add(v, "comparison_p_value", cmp.p_value);
  }

  const Streaming streaming =
      check_streaming(canary.streaming, stable != nullptr ? &stable->streaming : nullptr, config,
                      a, b);
  add_streaming_evidence(v, canary.streaming, config, streaming);

  const std::string counts =
      format("%.0f requests, %.0f errors", n, static_cast<double>(canary.errors));
  std::string failures = failure_reasons(canary, config, errors, latency, cmp, slow_fraction, p95);
  if (const std::string more = streaming_failures(canary.streaming, config, streaming, a);
      !more.empty()) {
    failures += failures.empty() ? more : "; " + more;
  }
  if (!failures.empty()) {
    v.outcome = Verdict::Outcome::kFail;
    v.reason = failures + " over " + counts;
    return v;
  }
  const std::string summary =
      format("error rate %.2f%% (LLR %.2f), P%.0f %.0f ms", error_rate * 100, errors.llr,
             config.latency_quantile * 100, p95 * 1000) +
      format(" (LLR %.2f), pass at LLR <= %.2f, over ", latency.llr, b) + counts +
      streaming_summary(canary.streaming, config, streaming);
  if (errors.pass && latency.pass && streaming.pass()) {
    v.outcome = Verdict::Outcome::kPass;
    v.reason = "pass: " + summary;
  } else {
    v.outcome = Verdict::Outcome::kInconclusive;
    v.reason =
        (have_latency ? "inconclusive: " : "inconclusive (no latency histogram): ") + summary;
  }
  return v;
}

}  // namespace sg::control
