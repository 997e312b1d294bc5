#include "support/viewer_player.hpp"

#include <cmath>
#include <cstdio>
#include <map>

namespace sg::test {
namespace {

// The lines of `text` without their line ends.
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

// The value of attribute `name` in an attribute list (`A=1,B="x,y"`), quotes removed.
std::optional<std::string> attribute(std::string_view list, std::string_view name) {
  std::size_t i = 0;
  while (i < list.size()) {
    const auto eq = list.find('=', i);
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view key = list.substr(i, eq - i);
    std::size_t end = eq + 1;
    std::string value;
    if (end < list.size() && list[end] == '"') {
      const auto close = list.find('"', end + 1);
      if (close == std::string_view::npos) return std::nullopt;
      value = std::string(list.substr(end + 1, close - end - 1));
      end = close + 1;
    } else {
      const auto comma = list.find(',', end);
      const auto stop = comma == std::string_view::npos ? list.size() : comma;
      value = std::string(list.substr(end, stop - end));
      end = stop;
    }
    if (key == name) return value;
    i = end + 1;  // past the comma
  }
  return std::nullopt;
}

std::optional<std::uint64_t> to_u64(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

// "LENGTH[@OFFSET]"; the offset is nullopt when omitted.
bool parse_byterange(std::string_view s, std::uint64_t& length,
                     std::optional<std::uint64_t>& offset) {
  const auto at = s.find('@');
  const auto len = to_u64(s.substr(0, at));
  if (!len) return false;
  length = *len;
  offset.reset();
  if (at != std::string_view::npos) {
    offset = to_u64(s.substr(at + 1));
    if (!offset) return false;
  }
  return true;
}

std::string object_type_of(std::string_view codecs) {
  auto has = [&](std::initializer_list<std::string_view> names) {
    for (auto n : names) {
      if (codecs.find(n) != std::string_view::npos) return true;
    }
    return false;
  };
  const bool video = has({"avc1", "avc3", "hvc1", "hev1", "av01", "vp09"});
  const bool audio = has({"mp4a", "opus", "ac-3", "ec-3", "fLaC"});
  if (video && audio) return "av";
  if (audio) return "a";
  return "v";
}

Error invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

void url_encode_into(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::int64_t round_to_100(std::int64_t v) { return (v + 50) / 100 * 100; }

}  // namespace

std::string ByteRange::range_header() const {
  return "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1);
}

Result<MasterPlaylist> parse_master_playlist(std::string_view text) {
  const auto lines = lines_of(text);
  if (lines.empty() || lines[0] != "#EXTM3U")
    return invalid("master playlist does not start with #EXTM3U");
  constexpr std::string_view kInf = "#EXT-X-STREAM-INF:";
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!lines[i].starts_with(kInf)) continue;
    const std::string_view attrs = lines[i].substr(kInf.size());
    MasterPlaylist m;
    auto bw = attribute(attrs, "AVERAGE-BANDWIDTH");
    if (!bw) bw = attribute(attrs, "BANDWIDTH");
    if (bw) {
      if (auto v = to_u64(*bw)) m.bandwidth_kbps = static_cast<std::int64_t>(*v / 1000);
    }
    m.object_type = object_type_of(attribute(attrs, "CODECS").value_or(""));
    for (std::size_t j = i + 1; j < lines.size(); ++j) {
      if (lines[j].empty() || lines[j].starts_with("#")) continue;
      m.media_uri = std::string(lines[j]);
      return m;
    }
    return invalid("master playlist has no URI after #EXT-X-STREAM-INF");
  }
  return invalid("master playlist has no #EXT-X-STREAM-INF variant");
}

Result<MediaPlaylist> parse_media_playlist(std::string_view text) {
  const auto lines = lines_of(text);
  if (lines.empty() || lines[0] != "#EXTM3U")
    return invalid("media playlist does not start with #EXTM3U");
  MediaPlaylist p;
  bool have_map = false;
  std::optional<double> duration;
  std::optional<std::pair<std::uint64_t, std::optional<std::uint64_t>>> range;
  std::map<std::string, std::uint64_t, std::less<>> next_offset;  // per URI
  for (std::string_view line : lines) {
    if (line.starts_with("#EXT-X-MAP:")) {
      const std::string_view attrs = line.substr(11);
      const auto uri = attribute(attrs, "URI");
      const auto br = attribute(attrs, "BYTERANGE");
      std::uint64_t len = 0;
      std::optional<std::uint64_t> off;
      if (!uri || !br || !parse_byterange(*br, len, off)) {
        return invalid("media playlist: EXT-X-MAP needs URI and BYTERANGE: " + std::string(line));
      }
      p.init = {*uri, off.value_or(0), len};
      next_offset[*uri] = p.init.offset + len;
      have_map = true;
    } else if (line.starts_with("#EXTINF:")) {
      const std::string v(line.substr(8, line.find(',') - 8));
      char* end = nullptr;
      const double d = std::strtod(v.c_str(), &end);
      if (v.empty() || end != v.c_str() + v.size() || !(d >= 0)) {
        return invalid("media playlist: bad #EXTINF: " + std::string(line));
      }
      duration = d;
    } else if (line.starts_with("#EXT-X-BYTERANGE:")) {
      std::uint64_t len = 0;
      std::optional<std::uint64_t> off;
      if (!parse_byterange(line.substr(17), len, off)) {
        return invalid("media playlist: bad #EXT-X-BYTERANGE: " + std::string(line));
      }
      range.emplace(len, off);
    } else if (!line.empty() && !line.starts_with("#")) {
      if (!duration || !range) {
        return invalid("media playlist: segment " + std::string(line) +
                       " lacks #EXTINF or #EXT-X-BYTERANGE");
      }
      const std::string uri(line);
      const std::uint64_t off = range->second ? *range->second : next_offset[uri];
      p.segments.push_back({{uri, off, range->first}, *duration});
      next_offset[uri] = off + range->first;
      duration.reset();
      range.reset();
    }
  }
  if (!have_map) return invalid("media playlist has no EXT-X-MAP (init section)");
  if (p.segments.empty()) return invalid("media playlist has no segments");
  return p;
}

std::string resolve_uri(std::string_view base, std::string_view uri) {
  if (uri.starts_with("/")) return std::string(uri);
  const std::string_view path = base.substr(0, base.find('?'));
  const auto slash = path.rfind('/');
  return std::string(path.substr(0, slash == std::string_view::npos ? 0 : slash + 1)) +
         std::string(uri);
}

void PlayerBuffer::advance(Clock::time_point now, bool more_to_fetch) {
  if (!playing_) {
    last_ = now;
    return;
  }
  const double drained = std::chrono::duration<double>(now - last_).count() * speed_;
  if (drained < level_s_) {
    level_s_ -= drained;
    last_ = now;
    return;
  }
  const auto dry_at = last_ + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(level_s_ / speed_));
  level_s_ = 0;
  playing_ = false;
  last_ = now;
  if (more_to_fetch) {
    ++stalls_;
    starved_ = true;
    stalled_at_ = dry_at;
  }
}

