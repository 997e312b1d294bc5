// StickyKey: the keyed hash that maps a sticky value (a header or cookie a client sends) to
// a point of the route's weights (TrackSchedule::pick_sticky_hash).
//
// Why keyed. The sticky value is chosen by the client. With a public hash (FNV-1a, as
// TrackSchedule::stable_hash is) anyone can compute offline which values land on the canary
// and send all of their traffic there -- slow downloads, requests that fail -- or none, and
// so move the canary's analysis at will. HMAC-SHA-256 under a secret key makes the mapping
// unknowable without the key, while it stays the same for one key: every gateway instance
// given the same key (config route.sticky.key_env names the environment variable that holds
// it, at least 16 bytes) sends a viewer to the same track, across restarts too, and only the
// values in a weight range that moved change track, as before.
//
// What remains, by design of stickiness: a client learns its own track from the answer
// (X-StreamGate-Track, X-StreamGate-Version), so it can keep a value that happened to land on
// the canary; finding one costs about 100/weight requests, and each value is one viewer's
// traffic, which the judge weighs like any other viewer's. Other designs considered: a
// gateway-issued signed cookie naming the track (the same residue: a client keeps the cookie
// it was given), ignoring stickiness for analysis (the canary's traffic would then not be the
// traffic it served).
//
// Without a configured key the gateway draws a random key at start (a warning is logged):
// stickiness then holds per gateway instance only. Thread-safety: immutable after
// construction; hash() may be called from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace sg::gateway {

class StickyKey {
 public:
  static constexpr std::size_t kMinKeyBytes = 16;

  // A key from `secret` (kMinKeyBytes or more bytes).
  explicit StickyKey(std::string_view secret);
  // A random key (from the OS's CSPRNG).
  static StickyKey random();

  // The first 64 bits of HMAC-SHA-256(key, value), big-endian.
  std::uint64_t hash(std::string_view value) const;

 private:
  std::string key_;
};

}  // namespace sg::gateway
