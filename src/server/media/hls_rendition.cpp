#include "server/media/hls_rendition.hpp"

#include "common/log.hpp"
#include "server/media/media_json.hpp"

namespace sg::server::media {

StreamingRecord prepare_streaming(MediaStore& store, const std::string& media_file,
                                  const AnalysisLimits& limits) {
  StreamingRecord record;
  MediaAnalysis analysis;
  std::uint64_t size = 0;
  auto in = store.open(media_file, size);
  auto out = store.begin_derived(media_file, ".hls.mp4");
  if (!in || !out) {
    analysis.hls_unavailable =
        "the server could not prepare HLS: " + (!in ? in.error().message : out.error().message);
    log::error("cannot prepare HLS", {{"file", media_file}, {"error", analysis.hls_unavailable}});
    record.stream_json = stream_summary_json(analysis);
    return record;
  }
  const auto start = std::chrono::steady_clock::now();
  analysis = analyze_media(in->get(), (*out)->fd(), limits);
  if (analysis.hls) {
    if (Status st = (*out)->commit(); !st) {
      analysis.hls.reset();
      analysis.hls_unavailable = "the server could not store HLS: " + st.error().message;
      log::error("cannot store HLS", {{"file", media_file}, {"error", st.error().message}});
    } else {
      record.hls_file = (*out)->name();
      record.hls_index_json = hls_index_json(*analysis.hls);
    }
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  log::info("media analysed",
            {{"file", media_file},
             {"bytes", size},
             {"hls", analysis.hls.has_value()},
             {"segments", analysis.hls ? analysis.hls->segments.size() : std::size_t{0}},
             {"reason", analysis.hls_unavailable},
             {"duration_ms", ms}});
  record.stream_json = stream_summary_json(analysis);
  return record;
}

}  // namespace sg::server::media
