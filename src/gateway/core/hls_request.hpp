// Which HLS object a request asks for, read from its path (the server's HLS routes, README
// *HLS*), and the playback session it belongs to.
//
// Routes: /api/v1/content/{id}/hls/{name}.m3u8 is a playlist (multivariant or media);
// /api/v1/content/{id}/hls/{file} (anything else under hls/) is the fMP4 whose byte ranges
// are the segments. The init section (EXT-X-MAP) is a byte range of the same file: it counts
// as a segment unless the player's CMCD says `ot=i` (init), as hls.js does. Only GET and HEAD
// are classified. Cost for a non-HLS request: one prefix compare (and, under
// /api/v1/content/, one search for "/hls/").
//
// The session key: the CMCD session id (`sid`) when the player sent one, else the playback
// token (the `token` query parameter, unique per POST .../playback), else none.
// Pure; any thread.
#pragma once

#include <optional>
#include <string_view>

#include "gateway/core/cmcd.hpp"

namespace sg::gateway {

enum class HlsKind : unsigned char { kNone, kPlaylist, kSegment, kInit };
const char* hls_kind_name(HlsKind kind);

// The kind of the object `target` (a request target: path and query) names for a GET/HEAD
// (`get_or_head`); `ot` is the CMCD object type when the request carried one.
HlsKind classify_hls(bool get_or_head, std::string_view target,
                     std::optional<CmcdObjectType> ot = std::nullopt);

// The raw value of the first query parameter `name` of `target` (not decoded: tokens are
// URL-safe), or nullopt. A fragment ends the query.
std::optional<std::string_view> query_param(std::string_view target, std::string_view name);

// The longest session key kept; a longer token is not a session key we track.
inline constexpr std::size_t kMaxSessionKeyBytes = 256;

}  // namespace sg::gateway
