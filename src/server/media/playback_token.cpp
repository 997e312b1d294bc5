#include "server/media/playback_token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>

namespace sg::server::media {
namespace {

constexpr std::size_t kMaxKeyId = 32;
constexpr std::size_t kMinSecret = 32;
constexpr std::size_t kSessionHex = 16;
constexpr std::size_t kSignatureChars = 43;  // 32 bytes in unpadded base64url
constexpr std::size_t kMaxToken = kMaxKeyId + 1 + 20 + 1 + kSessionHex + 1 + kSignatureChars;

bool valid_key_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxKeyId) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_')) {
      return false;
    }
  }
  return true;
}

bool is_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string base64url(const unsigned char* data, std::size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    acc = (acc << 8) | data[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 0x3F];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 0x3F];
  return out;
}

std::string random_session() {
  unsigned char bytes[kSessionHex / 2];
  if (RAND_bytes(bytes, sizeof bytes) != 1) std::abort();  // no entropy: cannot go on safely
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char b : bytes) {
    s += kHex[b >> 4];
    s += kHex[b & 0xF];
  }
  return s;
}

// Splits "a.b.c.d" into exactly four non-empty parts.
bool split4(std::string_view token, std::string_view (&parts)[4]) {
  for (int i = 0; i < 3; ++i) {
    const auto dot = token.find('.');
    if (dot == std::string_view::npos || dot == 0) return false;
    parts[i] = token.substr(0, dot);
    token.remove_prefix(dot + 1);
  }
  parts[3] = token;
  return !token.empty() && token.find('.') == std::string_view::npos;
}

}  // namespace

std::string_view token_check_name(TokenCheck check) {
  switch (check) {
    case TokenCheck::kValid: return "valid";
    case TokenCheck::kMissing: return "missing";
    case TokenCheck::kMalformed: return "malformed";
    case TokenCheck::kUnknownKey: return "unknown_key";
    case TokenCheck::kBadSignature: return "bad_signature";
    case TokenCheck::kExpired: return "expired";
  }
  return "unknown";
}

Result<std::vector<PlaybackKey>> parse_playback_keys(std::string_view text) {
  std::vector<PlaybackKey> keys;
  int position = 0;
  while (!text.empty()) {
    ++position;
    const auto comma = text.find(',');
    std::string_view entry = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const auto colon = entry.find(':');
    const std::string where = "playback key #" + std::to_string(position);
    if (colon == std::string_view::npos) {
      return make_error(ErrorCode::kInvalidArgument, where + " must be KID:SECRET");
    }
    PlaybackKey key{std::string(entry.substr(0, colon)), std::string(entry.substr(colon + 1))};
    if (!valid_key_id(key.id)) {
      return make_error(ErrorCode::kInvalidArgument,
                        where + ": the key id must be 1..32 of A-Z a-z 0-9 - _");
    }
    if (key.secret.size() < kMinSecret) {
      return make_error(ErrorCode::kInvalidArgument,
                        where + " ('" + key.id + "'): the secret must be at least 32 bytes");
    }
    for (const PlaybackKey& k : keys) {
      if (k.id == key.id) {
        return make_error(ErrorCode::kInvalidArgument, where + ": key id '" + key.id + "' repeats");
      }
    }
    keys.push_back(std::move(key));
  }
  if (keys.empty()) return make_error(ErrorCode::kInvalidArgument, "no playback key given");
  return keys;
}

PlaybackSigner::PlaybackSigner(std::vector<PlaybackKey> keys) : keys_(std::move(keys)) {}

std::string PlaybackSigner::signature(const PlaybackKey& key, std::string_view content_id,
                                      std::string_view expiry, std::string_view session) const {
  std::string message = "sg-playback-v1\n";
  message.append(content_id).append("\n").append(expiry).append("\n");
  message.append(key.id).append("\n").append(session);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.secret.data(), static_cast<int>(key.secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  return base64url(mac, len);
}

std::string PlaybackSigner::sign(std::string_view content_id, std::int64_t expires_at) const {
  const PlaybackKey& key = keys_.front();
  const std::string expiry = std::to_string(expires_at);
  const std::string session = random_session();
  return key.id + "." + expiry + "." + session + "." +
         signature(key, content_id, expiry, session);
}

TokenCheck PlaybackSigner::verify(std::string_view token, std::string_view content_id,
                                  std::int64_t now, PlaybackClaims& claims) const {
  if (token.empty()) return TokenCheck::kMissing;
  std::string_view parts[4];
  if (token.size() > kMaxToken || !split4(token, parts)) return TokenCheck::kMalformed;
  std::int64_t expiry = 0;
  const auto [end, ec] = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), expiry);
  if (ec != std::errc() || end != parts[1].data() + parts[1].size() || expiry < 0 ||
      parts[2].size() != kSessionHex || !is_hex(parts[2]) || parts[3].size() != kSignatureChars) {
    return TokenCheck::kMalformed;
  }
  const PlaybackKey* key = nullptr;
  for (const PlaybackKey& k : keys_) {
    if (k.id == parts[0]) key = &k;
  }
  if (key == nullptr) return TokenCheck::kUnknownKey;
  const std::string expected = signature(*key, content_id, parts[1], parts[2]);
  if (CRYPTO_memcmp(expected.data(), parts[3].data(), kSignatureChars) != 0) {
    return TokenCheck::kBadSignature;
  }
  if (now >= expiry) return TokenCheck::kExpired;
  claims = PlaybackClaims{key->id, expiry, std::string(parts[2])};
  return TokenCheck::kValid;
}

}  // namespace sg::server::media
