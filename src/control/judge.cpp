#include "control/judge.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

namespace sg::control {
namespace {

bool histogram_ok(const TrafficSample& s) {
  return !s.bounds.empty() && s.counts.size() == s.bounds.size() + 1;
}

double bucket_lower(const TrafficSample& s, std::size_t i) {
  return i == 0 ? 0.0 : s.bounds[i - 1];
}

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

}  // namespace

SlowCount count_slow(const TrafficSample& s, double threshold) {
  SlowCount out;
  if (!histogram_ok(s)) return out;
  for (std::size_t i = 0; i < s.counts.size(); ++i) {
    const double count = static_cast<double>(s.counts[i]);
    out.total += count;
    const double lo = bucket_lower(s, i);
    const bool overflow = i == s.bounds.size();
    const double hi = overflow ? std::numeric_limits<double>::infinity() : s.bounds[i];
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

double histogram_quantile(const TrafficSample& s, double q) {
  if (!histogram_ok(s)) return -1;
  double total = 0;
  for (auto c : s.counts) total += static_cast<double>(c);
  if (total <= 0) return -1;
  const double rank = q * total;
  double seen = 0;
  for (std::size_t i = 0; i < s.bounds.size(); ++i) {
    const double count = static_cast<double>(s.counts[i]);
    if (count > 0 && seen + count >= rank) {
      const double lo = bucket_lower(s, i);
      return lo + (s.bounds[i] - lo) * (rank - seen) / count;
    }
    seen += count;
  }
  return s.bounds.back();
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

  const std::string counts =
      format("%.0f requests, %.0f errors", n, static_cast<double>(canary.errors));
  const std::string failures =
      failure_reasons(canary, config, errors, latency, cmp, slow_fraction, p95);
  if (!failures.empty()) {
    v.outcome = Verdict::Outcome::kFail;
    v.reason = failures + " over " + counts;
    return v;
  }
  const std::string summary =
      format("error rate %.2f%% (LLR %.2f), P%.0f %.0f ms", error_rate * 100, errors.llr,
             config.latency_quantile * 100, p95 * 1000) +
      format(" (LLR %.2f), pass at LLR <= %.2f, over ", latency.llr, b) + counts;
  if (errors.pass && latency.pass) {
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
