// The player model behind ViewerLoad (viewer_load.hpp), without I/O: reading the playlists a
// StreamGate server renders (RFC 8216: a multivariant playlist with one variant; a VOD media
// playlist of byte ranges of one fMP4 with EXT-X-MAP), the buffer model, and the CMCD
// payload a request carries. Pure; the time is passed in. Thread-safety: none needed (a value
// type per session).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace sg::test {

// A byte range of a resource: Range "bytes=offset-(offset+length-1)".
struct ByteRange {
  std::string uri;  // as written in the playlist (relative to it)
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::string range_header() const;
};

struct MasterPlaylist {
  std::string media_uri;            // the first variant's URI
  std::int64_t bandwidth_kbps = 0;  // AVERAGE-BANDWIDTH, else BANDWIDTH, / 1000; 0 when absent
  std::string object_type = "v";    // CMCD ot of its segments: av, v or a (from CODECS)
};

struct MediaSegment {
  ByteRange range;
  double duration_s = 0;  // #EXTINF
};

struct MediaPlaylist {
  ByteRange init;  // EXT-X-MAP
  std::vector<MediaSegment> segments;
};

// Errors (kInvalidArgument) say what is missing: "master playlist has no variant URI".
Result<MasterPlaylist> parse_master_playlist(std::string_view text);
// Needs EXT-X-MAP with BYTERANGE and at least one segment with #EXTINF and
// #EXT-X-BYTERANGE (an offset may be omitted: it follows the previous range of the same URI).
Result<MediaPlaylist> parse_media_playlist(std::string_view text);

// `uri` resolved against the request target `base` (a path with an optional query): an
// absolute path stays; otherwise it replaces the last path segment of `base`.
std::string resolve_uri(std::string_view base, std::string_view uri);

// The player's buffer: media seconds ahead of the play head. Playback starts with the first
// segment delivered; while playing the buffer drains at `speed` media seconds per second.
// When it runs dry while segments remain to be fetched, that is a stall: playback pauses
// until the next segment arrives, and the next request reports CMCD bs.
class PlayerBuffer {
 public:
  using Clock = std::chrono::steady_clock;
  explicit PlayerBuffer(double speed) : speed_(speed) {}

  // Drains the buffer up to `now`; `more_to_fetch`: running dry now is a stall, not the end.
  void advance(Clock::time_point now, bool more_to_fetch);
  // A segment of `duration_s` arrived at `now` (call advance(now, true) first).
  void add_segment(Clock::time_point now, double duration_s);

  double level_s() const { return level_s_; }
  bool playing() const { return playing_; }
  bool started() const { return started_; }
  std::uint64_t stalls() const { return stalls_; }
  double stall_seconds() const { return stall_seconds_; }
  // Wall time until the buffer falls to `level_s` (zero when it is there or not playing).
  Clock::duration time_until(double level_s) const;
  // True once after each stall: the next request carries bs.
  bool take_starved();

 private:
  double speed_;
  double level_s_ = 0;
  bool playing_ = false;
  bool started_ = false;
  bool starved_ = false;
  std::optional<Clock::time_point> stalled_at_;
  Clock::time_point last_{};
  std::uint64_t stalls_ = 0;
  double stall_seconds_ = 0;
};

// The CMCD keys a viewer sends (absent ones are omitted).
struct CmcdFields {
  std::optional<std::int64_t> bl_ms;  // rounded to 100 here
  std::optional<std::int64_t> br_kbps;
  bool bs = false;
  std::string cid;
  std::optional<std::int64_t> d_ms;
  std::optional<std::int64_t> mtp_kbps;  // rounded to 100 here
  std::string ot;                        // m, i, v, a, av
  double pr = 1.0;                       // sent when not 1
  std::string sid;
  bool su = false;
};

// The payload as a CMCD query value: `bl=1200,br=450,...,sid="x",st=v,su`, URL-encoded
// (application/x-www-form-urlencoded), keys in alphabetical order (CTA-5004 3.2).
std::string cmcd_query_value(const CmcdFields& f);

}  // namespace sg::test
