// ViewerLoad: many simulated HLS viewers against a StreamGate gateway (or one server), for
// tests and drills (issue 23): each viewer is a player that fetches playlists and segments at
// media pace and reports CMCD (CTA-5004), so rollouts can be tested under viewing load and the
// gateway's per-track streaming figures checked against what the viewers saw.
//
// One viewer plays sessions one after another until a bound. A session is:
//   POST /api/v1/content/{id}/playback           (its master_url carries the playback token)
//   a random wait of up to `load_delay_max`       (the player loading)
//   GET master playlist, GET media playlist      (CMCD ot=m)
//   GET the init section (EXT-X-MAP byte range)  (ot=i)
//   GET each segment in order by byte range      (ot=av, v or a from the master's CODECS)
// with the player's buffer model (PlayerBuffer, viewer_player.hpp): the buffer gains each
// segment's #EXTINF duration when it arrives and, once playing (from the first segment),
// drains at `speed` media seconds per wall second; the next segment is requested as soon as
// the buffer is below `buffer_target_s`. A buffer that runs dry while segments remain is a
// stall (rebuffer): counted, and the next request carries CMCD `bs`. After the last segment
// the viewer plays out its buffer, then starts a new session with a new CMCD sid.
// A non-2xx answer or a failed exchange ends the session as failed (the player gives up; no
// retries), and the viewer waits `retry_delay` before its next session.
//
// CMCD (query parameter CMCD=, URL-encoded, keys in alphabetical order), with `cmcd`:
//   every request: sid (per session), cid (the content id), sf=h, st=v, pr (only when speed
//     is not 1), su while not playing (startup, or recovery after a stall);
//   playlists ot=m; init ot=i; segments ot, d (its duration, ms), br (the master's
//     AVERAGE-BANDWIDTH or BANDWIDTH, kbps), bl (buffer, ms, rounded to 100), mtp (throughput
//     of the previous segment, kbps, rounded to 100), bs after a stall.
// Without `cmcd` no CMCD is sent and the gateway keys sessions by the playback token.
//
// Bounds: no request starts after `duration` or once `max_requests` have started; a request
// in flight at the deadline may finish until `duration + finish_grace` and is then cut (so
// the whole run ends by then). Each exchange also has `request_timeout`. stop() ends the run
// at once (requests in flight are cut).
//
// Per request the viewer records the answering track (the X-StreamGate-Track response header,
// "" when absent: a server without a gateway) and the status; per track the results hold
// what the gateway's per-track streaming figures count, so a test can compare them exactly:
// segment_requests() (segments and init sections, as streamgate_gateway_segment_requests_total),
// playing sessions (first segment delivered: sessions_started_total), bs reports
// (rebuffer_reports_total). A session whose HLS answers came from two tracks is counted in
// sessions_on_several_tracks (with session pinning it must stay 0).
//
// Threads: `threads` I/O threads, each with its own io_context; a viewer lives on one of them
// (one keep-alive connection per viewer, reconnecting when closed). Once start() has
// returned, stop(), results(), finished() and wait() may be called from any thread;
// results() is a consistent copy of the figures taken under one lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace sg::test {

struct ViewerLoadOptions {
  std::string host = "127.0.0.1";  // an IPv4 or IPv6 literal
  std::uint16_t port = 0;          // 1..65535
  std::string content_id;          // content with HLS (its media uploaded and remuxed)
  int viewers = 10;                // 1..2000 concurrent viewers
  double speed = 1.0;              // media seconds played per wall second, (0, 64]
  double buffer_target_s = 10.0;   // fetch the next segment while the buffer is below, (0, 600]
  std::chrono::milliseconds duration{10000};     // 1 ms..24 h: no request starts later
  std::chrono::milliseconds finish_grace{5000};  // 0..60 s for requests in flight at the end
  std::uint64_t max_requests = 1000000;          // >= 1, over all viewers
  int max_sessions_per_viewer = 0;               // 0: until the other bounds
  bool cmcd = true;
  std::vector<std::pair<std::string, std::string>> headers{};  // sent with every request
  std::chrono::milliseconds request_timeout{10000};            // 1 ms..10 min, per exchange
  std::chrono::milliseconds retry_delay{500};                  // 0..60 s after a failed session
  // The player loading between POST .../playback and its first playlist: a uniform random
  // wait of 0..this (0..60 s). Without it, viewers that do not overlap alternate POST and
  // first playlist in lock step, and a gateway's exact 50/50 split (smooth weighted
  // round-robin) would pin every session to the same track.
  std::chrono::milliseconds load_delay_max{250};
  std::size_t body_limit = 64 * 1024 * 1024;  // a larger answer fails the exchange
  unsigned threads = 1;                       // 1..16
  std::string sid_prefix = "viewer";          // sid: PREFIX-<viewer>-<session>-<8 hex>, <= 64 chars
};

