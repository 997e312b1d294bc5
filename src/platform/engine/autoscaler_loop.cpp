#include "platform/engine/autoscaler_loop.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "platform/store/state_store.hpp"

namespace sg::platform {
using namespace std::chrono_literals;
using control::HpaMetric;

namespace {

std::string iso(control::TimePoint t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
  return iso8601_utc(ms.count());
}

template <class Deque>
void prune(Deque& samples, AutoscalerLoop::Steady cutoff) {
  while (!samples.empty() && samples.front().first < cutoff) samples.pop_front();
}

template <class Deque>
double mean(const Deque& samples) {
  double sum = 0;
  for (const auto& [t, v] : samples) sum += v;
  return sum / static_cast<double>(samples.size());
}

std::int64_t milli(double v) { return static_cast<std::int64_t>(std::llround(v * 1000.0)); }

// The spec's unit: cpu in percent, the others per replica.
double shown(HpaMetric m, std::int64_t v) {
  return m == HpaMetric::kCpu ? static_cast<double>(v) : static_cast<double>(v) / 1000.0;
}

HpaMetricView metric_view(const control::HpaMetricStatus& m) {
  HpaMetricView mv;
  mv.metric = control::hpa_metric_name(m.metric);
  mv.target = shown(m.metric, m.target);
  if (m.current) mv.current = shown(m.metric, *m.current);
  if (m.raw_average) {
    mv.current_average = m.metric == HpaMetric::kCpu ? static_cast<double>(*m.raw_average)
                                                     : shown(m.metric, *m.raw_average);
  }
  mv.proposal = m.proposal;
  mv.ready = m.ready;
  mv.unready = m.unready;
  mv.missing = m.missing;
  mv.ignored = m.ignored;
  mv.recomputed = m.recomputed;
  mv.error = m.error;
  return mv;
}

HpaEvaluationView evaluation_view(std::int64_t seq, const control::HpaRecord& r) {
  HpaEvaluationView e;
  e.seq = seq;
  e.at = iso(r.at);
  e.current_replicas = r.current_replicas;
  e.min_replicas = r.min_replicas;
  e.max_replicas = r.max_replicas;
  for (const auto& m : r.metrics) e.metrics.push_back(metric_view(m));
  e.metric_replicas = r.metric_replicas;
  e.stabilized = r.stabilized;
  e.desired_replicas = r.desired_replicas;
  e.rescale = r.rescale;
  e.reason = r.reason;
  return e;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

}  // namespace

AutoscalerLoop::AutoscalerLoop(control::HpaSpec spec, Steady now)
    : spec_(std::move(spec)), next_(now + spec_.sync_period) {}

std::chrono::milliseconds AutoscalerLoop::window() const {
  return std::clamp<std::chrono::milliseconds>(spec_.sync_period, 2s, 15s);
}

void AutoscalerLoop::observe(const std::vector<ReplicaInfo>& replicas,
                             const Result<std::vector<EndpointLoad>>& load, Steady steady,
                             control::TimePoint now) {
  std::map<std::string, const EndpointLoad*> by_address;
  if (load) {
    for (const auto& l : *load) by_address[l.address] = &l;
  }
  const Steady cutoff = steady - window();
  for (const auto& r : replicas) {
    auto [it, fresh] = series_.try_emplace(r.name);
    Series& s = it->second;
    if (fresh || s.release != r.release) {
      s = Series{};
      s.first_seen = now;
      s.ready = false;
      s.ready_transition = now;
    }
    s.track = r.track;
    s.release = r.release;
    s.address = r.address;
    s.phase = r.phase;
    s.seen = steady;
    const bool ready = r.phase == ReplicaPhase::kReady;
    if (s.ready != ready) {
      s.ready = ready;
      s.ready_transition = now;
    }
    if (r.cpu_cores) s.cpu.emplace_back(steady, *r.cpu_cores);
    const auto l = by_address.find(r.address);
    if (l != by_address.end() && !r.address.empty()) {
      s.in_flight.emplace_back(steady, l->second->in_flight);
      s.rps = l->second->rps;
    } else {
      s.rps.reset();
      s.in_flight.clear();
    }
    prune(s.cpu, cutoff);
    prune(s.in_flight, cutoff);
  }
  // Replicas gone from the backend are forgotten.
  std::erase_if(series_, [&](const auto& kv) { return kv.second.seen != steady; });
}

std::vector<control::HpaPod> AutoscalerLoop::pods(const std::string& track,
                                                  const std::string& release,
                                                  control::TimePoint now) const {
  std::vector<control::HpaPod> out;
  for (const auto& [name, s] : series_) {
    if (s.track != track || s.release != release) continue;
    control::HpaPod p;
    p.name = name;
    p.start_time = s.first_seen;
    p.ready = s.ready;
    p.ready_transition = s.ready_transition;
    p.deleting = s.phase == ReplicaPhase::kDraining || s.phase == ReplicaPhase::kTerminating;
    if (s.phase == ReplicaPhase::kBackoff) p.phase = control::HpaPodPhase::kPending;
    auto span = [&](const auto& samples) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(samples.back().first -
                                                                   samples.front().first);
    };
    if (s.cpu.size() >= 2) {
      p.metrics[HpaMetric::kCpu] = {milli(mean(s.cpu)), now, span(s.cpu)};
    }
    if (s.rps) p.metrics[HpaMetric::kRps] = {milli(*s.rps), now, 10s};
    if (!s.in_flight.empty()) {
      p.metrics[HpaMetric::kInFlight] = {milli(mean(s.in_flight)), now, span(s.in_flight)};
    }
    out.push_back(std::move(p));
  }
  return out;
}

control::HpaRecord AutoscalerLoop::evaluate(const std::string& track, const std::string& release,
                                            int current, std::optional<int> floor,
                                            control::TimePoint now) {
  control::HpaSpec spec = spec_;
  if (floor) spec.min_replicas = std::clamp(*floor, 1, spec.max_replicas);
  TrackState& t = tracks_[track];
  if (t.release != release) {
    t = TrackState{};  // a new release on the track: a new scale target
    t.release = release;
  }
  control::HpaRecord record = t.hpa.evaluate(spec, current, pods(track, release, now), now);
  t.last = record;
  t.recent.emplace_back(++seq_, record);
  while (t.recent.size() > kRecentEvaluations) t.recent.pop_front();
  return record;
}

void AutoscalerLoop::forget(const std::string& track) { tracks_.erase(track); }

std::vector<std::string> AutoscalerLoop::tracks() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : tracks_) out.push_back(name);
  return out;
}

