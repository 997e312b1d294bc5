// Test media made with the real ffmpeg binary (Debian's ffmpeg package): an H.264 + AAC MP4
// with its moov atom at the end (no +faststart), keyframes every 2 s, and damaged variants.
#pragma once

#include <filesystem>
#include <string>

#include "common/result.hpp"

namespace sg::test {

struct ClipSpec {
  int seconds = 12;
  int width = 320;
  int height = 240;
  int fps = 25;
  int gop_frames = 50;  // a keyframe every 2 s at 25 fps
  bool audio = true;
};

// Encodes the clip (testsrc2 + a sine tone, libx264 veryfast with B-frames, AAC) to `path`.
Status make_test_clip(const std::filesystem::path& path, const ClipSpec& spec = {});

// The offset and size of the top-level box `type` ("moov") in an ISO BMFF file.
Result<std::pair<std::uint64_t, std::uint64_t>> find_top_level_box(const std::filesystem::path& path,
                                                                   const std::string& type);

// Whole file as bytes.
std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& bytes);

}  // namespace sg::test
