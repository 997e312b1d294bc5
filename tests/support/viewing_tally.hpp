// ViewingTally: what ViewerLoad's viewers saw, summed per track as they go (the accounting
// half of viewer_load.cpp; the contract of the figures is ViewerLoadResults in
// viewer_load.hpp). Requests count under the track that answered them (X-StreamGate-Track);
// a session's sessions, stalls, startup and end count under the track of its first answer.
//
// Bounds: at most kMaxSamples startup and TTFB samples per track (later ones are counted in
// no summary), kMaxErrors distinct error texts.
// Thread-safety: every method may be called from any thread (one mutex).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "support/viewer_load.hpp"

namespace sg::test {

class ViewingTally {
 public:
  static constexpr std::size_t kMaxSamples = 200000;
  static constexpr std::size_t kMaxErrors = 10;

  enum class Object { kPlaylist, kInit, kSegment };
  enum class SessionEnd { kCompleted, kFailed, kCut };

  // The track a session is on, learnt from its first answer (owned by the session).
  struct SessionTrack {
    std::string track;
    bool known = false;
    bool several = false;  // a later answer came from another track
  };

  // One answered HLS request of a session.
  struct Answer {
    Object object = Object::kPlaylist;
    int status = 0;
    std::string track;
    std::uint64_t bytes = 0;
    double ttfb_s = 0;
    bool sent_bs = false;
    std::optional<std::int64_t> sent_mtp;
  };

  void request_started();
  // An exchange that got no answer: cut by the run's bound or stop(), or failed.
  void request_unanswered(bool cut);
  void playback_refused();
  void answer(SessionTrack& session, const Answer& a);
  void session_playing(const SessionTrack& session, double startup_ms);
  void stalls(const SessionTrack& session, std::uint64_t stalls, double seconds);
  // `fallback_track` when the session never learnt its track.
  void session_end(const SessionTrack& session, SessionEnd end, const std::string& fallback_track);
  void error(std::string what);

  // The figures so far (running, elapsed_seconds and ended_by are the caller's).
  ViewerLoadResults snapshot() const;

 private:
  struct TrackAccum {
    TrackViewing v;
    std::vector<double> startup_ms, ttfb_ms;
  };
  mutable std::mutex mu_;
  std::map<std::string, TrackAccum> tracks_;
  ViewerLoadResults totals_;  // the fields that are not per track
};

}  // namespace sg::test
