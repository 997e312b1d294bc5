#include "server/media/hls_playlist.hpp"

#include <cstdio>

#include "server/media/media_json.hpp"

namespace sg::server::media {
namespace {

std::string decimal(double v, int places) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", places, v);
  return buf;
}

}  // namespace

std::string render_multivariant_playlist(const HlsIndex& index, std::string_view media_uri) {
  std::string out = "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n";
  out += "#EXT-X-STREAM-INF:BANDWIDTH=" + std::to_string(index.peak_bandwidth);
  out += ",AVERAGE-BANDWIDTH=" + std::to_string(index.average_bandwidth);
  if (!index.codecs.empty()) out += ",CODECS=\"" + index.codecs + "\"";
  if (index.has_video && index.width > 0 && index.height > 0) {
    out += ",RESOLUTION=" + std::to_string(index.width) + "x" + std::to_string(index.height);
  }
  if (index.has_video && index.frame_rate > 0) out += ",FRAME-RATE=" + decimal(index.frame_rate, 3);
  out += "\n";
  out += media_uri;
  out += "\n";
  return out;
}

std::string render_media_playlist(const HlsIndex& index, std::string_view segment_uri) {
  std::string out;
  out.reserve(160 + index.segments.size() * (48 + segment_uri.size()));
  out += "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:";
  out += std::to_string(target_duration(index));
  out += "\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n";
  out += "#EXT-X-MAP:URI=\"";
  out += segment_uri;
  out += "\",BYTERANGE=\"" + std::to_string(index.init_length) + "@0\"\n";
  for (const HlsSegment& s : index.segments) {
    out += "#EXTINF:" + decimal(s.duration, 6) + ",\n";
    out += "#EXT-X-BYTERANGE:" + std::to_string(s.length) + "@" + std::to_string(s.offset) + "\n";
    out += segment_uri;
    out += "\n";
  }
  out += "#EXT-X-ENDLIST\n";
  return out;
}

}  // namespace sg::server::media
