// RFC 6381 codec strings for the CODECS attribute of EXT-X-STREAM-INF (RFC 8216 4.3.4.2),
// and which codecs HLS in fragmented MP4 can carry without re-encoding.
#pragma once

extern "C" {
#include <libavcodec/codec_par.h>
}

#include <string>

namespace sg::server::media {

// True for the codecs we remux into fMP4 HLS: video H.264, HEVC, VP9, AV1; audio AAC, MP3,
// Opus, FLAC, AC-3, E-AC-3.
bool hls_carries(const AVCodecParameters& par);

// "avc1.64001f", "mp4a.40.2", "mp4a.40.34", "opus", "fLaC", "ac-3", "ec-3"; "" when we cannot
// state it exactly (HEVC, VP9, AV1 need fields this code does not read; the attribute is then
// left out, which RFC 8216 allows).
std::string rfc6381_codec(const AVCodecParameters& par);

}  // namespace sg::server::media
