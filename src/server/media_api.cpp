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
                  std::unique_ptr<MediaUpload> upload, http::RequestContext ctx)
      : api_(api),
        id_(std::move(id)),
        content_type_(std::move(content_type)),
        upload_(std::move(upload)),
        ctx_(std::move(ctx)) {}

  Status write(std::string_view chunk) override {
    Status st = upload_->write(chunk);
    if (!st && http::status_for(st.error().code) >= bhttp::status::internal_server_error) {
      // The disk's message names the media dir: it goes to the log, not to the client.
      log::error("media upload failed",
                 {{"request_id", ctx_.request_id}, {"id", id_}, {"error", st.error().message}});
      return make_error(st.error().code,
                        "writing the media failed (request id " + ctx_.request_id + ")");
    }
    return st;
  }

  Response finish() override {
    Response r = commit();
    r.route = "/api/v1/content/{id}/media";
    return r;
  }

 private:
  Response commit() {
    auto info = upload_->commit(content_type_);
    if (!info) return api_.failed(info.error(), ctx_);
    // Probe and remux once, now, so every replica can serve HLS from the shared media dir.
    media::StreamingRecord streaming =
        media::prepare_streaming(api_.media_, info->file, api_.opts_.analysis);
    info->stream_json = std::move(streaming.stream_json);
    info->hls_file = std::move(streaming.hls_file);
    info->hls_index_json = std::move(streaming.hls_index_json);
    auto changed = api_.storage_.set_media(id_, *info, log::now_rfc3339());
    if (!changed) {
      if (changed.error().outcome_unknown) {
        // The row may point to the new files (the commit may have happened) or still to the
        // old ones: delete neither. The start-up sweep removes whichever ends up unreferenced.
        log::warn("media change committed or not, unknown: keeping both files",
                  {{"request_id", ctx_.request_id}, {"id", id_}, {"file", info->file}});
      } else {
        // Not recorded (the item vanished, say): keep no orphan.
        api_.media_.remove(info->file);
        if (!info->hls_file.empty()) api_.media_.remove(info->hls_file);
      }
      return api_.failed(changed.error(), ctx_);
    }
    // The file this upload replaced, as the same transaction saw it: with two uploads racing
    // on one item, each removes the one it replaced and the winner's stays. The commit is
    // durable once set_media returned (storage.hpp), so the old file may go now.
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
  http::RequestContext ctx_;
};

std::variant<std::unique_ptr<http::BodySink>, Response> ContentApi::open_sink(
    const http::RequestHeader& head, const http::RequestContext& ctx) {
  std::string_view id;
  const auto route = match_route(http::split_target(head.target()).path, id);
  auto fail = [&](Response r) {
    r.route = route;
    return r;
  };
  // admit() refused a missing token and an announced size over the limit already; the
  // token is checked again here, where the write starts.
  if (auto denied = check_write_auth(head)) return fail(std::move(*denied));
  auto item = storage_.get(id);
  if (!item) return fail(failed(item.error(), ctx));
  auto upload = media_.begin(id, opts_.max_media_bytes);
  if (!upload) return fail(failed(upload.error(), ctx));
  return std::make_unique<MediaUploadSink>(*this, std::string(id),
                                           sanitize_content_type(head[bhttp::field::content_type]),
                                           std::move(*upload), ctx);
}

Response ContentApi::media_get(const http::Request& req, std::string_view id,
                               const http::RequestContext& ctx) {
  auto item = storage_.get(id);
  if (!item) return failed(item.error(), ctx);
  if (!item->media) {
    return http::json_error(bhttp::status::not_found, "not_found",
                            "content " + std::string(id) + " has no media");
  }
  std::uint64_t size = 0;
  auto fd = media_.open(item->media->file, size);
  if (!fd) return failed(fd.error(), ctx);
  return ranged_file_response(req, std::move(*fd), size, "\"" + item->media->sha256 + "\"",
                              item->media->content_type);
}

}  // namespace sg::server
