#include "server/content_json.hpp"
#include "common/json_text.hpp"

#include <boost/json.hpp>
#include <cmath>
#include <set>

namespace sg::server {
namespace json = boost::json;
namespace {

constexpr std::size_t kMaxTitle = 512;
constexpr std::size_t kMaxDescription = 16 * 1024;
constexpr std::size_t kMaxTags = 32;
constexpr std::size_t kMaxTag = 64;
constexpr std::size_t kMaxMetadata = 64 * 1024;
constexpr double kMaxDuration = 1e7;

Error invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

Result<json::object> parse_object(std::string_view body) {
  json::parse_options opts;
  opts.max_depth = 32;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec, {}, opts);
  if (ec) return invalid("request body is not valid JSON: " + ec.message());
  if (!v.is_object()) return invalid("request body must be a JSON object");
  return std::move(v.as_object());
}

bool is_read_only_field(std::string_view key) {
  return key == "id" || key == "revision" || key == "created_at" || key == "updated_at" ||
         key == "media";
}

// Sets the field `key` of `out` from `value`; an error names the field and the rule broken.
Status set_field(ContentFields& out, std::string_view key, const json::value& value) {
  if (key == "title") {
    if (!value.is_string()) return invalid("field 'title' must be a string");
    const auto& s = value.get_string();
    if (s.empty() || s.size() > kMaxTitle) return invalid("field 'title' must be 1..512 bytes");
    out.title.assign(s.data(), s.size());
  } else if (key == "description") {
    if (!value.is_string()) return invalid("field 'description' must be a string");
    const auto& s = value.get_string();
    if (s.size() > kMaxDescription)
      return invalid("field 'description' must be at most 16384 bytes");
    out.description.assign(s.data(), s.size());
  } else if (key == "tags") {
    if (!value.is_array()) return invalid("field 'tags' must be an array of strings");
    const auto& arr = value.get_array();
    if (arr.size() > kMaxTags) return invalid("field 'tags' may hold at most 32 tags");
    std::vector<std::string> tags;
    std::set<std::string, std::less<>> seen;
    for (const auto& t : arr) {
      if (!t.is_string()) return invalid("field 'tags' must be an array of strings");
      const auto& s = t.get_string();
      if (s.empty() || s.size() > kMaxTag) return invalid("each tag must be 1..64 bytes");
      std::string tag(s.data(), s.size());
      if (!seen.insert(tag).second) return invalid("duplicate tag '" + tag + "'");
      tags.push_back(std::move(tag));
    }
    out.tags = std::move(tags);
  } else if (key == "duration_seconds") {
    if (!value.is_number()) return invalid("field 'duration_seconds' must be a number");
    const double d = value.to_number<double>();
    if (!std::isfinite(d) || d < 0 || d > kMaxDuration) {
      return invalid("field 'duration_seconds' must be between 0 and 10000000");
    }
    out.duration_seconds = d;
  } else if (key == "metadata") {
    if (!value.is_object()) return invalid("field 'metadata' must be a JSON object");
    std::string s = json_text(value);
    if (s.size() > kMaxMetadata) return invalid("field 'metadata' must be at most 65536 bytes");
    out.metadata_json = std::move(s);
  } else if (!is_read_only_field(key)) {
    return invalid("unknown field '" + std::string(key) +
                   "' (expected title, description, tags, duration_seconds, metadata)");
  }
  return Status::ok();
}

// "probe" and "hls" from the stored streaming summary (media/media_json.hpp), plus where to
// start playback when there is HLS.
void add_stream_fields(const Content& item, json::object& m) {
  boost::system::error_code ec;
  json::value v = item.media->stream_json.empty() ? json::value() : json::parse(item.media->stream_json, ec);
  json::object* summary = ec ? nullptr : v.if_object();
  if (summary == nullptr || !summary->contains("hls")) {
    m["probe"] = nullptr;
    m["hls"] = json::object{{"available", false},
                            {"reason", "the media was stored before HLS existed; upload it again"}};
    return;
  }
  m["probe"] = (*summary)["probe"];
  json::value hls = (*summary)["hls"];
  if (hls.is_object() && !item.media->hls_file.empty()) {
    hls.as_object()["playback_url"] = "/api/v1/content/" + item.id + "/playback";
    hls.as_object()["watch_url"] = "/watch/" + item.id;
  }
  m["hls"] = std::move(hls);
}

}  // namespace

Result<ContentFields> parse_content_fields(std::string_view body) {
  auto obj = parse_object(body);
  if (!obj) return obj.error();
  ContentFields fields;
  bool has_title = false;
  for (const auto& kv : *obj) {
    if (kv.key() == "title") has_title = true;
    if (Status st = set_field(fields, kv.key(), kv.value()); !st) return st.error();
  }
  if (!has_title) return invalid("field 'title' is required");
  return fields;
}

Result<ContentFields> apply_content_patch(std::string_view body, const ContentFields& current) {
  auto obj = parse_object(body);
  if (!obj) return obj.error();
  ContentFields fields = current;
  for (const auto& kv : *obj) {
    if (Status st = set_field(fields, kv.key(), kv.value()); !st) return st.error();
  }
  return fields;
}

std::string content_to_json(const Content& item) {
  json::object o;
  o["id"] = item.id;
  o["title"] = item.fields.title;
  o["description"] = item.fields.description;
  json::array tags;
  for (const auto& t : item.fields.tags) tags.emplace_back(t);
  o["tags"] = std::move(tags);
  o["duration_seconds"] = item.fields.duration_seconds;
  boost::system::error_code ec;
  json::value meta = json::parse(item.fields.metadata_json, ec);
  o["metadata"] = (ec || !meta.is_object()) ? json::value(json::object()) : std::move(meta);
  o["revision"] = item.revision;
  o["created_at"] = item.created_at;
  o["updated_at"] = item.updated_at;
  if (item.media) {
    json::object m;
    m["size"] = item.media->size;
    m["sha256"] = item.media->sha256;
    m["content_type"] = item.media->content_type;
    m["url"] = "/api/v1/content/" + item.id + "/media";
    add_stream_fields(item, m);
    o["media"] = std::move(m);
  } else {
    o["media"] = nullptr;
  }
  return json_text(o);
}

std::string etag_for_revision(std::int64_t revision) {
  return "\"" + std::to_string(revision) + "\"";
}

}  // namespace sg::server
