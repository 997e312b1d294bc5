// Makes the streaming form of committed media: analyze_media() over the file, and the
// fragmented MP4 it writes committed beside the original as `<file>.hls.mp4` (temp file,
// fsync, rename: no reader sees half of it). What comes out is what Storage records with
// the media (MediaInfo::stream_json, hls_file, hls_index_json).
//
// Runs synchronously on the caller's thread; it takes about as long as reading and writing
// the file once (bounded by AnalysisLimits::time_limit). Thread-safe.
#pragma once

#include <string>

#include "server/media/media_analysis.hpp"
#include "server/media_store.hpp"

namespace sg::server::media {

struct StreamingRecord {
  std::string stream_json;     // stream_summary_json(): probe and HLS availability
  std::string hls_file;        // "" when there is no HLS
  std::string hls_index_json;  // "" when there is no HLS
  bool hls_ok() const { return !hls_file.empty(); }
};

StreamingRecord prepare_streaming(MediaStore& store, const std::string& media_file,
                                  const AnalysisLimits& limits);

}  // namespace sg::server::media
