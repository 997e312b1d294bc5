#include "support/viewing_tally.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sg::test {
namespace {

SampleSummary summarize(std::vector<double> samples) {
  SampleSummary s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  auto rank = [&](double q) {  // nearest rank
    const auto n = samples.size();
    const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
    return samples[std::min(n, std::max<std::size_t>(i, 1)) - 1];
  };
  s.count = samples.size();
  s.p50_ms = rank(0.5);
  s.p95_ms = rank(0.95);
  s.max_ms = samples.back();
  return s;
}

}  // namespace

void ViewingTally::request_started() {
  std::lock_guard lock(mu_);
  ++totals_.requests;
}

void ViewingTally::request_unanswered(bool cut) {
  std::lock_guard lock(mu_);
  (cut ? totals_.cut_requests : totals_.connection_errors)++;
}

void ViewingTally::playback_refused() {
  std::lock_guard lock(mu_);
  ++totals_.playback_refused;
}

void ViewingTally::answer(SessionTrack& s, const Answer& a) {
  const bool ok = a.status >= 200 && a.status < 300;
  std::lock_guard lock(mu_);
  if (!s.known) {
    // The first answer names the session's track ("" without a gateway).
    s.known = true;
    s.track = a.track;
    if (ok) ++tracks_[s.track].v.sessions;
  } else if (!a.track.empty() && a.track != s.track && !s.several) {
    s.several = true;
    ++totals_.sessions_on_several_tracks;
  }
  auto& t = tracks_[a.track];
  ++t.v.by_status[a.status];
  t.v.bytes += a.bytes;
  if (a.sent_bs) ++t.v.rebuffer_reports;
  if (a.sent_mtp) {
    ++t.v.throughput_reports;
    t.v.throughput_sum_kbps += static_cast<double>(*a.sent_mtp);
  }
  switch (a.object) {
    case Object::kPlaylist:
      ++t.v.playlist_requests;
      t.v.playlist_failed += !ok;
      break;
    case Object::kInit:
      ++t.v.init_requests;
      t.v.init_failed += !ok;
      break;
    case Object::kSegment:
      (ok ? t.v.segments_ok : t.v.segments_failed)++;
      if (t.ttfb_ms.size() < kMaxSamples) t.ttfb_ms.push_back(a.ttfb_s * 1000);
      break;
  }
}

void ViewingTally::session_playing(const SessionTrack& s, double startup_ms) {
  std::lock_guard lock(mu_);
  auto& t = tracks_[s.track];
  ++t.v.sessions_playing;
  if (t.startup_ms.size() < kMaxSamples) t.startup_ms.push_back(startup_ms);
}

void ViewingTally::stalls(const SessionTrack& s, std::uint64_t stalls, double seconds) {
  std::lock_guard lock(mu_);
  auto& t = tracks_[s.track].v;
  t.stalls += stalls;
  t.stall_seconds += seconds;
}

void ViewingTally::session_end(const SessionTrack& s, SessionEnd end,
                               const std::string& fallback_track) {
  std::lock_guard lock(mu_);
  auto& t = tracks_[s.known ? s.track : fallback_track].v;
  switch (end) {
    case SessionEnd::kCompleted:
      ++t.sessions_completed;
      break;
    case SessionEnd::kFailed:
      ++t.sessions_failed;
      break;
    case SessionEnd::kCut:
      ++t.sessions_cut;
      break;
  }
}

void ViewingTally::error(std::string what) {
  std::lock_guard lock(mu_);
  auto& errors = totals_.errors;
  if (errors.size() < kMaxErrors && std::find(errors.begin(), errors.end(), what) == errors.end()) {
    errors.push_back(std::move(what));
  }
}

ViewerLoadResults ViewingTally::snapshot() const {
  std::lock_guard lock(mu_);
  ViewerLoadResults r = totals_;
  for (const auto& [name, t] : tracks_) {
    TrackViewing v = t.v;
    v.startup = summarize(t.startup_ms);
    v.segment_ttfb = summarize(t.ttfb_ms);
    r.tracks[name] = v;
  }
  return r;
}

TrackViewing ViewerLoadResults::total() const {
  TrackViewing sum;
  for (const auto& [name, t] : tracks) {
    sum.sessions += t.sessions;
    sum.sessions_playing += t.sessions_playing;
    sum.sessions_completed += t.sessions_completed;
    sum.sessions_failed += t.sessions_failed;
    sum.sessions_cut += t.sessions_cut;
    sum.playlist_requests += t.playlist_requests;
    sum.playlist_failed += t.playlist_failed;
    sum.init_requests += t.init_requests;
    sum.init_failed += t.init_failed;
    sum.segments_ok += t.segments_ok;
    sum.segments_failed += t.segments_failed;
    sum.stalls += t.stalls;
    sum.stall_seconds += t.stall_seconds;
    sum.rebuffer_reports += t.rebuffer_reports;
    sum.throughput_reports += t.throughput_reports;
    sum.throughput_sum_kbps += t.throughput_sum_kbps;
    sum.bytes += t.bytes;
    for (const auto& [code, n] : t.by_status) sum.by_status[code] += n;
    sum.startup.count += t.startup.count;
    sum.segment_ttfb.count += t.segment_ttfb.count;
  }
  return sum;
}

std::string describe(const ViewerLoadResults& r) {
  const TrackViewing t = r.total();
  char head[96];
  std::snprintf(head, sizeof head, "%.1f s: ", r.elapsed_seconds);
  std::string out = head;
  out += std::to_string(t.sessions) + " sessions (" + std::to_string(t.sessions_completed) +
         " completed, " + std::to_string(t.sessions_failed) + " failed, " +
         std::to_string(t.sessions_cut) + " cut), " + std::to_string(t.segments_ok) +
         " segments ok, " + std::to_string(t.segments_failed) + " failed, " +
         std::to_string(t.stalls) + " stalls, " + std::to_string(r.requests) + " requests, " +
         std::to_string(r.connection_errors) + " connection errors; tracks:";
  for (const auto& [name, v] : r.tracks) {
    out += " " + (name.empty() ? std::string("(none)") : name) + "=" +
           std::to_string(v.segment_requests()) + "seg/" + std::to_string(v.stalls) + "stalls";
  }
  if (r.sessions_on_several_tracks > 0) {
    out += "; " + std::to_string(r.sessions_on_several_tracks) + " sessions on several tracks";
  }
  if (!r.ended_by.empty()) out += "; ended by " + r.ended_by;
  for (const auto& e : r.errors) out += "; " + e;
  return out;
}

}  // namespace sg::test
