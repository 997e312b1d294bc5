#include "common/random_hex.hpp"

#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <random>

namespace sg {
namespace {

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

std::string random_hex(std::size_t digits) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out(digits, '0');
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < digits; ++i, v >>= 4) {
    if (i % 16 == 0) v = rng();
    out[i] = kHex[v & 0xF];
  }
  return out;
}

std::string secure_random_hex(std::size_t digits) {
  std::string bytes((digits + 1) / 2, '\0');
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) std::abort();  // no entropy: nothing safe to return
    got += static_cast<std::size_t>(n);
  }
  std::string out(digits, '0');
  for (std::size_t i = 0; i < digits; ++i) {
    const auto b = static_cast<unsigned char>(bytes[i / 2]);
    out[i] = kHex[i % 2 == 0 ? b >> 4 : b & 0xF];
  }
  return out;
}

}  // namespace sg
