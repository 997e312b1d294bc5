// Media upload (streamed to the MediaStore) and download (sendfile, Range) of ContentApi.
#include <charconv>

#include "common/http/url.hpp"
#include "common/log.hpp"
#include "server/content_api.hpp"
#include "server/content_json.hpp"
#include "server/file_response.hpp"
#include "server/media/hls_rendition.hpp"

namespace sg::server {
namespace bhttp = http::bhttp;
using http::Response;

namespace {

// A Content-Type worth recording: type/subtype with token characters and optional params,
// bounded in size. Anything else is stored as application/octet-stream.
std::string sanitize_content_type(std::string_view v) {
  if (v.empty() || v.size() > 128 || v.find('/') == std::string_view::npos) {
    return "application/octet-stream";
  }
  for (char c : v) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) {
      return "application/octet-stream";
    }
  }
  return std::string(v);
}

}  // namespace

// Streams one upload into a MediaUpload, then records it on the item.
class MediaUploadSink final : public http::BodySink {
 public:
  MediaUploadSink(ContentApi& api, std::string id, std::string content_type,
                  std::unique_ptr<MediaUpload> upload)
      : api_(api),
        id_(std::move(id)),
        content_type_(std::move(content_type)),
        upload_(std::move(upload)) {}

  Status write(std::string_view chunk) override { return upload_->write(chunk); }

  Response finish() override {
    Response r = commit();
    r.route = "/api/v1/content/{id}/media";
    return r;
  }

 private:
  Response commit() {
    auto info = upload_->commit(content_type_);
    if (!info) return http::error_response(info.error());
    // Probe and remux once, now, so every replica can serve HLS from the shared media dir.
    media::StreamingRecord streaming =
        media::prepare_streaming(api_.media_, info->file, api_.opts_.analysis);
    info->stream_json = std::move(streaming.stream_json);
    info->hls_file = std::move(streaming.hls_file);
    info->hls_index_json = std::move(streaming.hls_index_json);
    auto changed = api_.storage_.set_media(id_, *info, log::now_rfc3339());
    if (!changed) {
      // The item vanished meanwhile: keep no orphan.
      api_.media_.remove(info->file);
      if (!info->hls_file.empty()) api_.media_.remove(info->hls_file);
      return http::error_response(changed.error());
    }
    // The file this upload replaced, as the same transaction saw it: with two uploads racing
    // on one item, each removes the one it replaced and the winner's stays.
    if (changed->previous && changed->previous->file != info->file) {
      api_.media_.remove(changed->previous->file);
      if (!changed->previous->hls_file.empty()) api_.media_.remove(changed->previous->hls_file);
    }
    api_.invalidate(id_);
    api_.metrics_.media_bytes_received.inc(info->size);
    return api_.item_response(changed->item, bhttp::status::ok);
  }

  ContentApi& api_;
  std::string id_;
  std::string content_type_;
  std::unique_ptr<MediaUpload> upload_;
};

std::variant<std::unique_ptr<http::BodySink>, Response> ContentApi::open_sink(
    const http::RequestHeader& head, const http::RequestContext&) {
  std::string_view id;
  const auto route = match_route(http::split_target(head.target()).path, id);
  auto fail = [&](Response r) {
    r.route = route;
    return r;
  };
  if (auto denied = check_write_auth(head)) return fail(std::move(*denied));
  if (auto cl = head.find(bhttp::field::content_length); cl != head.end()) {
    std::uint64_t n = 0;
    auto v = cl->value();
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec == std::errc() && p == v.data() + v.size() && n > opts_.max_media_bytes) {
      return fail(http::json_error(bhttp::status::payload_too_large, "too_large",
                                   "media of " + std::to_string(n) +
                                       " bytes exceeds the limit of " +
                                       std::to_string(opts_.max_media_bytes)));
    }
  }
  auto item = storage_.get(id);
  if (!item) return fail(http::error_response(item.error()));
  auto upload = media_.begin(id, opts_.max_media_bytes);
  if (!upload) return fail(http::error_response(upload.error()));
  return std::make_unique<MediaUploadSink>(*this, std::string(id),
                                           sanitize_content_type(head[bhttp::field::content_type]),
                                           std::move(*upload));
}

Response ContentApi::media_get(const http::Request& req, std::string_view id) {
  auto item = storage_.get(id);
  if (!item) return http::error_response(item.error());
  if (!item->media) {
    return http::json_error(bhttp::status::not_found, "not_found",
                            "content " + std::string(id) + " has no media");
  }
  std::uint64_t size = 0;
  auto fd = media_.open(item->media->file, size);
  if (!fd) return http::error_response(fd.error());
  return ranged_file_response(req, std::move(*fd), size, "\"" + item->media->sha256 + "\"",
                              item->media->content_type);
}

}  // namespace sg::server
