// HLS playlists (RFC 8216) for media remuxed into one fragmented MP4.
//
// The multivariant playlist names one variant stream (EXT-X-STREAM-INF with BANDWIDTH,
// AVERAGE-BANDWIDTH, CODECS when known, RESOLUTION and FRAME-RATE for video). The media
// playlist is a VOD playlist (EXT-X-PLAYLIST-TYPE:VOD, EXT-X-ENDLIST) whose segments are byte
// ranges of the one file: EXT-X-MAP with BYTERANGE for the initialisation section, then
// EXTINF + EXT-X-BYTERANGE per segment, all with explicit offsets; EXT-X-INDEPENDENT-SEGMENTS
// because every segment starts at a keyframe. EXT-X-VERSION is 6, the lowest that allows
// EXT-X-MAP outside I-frame playlists (RFC 8216 section 7). URIs are used as given (relative
// URIs resolve against the playlist's URL; a query such as ?token=... is the caller's).
#pragma once

#include <string>
#include <string_view>

#include "server/media/media_analysis.hpp"

namespace sg::server::media {

std::string render_multivariant_playlist(const HlsIndex& index, std::string_view media_uri);
std::string render_media_playlist(const HlsIndex& index, std::string_view segment_uri);

}  // namespace sg::server::media
