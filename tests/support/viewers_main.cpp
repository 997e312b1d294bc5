// streamgate-viewers: simulated HLS viewers with CMCD against a gateway, for drills
// (bench/README.md, "Viewing load for drills"). Prints a progress line to stderr every few
// seconds and one JSON summary on stdout at the end. Bad flags: one line on stderr, exit 2.
// Exit 1 when nothing answered at all; 0 otherwise, whatever the figures.
#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/json.hpp>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include "common/host_port.hpp"
#include "support/viewer_load.hpp"

namespace {

namespace json = boost::json;
using sg::test::SampleSummary;
using sg::test::TrackViewing;
using sg::test::ViewerLoadResults;

std::atomic<bool> g_interrupted{false};
extern "C" void on_signal(int) { g_interrupted = true; }

// Milliseconds and seconds to 0.001; whole numbers as integers ("1", not "1E0").
json::value number(double v) {
  const double r = std::round(v * 1000) / 1000;
  if (r == std::floor(r) && std::fabs(r) < 1e15) return static_cast<std::int64_t>(r);
  return r;
}

json::object summary_json(const SampleSummary& s) {
  return {{"count", s.count},
          {"p50_ms", number(s.p50_ms)},
          {"p95_ms", number(s.p95_ms)},
          {"max_ms", number(s.max_ms)}};
}

json::object track_json(const TrackViewing& t, bool with_samples) {
  json::object by_status;
  for (const auto& [code, n] : t.by_status) by_status[std::to_string(code)] = n;
  json::object o{{"sessions", t.sessions},
                 {"sessions_playing", t.sessions_playing},
                 {"sessions_completed", t.sessions_completed},
                 {"sessions_failed", t.sessions_failed},
                 {"sessions_cut", t.sessions_cut},
                 {"playlist_requests", t.playlist_requests},
                 {"playlist_failed", t.playlist_failed},
                 {"init_requests", t.init_requests},
                 {"init_failed", t.init_failed},
                 {"segments_ok", t.segments_ok},
                 {"segments_failed", t.segments_failed},
                 {"segment_requests", t.segment_requests()},
                 {"stalls", t.stalls},
                 {"stall_seconds", number(t.stall_seconds)},
                 {"rebuffer_reports", t.rebuffer_reports},
                 {"mean_throughput_kbps",
                  number(t.throughput_reports
                             ? t.throughput_sum_kbps / static_cast<double>(t.throughput_reports)
                             : 0.0)},
                 {"bytes", t.bytes},
                 {"by_status", std::move(by_status)}};
  if (with_samples) {
    o["startup"] = summary_json(t.startup);
    o["segment_ttfb"] = summary_json(t.segment_ttfb);
  }
  return o;
}

json::object results_json(const ViewerLoadResults& r, const sg::test::ViewerLoadOptions& o) {
  json::object tracks;
  for (const auto& [name, t] : r.tracks)
    tracks[name.empty() ? "(none)" : name] = track_json(t, true);
  json::array errors;
  for (const auto& e : r.errors) errors.emplace_back(e);
  return {{"viewers", o.viewers},
          {"speed", number(o.speed)},
          {"buffer_target_s", number(o.buffer_target_s)},
          {"elapsed_seconds", number(r.elapsed_seconds)},
          {"ended_by", r.ended_by},
          {"requests", r.requests},
          {"connection_errors", r.connection_errors},
          {"cut_requests", r.cut_requests},
          {"playback_refused", r.playback_refused},
          {"sessions_on_several_tracks", r.sessions_on_several_tracks},
          {"total", track_json(r.total(), false)},
          {"tracks", std::move(tracks)},
          {"errors", std::move(errors)}};
}

std::string progress_line(const ViewerLoadResults& r) {
  const TrackViewing t = r.total();
  std::string line = "streamgate-viewers: " + std::to_string(static_cast<long>(r.elapsed_seconds)) +
                     " s, " + std::to_string(t.sessions) + " sessions, " +
                     std::to_string(t.segments_ok) + " segments ok, " +
                     std::to_string(t.segments_failed) + " failed, " + std::to_string(t.stalls) +
                     " stalls, " + std::to_string(r.connection_errors) + " connection errors;";
  for (const auto& [name, v] : r.tracks) {
    line += " " + (name.empty() ? std::string("(none)") : name) + ": " +
            std::to_string(v.segment_requests()) + " seg " + std::to_string(v.stalls) + " stalls";
  }
  return line;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "streamgate-viewers: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  sg::test::ViewerLoadOptions o;
  std::string gateway;
  double duration_s = 60, timeout_s = 10, progress_s = 5;
  bool no_cmcd = false, allow_remote = false;
  std::vector<std::string> headers;
  CLI::App app{"Simulated HLS viewers with CMCD against a StreamGate gateway (drills)"};
  app.add_option("--gateway", gateway, "HOST:PORT of the gateway (an IP literal)")->required();
  app.add_option("--content", o.content_id, "Content id with HLS (uploaded media)")->required();
  app.add_option("--viewers", o.viewers, "Concurrent viewers (1..2000)")->capture_default_str();
  app.add_option("--speed", o.speed, "Media seconds per wall second (0..64]")
      ->capture_default_str();
  app.add_option("--duration", duration_s, "Seconds; no request starts later")
      ->capture_default_str();
  app.add_option("--buffer", o.buffer_target_s, "Player buffer target, media seconds")
      ->capture_default_str();
  app.add_option("--sessions", o.max_sessions_per_viewer, "Sessions per viewer (0: until the end)")
      ->capture_default_str();
  app.add_option("--max-requests", o.max_requests, "Requests over all viewers")
      ->capture_default_str();
  app.add_option("--timeout", timeout_s, "Seconds per request")->capture_default_str();
  app.add_option("--threads", o.threads, "I/O threads (1..16)")->capture_default_str();
  app.add_option("--header", headers, "'Name: value' sent with every request (repeatable)");
  app.add_option("--progress", progress_s, "Seconds between progress lines on stderr (0: none)")
      ->capture_default_str();
  app.add_flag("--no-cmcd", no_cmcd, "Send no CMCD (the gateway keys sessions by token)");
  app.add_flag("--allow-remote", allow_remote, "Allow a gateway that is not on loopback");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(e.what());
  }
  auto hp = sg::parse_host_port(gateway, {.allow_port_zero = false, .require_ip_literal = true});
  if (!hp) return fail("--gateway: " + hp.error().message);
  if (!allow_remote && !sg::is_loopback_host(hp->host)) {
    return fail("--gateway " + gateway + " is not on loopback; pass --allow-remote to load it");
  }
  o.host = hp->host;
  o.port = hp->port;
  if (!(duration_s > 0 && duration_s <= 86400)) return fail("--duration must be in (0, 86400] s");
  if (!(timeout_s > 0 && timeout_s <= 600)) return fail("--timeout must be in (0, 600] s");
  if (!(progress_s >= 0 && progress_s <= 3600)) return fail("--progress must be 0..3600 s");
  o.duration = std::chrono::milliseconds(static_cast<std::int64_t>(duration_s * 1000));
  o.request_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000));
  o.finish_grace = std::min(o.request_timeout, std::chrono::milliseconds(5000));
  o.cmcd = !no_cmcd;
  for (const auto& h : headers) {
    const auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0)
      return fail("--header '" + h + "' is not 'Name: value'");
    const auto start = h.find_first_not_of(" \t", colon + 1);
    o.headers.emplace_back(h.substr(0, colon), start == std::string::npos ? "" : h.substr(start));
  }
  if (auto st = sg::test::validate(o); !st) return fail(st.error().message);

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  sg::test::ViewerLoad load(o);
  if (auto st = load.start(); !st) return fail(st.error().message);
  auto next_progress = std::chrono::steady_clock::now() + std::chrono::duration<double>(progress_s);
  bool stopping = false;
  while (!load.finished()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (g_interrupted && !stopping) {
      stopping = true;
      load.stop();
    }
    if (progress_s > 0 && std::chrono::steady_clock::now() >= next_progress) {
      std::fprintf(stderr, "%s\n", progress_line(load.results()).c_str());
      next_progress += std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(progress_s));
    }
  }
  const ViewerLoadResults r = load.wait();
  std::cout << json::serialize(results_json(r, o)) << std::endl;
  std::uint64_t answered = 0;
  for (const auto& [name, t] : r.tracks) {
    for (const auto& [code, n] : t.by_status) answered += n;
  }
  if (answered == 0 && r.playback_refused == 0) {
    std::fprintf(stderr, "streamgate-viewers: nothing answered: %s\n",
                 r.errors.empty() ? "no request completed" : r.errors.front().c_str());
    return 1;
  }
  return 0;
}