// Checks every field against the ranges above; the error names the field and the value.
Status validate(const ViewerLoadOptions& options);

// Count, median, 95th percentile and maximum of samples, in milliseconds (0 when empty).
struct SampleSummary {
  std::uint64_t count = 0;
  double p50_ms = 0;
  double p95_ms = 0;
  double max_ms = 0;
};

// What the viewers saw from one track (requests by the track that answered them; sessions,
// stalls and startup by the track that answered the session's first playlist).
struct TrackViewing {
  std::uint64_t sessions = 0;            // first playlist answered 2xx by this track
  std::uint64_t sessions_playing = 0;    // ... and the first segment delivered
  std::uint64_t sessions_completed = 0;  // every request of the session 2xx, to the last segment
  std::uint64_t sessions_failed = 0;     // ended by a non-2xx answer or a failed exchange
  std::uint64_t sessions_cut = 0;        // ended by the run's bound or stop()
  std::uint64_t playlist_requests = 0;
  std::uint64_t playlist_failed = 0;  // non-2xx
  std::uint64_t init_requests = 0;
  std::uint64_t init_failed = 0;
  std::uint64_t segments_ok = 0;  // 2xx
  std::uint64_t segments_failed = 0;
  std::uint64_t stalls = 0;                // buffer ran dry with segments still to fetch
  double stall_seconds = 0;                // wall time spent stalled (until the next segment)
  std::uint64_t rebuffer_reports = 0;      // requests answered here that carried CMCD bs
  std::uint64_t throughput_reports = 0;    // ... that carried mtp
  double throughput_sum_kbps = 0;          // the sum of those mtp values
  std::uint64_t bytes = 0;                 // response body bytes
  std::map<int, std::uint64_t> by_status;  // every answered request
  SampleSummary startup;                   // first playlist request sent -> first segment read
  SampleSummary segment_ttfb;              // segment request sent -> response head read

  // Segment and init requests answered here: what the gateway counts as segment requests.
  std::uint64_t segment_requests() const { return init_requests + segments_ok + segments_failed; }
};

struct ViewerLoadResults {
  std::map<std::string, TrackViewing> tracks;  // by X-StreamGate-Track ("" when absent)
  std::uint64_t requests = 0;                  // exchanges started
  std::uint64_t connection_errors = 0;         // failed exchanges (connect, I/O, timeout)
  std::uint64_t cut_requests = 0;              // in flight when the run's bound or stop() hit
  std::uint64_t playback_refused = 0;          // POST .../playback not 200 (stream cap, 404)
  std::uint64_t sessions_on_several_tracks = 0;
  std::vector<std::string> errors;  // the first few distinct failures, described
  double elapsed_seconds = 0;
  bool running = false;
  // Why the run ended: "duration", "max_requests", "sessions" (every viewer played its
  // max_sessions_per_viewer), "stop"; "" while running.
  std::string ended_by;

  // The sum over tracks (samples summaries are not summed: count only).
  TrackViewing total() const;
};

// "12.0 s: 40 viewers, 180 sessions (176 completed, 0 failed), 1260 segments (0 failed),
//  0 stalls, tracks: canary=630 stable=630, ..." for progress lines and failure messages.
std::string describe(const ViewerLoadResults& results);

class ViewerLoad {
 public:
  explicit ViewerLoad(ViewerLoadOptions options);
  ~ViewerLoad();  // stops and joins
  ViewerLoad(const ViewerLoad&) = delete;
  ViewerLoad& operator=(const ViewerLoad&) = delete;

  // Validates the options and starts the viewers (at most once).
  Status start();
  // Ends the run early: no new request starts and requests in flight are cut.
  void stop();
  // A copy of the figures so far (final once finished()).
  ViewerLoadResults results() const;
  // Every viewer has ended.
  bool finished() const;
  // Waits until every viewer has ended (at most duration + finish_grace after start) and
  // returns the final figures.
  ViewerLoadResults wait();
  // start() then wait(); the start error, if any.
  Result<ViewerLoadResults> run();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sg::test
