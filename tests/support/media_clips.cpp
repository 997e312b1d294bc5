#include "support/media_clips.hpp"

#include <cstring>
#include <fstream>
#include <sstream>

#include "support/services.hpp"

namespace sg::test {

Status make_test_clip(const std::filesystem::path& path, const ClipSpec& spec) {
  const std::string video = "testsrc2=size=" + std::to_string(spec.width) + "x" +
                            std::to_string(spec.height) + ":rate=" + std::to_string(spec.fps) +
                            ":duration=" + std::to_string(spec.seconds);
  SpawnOptions o;
  o.argv = {"ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", video};
  if (spec.audio) {
    const std::string tone =
        "sine=frequency=440:sample_rate=48000:duration=" + std::to_string(spec.seconds);
    o.argv.insert(o.argv.end(), {"-f", "lavfi", "-i", tone});
  }
  const std::string gop = std::to_string(spec.gop_frames);
  o.argv.insert(o.argv.end(), {"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                               "-g", gop, "-keyint_min", gop, "-sc_threshold", "0"});
  if (spec.audio) o.argv.insert(o.argv.end(), {"-c:a", "aac", "-b:a", "64k", "-shortest"});
  o.argv.push_back(path.string());
  o.log_file = path.string() + ".ffmpeg.log";
  return run_command(o, std::chrono::seconds(120));
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

Result<std::pair<std::uint64_t, std::uint64_t>> find_top_level_box(const std::filesystem::path& path,
                                                                   const std::string& type) {
  const std::string bytes = read_file(path);
  std::uint64_t pos = 0;
  while (pos + 8 <= bytes.size()) {
    std::uint64_t size = 0;
    for (int i = 0; i < 4; ++i) size = (size << 8) | static_cast<unsigned char>(bytes[pos + i]);
    if (bytes.compare(pos + 4, 4, type) == 0) return std::make_pair(pos, size);
    if (size < 8) break;
    pos += size;
  }
  return make_error(ErrorCode::kNotFound, "no top-level '" + type + "' box in " + path.string());
}

}  // namespace sg::test
