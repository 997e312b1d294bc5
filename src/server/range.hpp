// HTTP Range (RFC 9110 section 14) for single byte ranges.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sg::server {

struct ByteRange {
  std::uint64_t first = 0;  // inclusive
  std::uint64_t last = 0;   // inclusive
  std::uint64_t length() const { return last - first + 1; }
};

struct RangeDecision {
  enum class Kind {
    kFull,           // no usable Range: send the whole representation (200)
    kPartial,        // send `range` (206)
    kUnsatisfiable,  // 416 with Content-Range: bytes */size
  } kind = Kind::kFull;
  ByteRange range;
};

// Interprets a Range header value against a representation of `size` bytes. Syntactically
// invalid values and multi-range requests are ignored (full response), as RFC 9110 allows.
RangeDecision decide_range(std::string_view header, std::uint64_t size);

}  // namespace sg::server
