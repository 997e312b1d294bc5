#include "server/media/media_json.hpp"

#include <boost/json.hpp>
#include <cmath>

#include "common/json_text.hpp"

namespace sg::server::media {
namespace json = boost::json;
namespace {

json::object stream_object(const StreamProbe& s) {
  json::object o;
  o["index"] = s.index;
  o["type"] = s.type;
  o["codec"] = s.codec;
  if (!s.profile.empty()) o["profile"] = s.profile;
  if (s.bit_rate > 0) o["bit_rate"] = s.bit_rate;
  if (s.type == "video") {
    o["width"] = s.width;
    o["height"] = s.height;
    if (s.frame_rate > 0) o["frame_rate"] = s.frame_rate;
  } else if (s.type == "audio") {
    o["sample_rate"] = s.sample_rate;
    o["channels"] = s.channels;
  }
  return o;
}

json::value probe_value(const std::optional<MediaProbe>& probe) {
  if (!probe) return nullptr;
  json::object o;
  o["container"] = probe->container;
  o["container_name"] = probe->container_long;
  o["duration_seconds"] = probe->duration_seconds;
  o["bit_rate"] = probe->bit_rate;
  json::array streams;
  for (const StreamProbe& s : probe->streams) streams.emplace_back(stream_object(s));
  o["streams"] = std::move(streams);
  json::array keys;
  for (double k : probe->keyframes) keys.emplace_back(k);
  o["keyframes"] = std::move(keys);
  if (probe->keyframes_truncated) o["keyframes_truncated"] = true;
  return o;
}

Error bad(std::string_view what) {
  return make_error(ErrorCode::kInternal, "stored HLS index is invalid: " + std::string(what));
}

bool read_u64(const json::value& v, std::uint64_t& out) {
  if (v.is_uint64()) {
    out = v.get_uint64();
    return true;
  }
  if (v.is_int64() && v.get_int64() >= 0) {
    out = static_cast<std::uint64_t>(v.get_int64());
    return true;
  }
  return false;
}

}  // namespace

int target_duration(const HlsIndex& index) {
  double longest = 0;
  for (const HlsSegment& s : index.segments) longest = std::max(longest, s.duration);
  return std::max(1, static_cast<int>(std::lround(longest)));
}

std::string stream_summary_json(const MediaAnalysis& a) {
  json::object hls;
  hls["available"] = a.hls.has_value();
  if (a.hls) {
    hls["segments"] = a.hls->segments.size();
    hls["target_duration"] = target_duration(*a.hls);
    hls["codecs"] = a.hls->codecs;
    hls["bandwidth"] = a.hls->peak_bandwidth;
    hls["average_bandwidth"] = a.hls->average_bandwidth;
    if (a.hls->has_video) {
      hls["resolution"] = std::to_string(a.hls->width) + "x" + std::to_string(a.hls->height);
    }
  } else {
    hls["reason"] = a.hls_unavailable;
  }
  json::object o;
  o["probe"] = probe_value(a.probe);
  o["hls"] = std::move(hls);
  return json_text(o);
}

std::string hls_index_json(const HlsIndex& x) {
  json::object o;
  o["init_length"] = x.init_length;
  o["codecs"] = x.codecs;
  o["width"] = x.width;
  o["height"] = x.height;
  o["frame_rate"] = x.frame_rate;
  o["has_video"] = x.has_video;
  o["peak_bandwidth"] = x.peak_bandwidth;
  o["average_bandwidth"] = x.average_bandwidth;
  json::array segs;
  for (const HlsSegment& s : x.segments) segs.emplace_back(json::array{s.duration, s.offset, s.length});
  o["segments"] = std::move(segs);
  return json_text(o);
}

Result<HlsIndex> parse_hls_index(std::string_view text) {
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return bad("not a JSON object");
  const json::object& o = v.get_object();
  static const json::value kNull;
  auto get = [&](std::string_view key) -> const json::value& {
    const json::value* p = o.if_contains(key);
    return p != nullptr ? *p : kNull;
  };
  HlsIndex x;
  const json::value* segs = o.if_contains("segments");
  const json::value* codecs = o.if_contains("codecs");
  const json::value* has_video = o.if_contains("has_video");
  if (!segs || !segs->is_array() || !codecs || !codecs->is_string() || !has_video ||
      !has_video->is_bool()) {
    return bad("missing fields");
  }
  x.codecs = std::string(codecs->get_string());
  x.has_video = has_video->get_bool();
  std::uint64_t w = 0, h = 0;
  if (!read_u64(get("init_length"), x.init_length) || !read_u64(get("width"), w) ||
      !read_u64(get("height"), h) || !read_u64(get("peak_bandwidth"), x.peak_bandwidth) ||
      !read_u64(get("average_bandwidth"), x.average_bandwidth) || !get("frame_rate").is_number()) {
    return bad("bad numbers");
  }
  x.width = static_cast<int>(w);
  x.height = static_cast<int>(h);
  x.frame_rate = get("frame_rate").to_number<double>();
  std::uint64_t next = x.init_length;
  for (const json::value& s : segs->get_array()) {
    const json::array* a = s.if_array();
    HlsSegment seg;
    if (a == nullptr || a->size() != 3 || !(*a)[0].is_number() || !read_u64((*a)[1], seg.offset) ||
        !read_u64((*a)[2], seg.length)) {
      return bad("bad segment");
    }
    seg.duration = (*a)[0].to_number<double>();
    if (seg.offset != next || seg.length == 0 || !(seg.duration >= 0)) return bad("segments out of order");
    next = seg.offset + seg.length;
    x.segments.push_back(seg);
  }
  if (x.segments.empty()) return bad("no segments");
  return x;
}

}  // namespace sg::server::media