void PlayerBuffer::add_segment(Clock::time_point now, double duration_s) {
  level_s_ += duration_s;
  if (!playing_) {
    if (stalled_at_) {
      stall_seconds_ += std::chrono::duration<double>(now - *stalled_at_).count();
      stalled_at_.reset();
    }
    playing_ = true;
    started_ = true;
  }
  last_ = now;
}

PlayerBuffer::Clock::duration PlayerBuffer::time_until(double level_s) const {
  if (!playing_ || level_s_ <= level_s) return Clock::duration::zero();
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>((level_s_ - level_s) / speed_));
}

bool PlayerBuffer::take_starved() {
  const bool s = starved_;
  starved_ = false;
  return s;
}

std::string cmcd_query_value(const CmcdFields& f) {
  std::vector<std::string> members;
  if (f.bl_ms) members.push_back("bl=" + std::to_string(round_to_100(*f.bl_ms)));
  if (f.br_kbps) members.push_back("br=" + std::to_string(*f.br_kbps));
  if (f.bs) members.emplace_back("bs");
  if (!f.cid.empty()) members.push_back("cid=" + quoted(f.cid));
  if (f.d_ms) members.push_back("d=" + std::to_string(*f.d_ms));
  if (f.mtp_kbps) members.push_back("mtp=" + std::to_string(round_to_100(*f.mtp_kbps)));
  if (!f.ot.empty()) members.push_back("ot=" + f.ot);
  if (std::fabs(f.pr - 1.0) > 1e-9) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", f.pr);
    std::string pr = buf;
    while (pr.size() > 1 && pr.back() == '0' && pr[pr.size() - 2] != '.') pr.pop_back();
    members.push_back("pr=" + pr);
  }
  members.emplace_back("sf=h");
  if (!f.sid.empty()) members.push_back("sid=" + quoted(f.sid));
  members.emplace_back("st=v");
  if (f.su) members.emplace_back("su");
  std::string raw;
  for (const auto& m : members) raw += (raw.empty() ? "" : ",") + m;
  std::string out;
  url_encode_into(out, raw);
  return out;
}

}  // namespace sg::test
