#include "server/media/playback_token.hpp"

#include <gtest/gtest.h>

namespace sg::server::media {
namespace {

const std::string kSecretA(40, 'a');
const std::string kSecretB = "0123456789abcdef0123456789abcdef-b";
constexpr std::int64_t kNow = 1'800'000'000;

PlaybackSigner signer(const std::string& keys) {
  auto parsed = parse_playback_keys(keys);
  EXPECT_TRUE(parsed) << parsed.error().message;
  return PlaybackSigner(*parsed);
}

TEST(PlaybackToken, SignedTokenVerifiesForItsContentUntilItExpires) {
  const PlaybackSigner s = signer("k1:" + kSecretA);
  const std::string token = s.sign("item-1", kNow + 1800);
  PlaybackClaims c;
  EXPECT_EQ(s.verify(token, "item-1", kNow, c), TokenCheck::kValid);
  EXPECT_EQ(c.key_id, "k1");
  EXPECT_EQ(c.expires_at, kNow + 1800);
  EXPECT_EQ(c.session.size(), 16u);
  EXPECT_EQ(s.verify(token, "item-1", kNow + 1799, c), TokenCheck::kValid);
  EXPECT_EQ(s.verify(token, "item-1", kNow + 1800, c), TokenCheck::kExpired);
  EXPECT_EQ(s.verify(token, "item-2", kNow, c), TokenCheck::kBadSignature);
}

TEST(PlaybackToken, EachTokenIsANewSession) {
  const PlaybackSigner s = signer("k1:" + kSecretA);
  PlaybackClaims a, b;
  ASSERT_EQ(s.verify(s.sign("x", kNow + 60), "x", kNow, a), TokenCheck::kValid);
  ASSERT_EQ(s.verify(s.sign("x", kNow + 60), "x", kNow, b), TokenCheck::kValid);
  EXPECT_NE(a.session, b.session);
}

TEST(PlaybackToken, TamperingWithAnyPartIsABadSignatureNotAnExpiry) {
  const PlaybackSigner s = signer("k1:" + kSecretA);
  const std::string token = s.sign("item-1", kNow - 10);  // already expired
  PlaybackClaims c;
  ASSERT_EQ(s.verify(token, "item-1", kNow, c), TokenCheck::kExpired);
  const auto first_dot = token.find('.');
  std::string later = token;  // push the expiry into the future
  later.replace(first_dot + 1, 10, std::to_string(kNow + 99999).substr(0, 10));
  EXPECT_EQ(s.verify(later, "item-1", kNow, c), TokenCheck::kBadSignature);
  std::string flipped = s.sign("item-1", kNow + 60);
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(s.verify(flipped, "item-1", kNow, c), TokenCheck::kBadSignature);
  std::string session = s.sign("item-1", kNow + 60);
  const auto third = session.find('.', session.find('.', first_dot + 1) + 1);
  session[third - 1] = session[third - 1] == '0' ? '1' : '0';
  EXPECT_EQ(s.verify(session, "item-1", kNow, c), TokenCheck::kBadSignature);
}

TEST(PlaybackToken, MalformedMissingAndUnknownKeyAreTold) {
  const PlaybackSigner s = signer("k1:" + kSecretA);
  PlaybackClaims c;
  EXPECT_EQ(s.verify("", "x", kNow, c), TokenCheck::kMissing);
  EXPECT_EQ(s.verify("garbage", "x", kNow, c), TokenCheck::kMalformed);
  EXPECT_EQ(s.verify("k1.123.abc.def", "x", kNow, c), TokenCheck::kMalformed);
  EXPECT_EQ(s.verify(std::string(5000, 'a'), "x", kNow, c), TokenCheck::kMalformed);
  const PlaybackSigner other = signer("k9:" + kSecretA);
  EXPECT_EQ(s.verify(other.sign("x", kNow + 60), "x", kNow, c), TokenCheck::kUnknownKey);
}

TEST(PlaybackToken, RotationKeepsOldTokensValidWhileTheOldKeyIsListed) {
  const PlaybackSigner before = signer("a:" + kSecretA);
  const PlaybackSigner during = signer("b:" + kSecretB + ",a:" + kSecretA);
  const PlaybackSigner after = signer("b:" + kSecretB);
  const std::string old_token = before.sign("item", kNow + 600);
  const std::string new_token = during.sign("item", kNow + 600);
  PlaybackClaims c;
  EXPECT_EQ(during.verify(old_token, "item", kNow, c), TokenCheck::kValid);
  EXPECT_EQ(c.key_id, "a");
  EXPECT_EQ(during.verify(new_token, "item", kNow, c), TokenCheck::kValid);
  EXPECT_EQ(c.key_id, "b");
  EXPECT_EQ(after.verify(old_token, "item", kNow, c), TokenCheck::kUnknownKey);
  EXPECT_EQ(before.verify(new_token, "item", kNow, c), TokenCheck::kUnknownKey);
}

TEST(PlaybackToken, KeyListErrorsNameTheEntryButNeverTheSecret) {
  struct Case {
    std::string text;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"nocolon", "playback key #1 must be KID:SECRET"},
      {"k1:short-secret-value", "playback key #1 ('k1'): the secret must be at least 32 bytes"},
      {"bad id!:" + kSecretA, "playback key #1: the key id must be 1..32 of A-Z a-z 0-9 - _"},
      {"k1:" + kSecretA + ",k1:" + kSecretB, "playback key #2: key id 'k1' repeats"},
  };
  for (const Case& c : cases) {
    auto r = parse_playback_keys(c.text);
    ASSERT_FALSE(r) << c.text;
    EXPECT_EQ(r.error().message, c.message);
    EXPECT_EQ(r.error().message.find("short-secret"), std::string::npos);
  }
  auto two = parse_playback_keys("k1:" + kSecretA + ",k2:" + kSecretB);
  ASSERT_TRUE(two);
  EXPECT_EQ(two->size(), 2u);
}

}  // namespace
}  // namespace sg::server::media
