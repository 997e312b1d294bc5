// Route templates of the playback surface, shared by content_api.cpp and hls_api.cpp. They
// are the `route` label of metrics and logs, so they never change spelling.
#pragma once

#include <string_view>

namespace sg::server::routes {

inline constexpr std::string_view kPlayback = "/api/v1/content/{id}/playback";
inline constexpr std::string_view kMaster = "/api/v1/content/{id}/hls/master.m3u8";
inline constexpr std::string_view kMediaPlaylist = "/api/v1/content/{id}/hls/media.m3u8";
inline constexpr std::string_view kHlsFile = "/api/v1/content/{id}/hls/{file}";
inline constexpr std::string_view kWatch = "/watch/{id}";
inline constexpr std::string_view kStatic = "/static/{asset}";
inline constexpr std::string_view kWatchPrefix = "/watch/";
inline constexpr std::string_view kStaticPrefix = "/static/";

}  // namespace sg::server::routes
