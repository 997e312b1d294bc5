// JSON forms of a media analysis, as stored with the media and shown in the content JSON.
//
// stream_summary_json(): {"probe": {...} | null, "hls": {"available": true, "segments": N,
// "target_duration": S, "codecs": "...", "bandwidth": B, "average_bandwidth": B,
// "resolution": "WxH"} | {"available": false, "reason": "..."}}; the content JSON shows its
// two members under "media". hls_index_json()/parse_hls_index() round-trip an HlsIndex
// exactly (the playlists are rendered from it); parsing checks every field and the
// segments' order, because the text comes back from the database.
#pragma once

#include <string>
#include <string_view>

#include "common/result.hpp"
#include "server/media/media_analysis.hpp"

namespace sg::server::media {

std::string stream_summary_json(const MediaAnalysis& analysis);
std::string hls_index_json(const HlsIndex& index);
Result<HlsIndex> parse_hls_index(std::string_view json);

// EXT-X-TARGETDURATION for these segments: the largest duration rounded to the nearest
// integer (RFC 8216 4.3.3.1), at least 1.
int target_duration(const HlsIndex& index);

}  // namespace sg::server::media
