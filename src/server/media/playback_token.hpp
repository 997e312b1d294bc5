// Signed playback tokens: a capability to play one content item until an expiry time.
//
// A token is "KID.EXPIRY.SESSION.SIGNATURE": KID names the key that signed it, EXPIRY is a
// Unix time in seconds, SESSION is 16 random hex digits (one token = one playback session,
// see stream_sessions.hpp) and SIGNATURE is base64url (no padding) of
// HMAC-SHA256(secret of KID, "sg-playback-v1\n" ID "\n" EXPIRY "\n" KID "\n" SESSION).
// Verification checks, in order: shape, a known KID, the signature (constant-time), then
// the expiry; so a token whose expiry was edited is "bad", not "expired".
//
// Keys rotate without breaking playback in progress: every replica is configured with the
// same list; the first key signs and all verify. Add the new key second everywhere, then
// move it first, and drop the old one once the longest token lifetime has passed.
// Thread-safe (immutable after construction). Secrets never appear in messages.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace sg::server::media {

struct PlaybackKey {
  std::string id;      // 1..32 of [A-Za-z0-9_-]
  std::string secret;  // at least 32 bytes
};

// Parses "KID:SECRET[,KID:SECRET...]"; kInvalidArgument naming the bad entry by position
// and key id (never the secret).
Result<std::vector<PlaybackKey>> parse_playback_keys(std::string_view text);

struct PlaybackClaims {
  std::string key_id;
  std::int64_t expires_at = 0;  // Unix seconds
  std::string session;          // 16 hex digits
};

enum class TokenCheck { kValid, kMissing, kMalformed, kUnknownKey, kBadSignature, kExpired };
// "missing", "malformed", ... for logs and metrics.
std::string_view token_check_name(TokenCheck check);

class PlaybackSigner {
 public:
  // `keys` non-empty; keys[0] signs.
  explicit PlaybackSigner(std::vector<PlaybackKey> keys);

  // A new token for `content_id` with a fresh random session, valid until `expires_at`.
  std::string sign(std::string_view content_id, std::int64_t expires_at) const;
  // Checks `token` for `content_id` at `now` (Unix seconds); fills `claims` when valid.
  TokenCheck verify(std::string_view token, std::string_view content_id, std::int64_t now,
                    PlaybackClaims& claims) const;
  const std::string& signing_key_id() const { return keys_.front().id; }

 private:
  std::string signature(const PlaybackKey& key, std::string_view content_id,
                        std::string_view expiry, std::string_view session) const;
  std::vector<PlaybackKey> keys_;
};

}  // namespace sg::server::media
