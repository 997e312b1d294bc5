// Random lowercase hex strings, two kinds:
//   random_hex: fast (a thread-local mt19937_64 seeded by the OS), for identifiers that need to
//     be unique, not secret: request ids, temp file suffixes, content ids. Its outputs can be
//     observed (request ids are echoed) and would let the generator be predicted, so:
//   secure_random_hex: from the kernel's CSPRNG (getrandom(2)), for anything an attacker must
//     not guess: CSP nonces, tokens, keys. Aborts when the kernel has no entropy to give.
// Thread-safety: both may be called from any thread.
#pragma once

#include <cstddef>
#include <string>

namespace sg {

std::string random_hex(std::size_t digits);
std::string secure_random_hex(std::size_t digits);

}  // namespace sg
