#include "server/media/codec_string.hpp"

#include <cstdio>

extern "C" {
#include <libavcodec/avcodec.h>
}

namespace sg::server::media {

bool hls_carries(const AVCodecParameters& par) {
  switch (par.codec_id) {
    case AV_CODEC_ID_H264:
    case AV_CODEC_ID_HEVC:
    case AV_CODEC_ID_VP9:
    case AV_CODEC_ID_AV1:
    case AV_CODEC_ID_AAC:
    case AV_CODEC_ID_MP3:
    case AV_CODEC_ID_OPUS:
    case AV_CODEC_ID_FLAC:
    case AV_CODEC_ID_AC3:
    case AV_CODEC_ID_EAC3:
      return true;
    default:
      return false;
  }
}

namespace {

std::string avc1(const AVCodecParameters& par) {
  char buf[32];
  // avcC (ISO/IEC 14496-15): version 1, then profile_idc, constraint flags, level_idc.
  if (par.extradata != nullptr && par.extradata_size >= 4 && par.extradata[0] == 1) {
    std::snprintf(buf, sizeof buf, "avc1.%02x%02x%02x", par.extradata[1], par.extradata[2],
                  par.extradata[3]);
    return buf;
  }
  if (par.profile <= 0 || par.level <= 0) return {};
  std::snprintf(buf, sizeof buf, "avc1.%02x00%02x", par.profile & 0xff, par.level & 0xff);
  return buf;
}

std::string mp4a(const AVCodecParameters& par) {
  // Audio object type: AudioSpecificConfig's first 5 bits, else the libavcodec profile + 1.
  int aot = 0;
  if (par.extradata != nullptr && par.extradata_size >= 1) aot = par.extradata[0] >> 3;
  if (aot == 0 || aot == 31) aot = par.profile >= 0 ? par.profile + 1 : 2;
  return "mp4a.40." + std::to_string(aot);
}

}  // namespace

std::string rfc6381_codec(const AVCodecParameters& par) {
  switch (par.codec_id) {
    case AV_CODEC_ID_H264:
      return avc1(par);
    case AV_CODEC_ID_AAC:
      return mp4a(par);
    case AV_CODEC_ID_MP3:
      return "mp4a.40.34";
    case AV_CODEC_ID_OPUS:
      return "opus";
    case AV_CODEC_ID_FLAC:
      return "fLaC";
    case AV_CODEC_ID_AC3:
      return "ac-3";
    case AV_CODEC_ID_EAC3:
      return "ec-3";
    default:
      return {};
  }
}

}  // namespace sg::server::media
