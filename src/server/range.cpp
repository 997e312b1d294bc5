#include "server/range.hpp"

#include <charconv>

namespace sg::server {
namespace {

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

RangeDecision decide_range(std::string_view header, std::uint64_t size) {
  RangeDecision full;
  header = trim(header);
  constexpr std::string_view kUnit = "bytes=";
  if (header.size() <= kUnit.size() || header.substr(0, kUnit.size()) != kUnit) return full;
  std::string_view spec = trim(header.substr(kUnit.size()));
  if (spec.find(',') != std::string_view::npos) return full;  // multi-range: send it all
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return full;
  const std::string_view a = trim(spec.substr(0, dash));
  const std::string_view b = trim(spec.substr(dash + 1));
  RangeDecision d;
  if (a.empty()) {  // suffix range: the last N bytes
    auto n = parse_u64(b);
    if (!n) return full;
    if (*n == 0 || size == 0) {
      d.kind = RangeDecision::Kind::kUnsatisfiable;
      return d;
    }
    d.kind = RangeDecision::Kind::kPartial;
    d.range.first = *n >= size ? 0 : size - *n;
    d.range.last = size - 1;
    return d;
  }
  auto first = parse_u64(a);
  if (!first) return full;
  std::uint64_t last = size == 0 ? 0 : size - 1;
  if (!b.empty()) {
    auto l = parse_u64(b);
    if (!l || *l < *first) return full;
    last = std::min(*l, last);
  }
  if (*first >= size) {
    d.kind = RangeDecision::Kind::kUnsatisfiable;
    return d;
  }
  d.kind = RangeDecision::Kind::kPartial;
  d.range = {*first, last};
  return d;
}

}  // namespace sg::server
