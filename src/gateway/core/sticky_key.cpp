#include "gateway/core/sticky_key.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace sg::gateway {

StickyKey::StickyKey(std::string_view secret) : key_(secret) {}

StickyKey StickyKey::random() {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("no random bytes for the sticky key");
  }
  return StickyKey(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::uint64_t StickyKey::hash(std::string_view value) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(value.data()), value.size(), mac, &len);
  std::uint64_t h = 0;
  for (int i = 0; i < 8; ++i) h = (h << 8) | mac[i];
  return h;
}

}  // namespace sg::gateway
