#include "gateway/core/hls_request.hpp"

namespace sg::gateway {

const char* hls_kind_name(HlsKind kind) {
  switch (kind) {
    case HlsKind::kPlaylist:
      return "playlist";
    case HlsKind::kSegment:
      return "segment";
    case HlsKind::kInit:
      return "init";
    case HlsKind::kNone:
      break;
  }
  return "none";
}

HlsKind classify_hls(bool get_or_head, std::string_view target, std::optional<CmcdObjectType> ot) {
  constexpr std::string_view kPrefix = "/api/v1/content/";
  if (!get_or_head || !target.starts_with(kPrefix)) return HlsKind::kNone;
  std::string_view path = target.substr(0, target.find_first_of("?#"));
  path.remove_prefix(kPrefix.size());
  // {id}/hls/{name}: exactly one segment for the id, one for the name.
  const std::size_t slash = path.find('/');
  if (slash == 0 || slash == std::string_view::npos) return HlsKind::kNone;
  std::string_view rest = path.substr(slash);
  constexpr std::string_view kHls = "/hls/";
  if (!rest.starts_with(kHls)) return HlsKind::kNone;
  const std::string_view name = rest.substr(kHls.size());
  if (name.empty() || name.find('/') != std::string_view::npos) return HlsKind::kNone;
  if (name.ends_with(".m3u8")) return HlsKind::kPlaylist;
  if (ot == CmcdObjectType::kInit) return HlsKind::kInit;
  return HlsKind::kSegment;
}

std::optional<std::string_view> query_param(std::string_view target, std::string_view name) {
  // A '?' after a '#' is part of the fragment (RFC 3986 3.5), as classify_hls reads it.
  const std::size_t q = target.find_first_of("?#");
  if (q == std::string_view::npos || target[q] == '#') return std::nullopt;
  std::string_view query = target.substr(q + 1);
  query = query.substr(0, query.find('#'));
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

}  // namespace sg::gateway
