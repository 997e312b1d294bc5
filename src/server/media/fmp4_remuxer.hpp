// The packet loops of analyze_media() (media_analysis.hpp): copy chosen streams of an open
// input into a fragmented MP4, or only scan the packets for keyframes.
#pragma once

#include <cstdint>

#include "common/result.hpp"
#include "server/media/av_input.hpp"
#include "server/media/media_analysis.hpp"

namespace sg::server::media {

struct RemuxPlan {
  int video = -1;      // input stream index copied as the video track, -1 for none
  int audio = -1;      // input stream index copied as the audio track, -1 for none
  int reference = -1;  // the stream whose keyframes cut segments (video, else audio)
  double segment_target = 4.0;
  std::uint64_t max_output_bytes = 0;
};

// Writes the fMP4 to `out_fd` with one fragment per segment and returns the segments' byte
// ranges (codec and bandwidth fields are left for the caller). Appends the video stream's
// keyframe times to `probe.keyframes`. Errors are sentences for users: kInvalidArgument for
// damaged or truncated media (with how far it got), kTimeout, kTooLarge, kInternal for I/O.
Result<HlsIndex> remux_to_fmp4(AvInput& in, const RemuxPlan& plan, int out_fd,
                               MediaProbe& probe);

// Reads every packet and records the keyframe times of input stream `video`.
Status scan_keyframes(AvInput& in, int video, MediaProbe& probe);

}  // namespace sg::server::media