AutoscalerView AutoscalerLoop::view(const std::map<std::string, int>& ready) const {
  AutoscalerView v;
  v.min_replicas = spec_.min_replicas;
  v.max_replicas = spec_.max_replicas;
  v.cpu_request_millicores = static_cast<double>(spec_.cpu_request_millicores);
  v.sync_period_s = static_cast<double>(spec_.sync_period.count());
  v.tolerance = spec_.tolerance;
  v.scale_up_window_s = spec_.behavior.scale_up.stabilization_window_seconds;
  v.scale_down_window_s = spec_.behavior.scale_down.stabilization_window_seconds;
  v.scale_up_select_policy = control::select_policy_name(spec_.behavior.scale_up.select_policy);
  v.scale_down_select_policy =
      control::select_policy_name(spec_.behavior.scale_down.select_policy);
  for (const auto& m : spec_.metrics) {
    v.targets.push_back({control::hpa_metric_name(m.metric), shown(m.metric, m.target)});
  }
  for (const auto& [name, t] : tracks_) {
    if (!t.last) continue;
    const control::HpaRecord& r = *t.last;
    HpaTrackView tv;
    tv.release = t.release;
    tv.min_replicas = r.min_replicas;
    tv.max_replicas = r.max_replicas;
    tv.current_replicas = r.current_replicas;
    tv.desired_replicas = r.desired_replicas;
    const auto rd = ready.find(name);
    tv.ready_replicas = rd == ready.end() ? 0 : rd->second;
    for (const auto& m : r.metrics) tv.metrics.push_back(metric_view(m));
    for (const auto& c : t.hpa.conditions()) {
      tv.conditions.push_back({c.type, c.status, c.reason, c.message});
    }
    if (auto last = t.hpa.last_scale_time()) tv.last_scale_time = iso(*last);
    tv.last_evaluation = iso(r.at);
    tv.last_decision = HpaDecisionView{iso(r.at),          r.current_replicas, r.desired_replicas,
                                       r.metric_replicas, r.stabilized,       r.rescale,
                                       r.reason};
    for (const auto& [seq, record] : t.recent) {
      tv.recent_evaluations.push_back(evaluation_view(seq, record));
    }
    v.tracks[name] = std::move(tv);
  }
  return v;
}

std::string describe_metrics(const control::HpaRecord& record) {
  std::string out;
  for (const auto& m : record.metrics) {
    if (!out.empty()) out += ", ";
    out += control::hpa_metric_name(m.metric);
    const char* unit = m.metric == HpaMetric::kCpu ? "%" : "";
    if (m.current) {
      out += " " + num(shown(m.metric, *m.current)) + unit + " of " + num(shown(m.metric, m.target)) +
             unit;
      if (m.unready + m.missing > 0) {
        out += " (" + std::to_string(m.unready) + " unready, " + std::to_string(m.missing) +
               " missing)";
      }
    } else {
      out += " unavailable";
    }
  }
  return out;
}

}  // namespace sg::platform
