#include "common/http/bearer.hpp"

#include <algorithm>
#include <cctype>

namespace sg::http {

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Every byte of the longer text is looked at; the length difference is folded in last.
  const std::size_t n = std::max(a.size(), b.size());
  volatile unsigned char diff = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    diff = static_cast<unsigned char>(diff | (x ^ y));
  }
  return diff == 0 && a.size() == b.size();
}

BearerCheck check_bearer(std::string_view authorization, std::span<const std::string> accepted) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return BearerCheck::kMissing;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) {
      return BearerCheck::kMissing;
    }
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return BearerCheck::kMissing;
  bool match = false;
  for (const auto& t : accepted) match = constant_time_equal(token, t) || match;
  return match ? BearerCheck::kAccepted : BearerCheck::kRejected;
}

}  // namespace sg::http
