// Playback of ContentApi: sessions (POST .../playback), HLS playlists and the fMP4 they
// address, the /watch page and the hls.js it loads.
#include <ctime>

#include <boost/json.hpp>

#include "common/http/url.hpp"
#include "common/json_text.hpp"
#include "common/log.hpp"
#include "server/content_api.hpp"
#include "server/file_response.hpp"
#include "server/media/hls_playlist.hpp"
#include "server/media/media_json.hpp"
#include "server/media/player_assets.hpp"
#include "server/routes.hpp"

namespace sg::server {
namespace bhttp = http::bhttp;
namespace json = boost::json;
using http::Response;

namespace {

constexpr std::string_view kPlaylistType = "application/vnd.apple.mpegurl";

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string rfc3339(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string hls_base(std::string_view id) {
  return "/api/v1/content/" + std::string(id) + "/hls/";
}

// The stored reason there is no HLS, or a generic one.
std::string no_hls_reason(const MediaInfo& media) {
  boost::system::error_code ec;
  const json::value v = json::parse(media.stream_json, ec);
  if (!ec && v.is_object()) {
    const json::value* hls = v.get_object().if_contains("hls");
    const json::value* reason = hls && hls->is_object() ? hls->get_object().if_contains("reason") : nullptr;
    if (reason != nullptr && reason->is_string()) return std::string(reason->get_string());
  }
  return "the media was stored before HLS existed; upload it again";
}

Response no_hls(std::string_view id, const std::optional<MediaInfo>& media) {
  if (!media) {
    return http::json_error(bhttp::status::not_found, "not_found",
                            "content " + std::string(id) + " has no media");
  }
  return http::json_error(bhttp::status::conflict, "hls_unavailable",
                          "content " + std::string(id) + " has no HLS: " + no_hls_reason(*media));
}

Response stream_limit(const media::Admission& a) {
  Response r = http::json_error(bhttp::status::service_unavailable, "stream_limit_reached",
                                "the number of active playback sessions is at its limit; retry in " +
                                    std::to_string(a.retry_after.count()) + " s");
  r.msg.set(bhttp::field::retry_after, std::to_string(a.retry_after.count()));
  return r;
}

// The token query parameter ("" when absent); nullopt when the query is malformed.
std::optional<std::string> token_param(std::string_view query) {
  auto params = http::parse_query(query);
  if (!params) return std::nullopt;
  std::string token;
  for (const auto& [k, v] : *params) {
    if (k == "token") token = v;
  }
  return token;
}

}  // namespace

Response ContentApi::playback_start(std::string_view id, const http::RequestContext& ctx) {
  auto item = storage_.get(id);
  if (!item) return failed(item.error(), ctx);
  if (!item->media || item->media->hls_file.empty()) return no_hls(id, item->media);
  json::object o;
  o["content_id"] = id;
  o["title"] = item->fields.title;
  o["signed"] = signer_.has_value();
  std::string query;
  if (signer_) {
    const media::Admission a = sessions_.would_admit();
    if (!a.admitted) {
      metrics_.sessions_refused.inc();
      return stream_limit(a);
    }
    const std::int64_t expires = unix_now() + opts_.playback_ttl.count();
    const std::string token = signer_->sign(id, expires);
    query = "?token=" + token;
    o["token"] = token;
    o["expires_at"] = rfc3339(expires);
    o["expires_in_seconds"] = opts_.playback_ttl.count();
  } else {
    o["token"] = nullptr;
    o["expires_at"] = nullptr;
  }
  o["master_url"] = hls_base(id) + "master.m3u8" + query;
  o["media_url"] = hls_base(id) + "media.m3u8" + query;
  Response r = http::json_response(o);
  r.msg.set(bhttp::field::cache_control, "no-store");
  return r;
}

std::optional<Response> ContentApi::admit_playback(std::string_view id, std::string_view query,
                                                   std::string_view kind,
                                                   std::optional<media::PlaybackClaims>& claims) {
  if (!signer_) return std::nullopt;
  auto count = [&](std::string_view result) { metrics_.hls_requests.with({kind, result}).inc(); };
  const auto token = token_param(query);
  media::PlaybackClaims c;
  const media::TokenCheck check =
      token ? signer_->verify(*token, id, unix_now(), c) : media::TokenCheck::kMalformed;
  switch (check) {
    case media::TokenCheck::kValid:
      break;
    case media::TokenCheck::kMissing:
      count("missing_token");
      return http::json_error(bhttp::status::forbidden, "missing_token",
                              "playback needs a token: POST /api/v1/content/" + std::string(id) +
                                  "/playback for signed URLs");
    case media::TokenCheck::kExpired:
      count("expired");
      return http::json_error(bhttp::status::gone, "token_expired",
                              "the playback token has expired; start a new playback session");
    default:
      count("bad_token");
      return http::json_error(bhttp::status::forbidden, "invalid_token",
                              "the playback token is not valid for this content (" +
                                  std::string(media::token_check_name(check)) + ")");
  }
  const media::Admission a = sessions_.touch(c.session);
  if (!a.admitted) {
    count("stream_limit");
    metrics_.sessions_refused.inc();
    return stream_limit(a);
  }
  if (a.new_session) metrics_.sessions_started.inc();
  claims = std::move(c);
  return std::nullopt;
}

Response ContentApi::hls_get(const http::Request& req, const RouteMatch& m, std::string_view query,
                            const http::RequestContext& ctx) {
  const bool file = m.route == routes::kHlsFile;
  const std::string_view kind = file ? "segment" : "playlist";
  auto count = [&](std::string_view result) { metrics_.hls_requests.with({kind, result}).inc(); };
  std::optional<media::PlaybackClaims> claims;
  if (auto denied = admit_playback(m.id, query, kind, claims)) return std::move(*denied);
  auto item = storage_.get(m.id);
  if (!item) {
    count(item.error().code == ErrorCode::kNotFound ? "not_found" : "error");
    return failed(item.error(), ctx);
  }
  if (!item->media || item->media->hls_file.empty()) {
    count("no_hls");
    return no_hls(m.id, item->media);
  }
  if (file) return hls_file(req, *item->media, m.file, claims, ctx);
  auto index = media::parse_hls_index(item->media->hls_index_json);
  if (!index) {
    count("error");
    log::error("cannot render a playlist", {{"id", m.id}, {"error", index.error().message}});
    return failed(index.error(), ctx);
  }
  // Relative URIs keep the token: they resolve against this playlist's URL.
  const std::string suffix = claims ? "?token=" + std::string(token_param(query).value_or("")) : "";
  Response r;
  r.msg.set(bhttp::field::content_type, kPlaylistType);
  r.msg.set(bhttp::field::cache_control, claims ? "private, no-cache" : "no-cache");
  r.msg.body() = m.route == routes::kMaster
                     ? media::render_multivariant_playlist(*index, "media.m3u8" + suffix)
                     : media::render_media_playlist(*index, item->media->hls_file + suffix);
  count("ok");
  return r;
}

Response ContentApi::hls_file(const http::Request& req, const MediaInfo& media,
                              std::string_view file,
                              const std::optional<media::PlaybackClaims>& claims,
                              const http::RequestContext& ctx) {
  auto count = [&](std::string_view result) { metrics_.hls_requests.with({"segment", result}).inc(); };
  if (file != media.hls_file) {
    count("not_found");
    return http::json_error(bhttp::status::not_found, "not_found",
                            "no such HLS file; the media may have been replaced: reload the playlist");
  }
  std::uint64_t size = 0;
  auto fd = media_.open(media.hls_file, size);
  if (!fd) {
    count(fd.error().code == ErrorCode::kNotFound ? "not_found" : "error");
    return failed(fd.error(), ctx);
  }
  Response r = ranged_file_response(req, std::move(*fd), size, "\"" + media.hls_file + "\"", "video/mp4");
  // The file behind this URL never changes; a signed URL is one viewer's until it expires.
  const std::int64_t left = claims ? std::max<std::int64_t>(0, claims->expires_at - unix_now()) : 0;
  r.msg.set(bhttp::field::cache_control,
            claims ? "private, max-age=" + std::to_string(left) + ", immutable"
                   : std::string("public, max-age=31536000, immutable"));
  const unsigned code = r.msg.result_int();
  count(code == 304 ? "not_modified" : code < 400 ? "ok" : "error");
  return r;
}

Response ContentApi::watch_page(std::string_view id, const http::RequestContext& ctx) {
  auto item = storage_.get(id);
  if (!item) return failed(item.error(), ctx);
  Response r;
  r.msg.set(bhttp::field::content_type, "text/html; charset=utf-8");
  r.msg.set(bhttp::field::cache_control, "no-cache");
  media::WatchPage page = media::watch_page(id);
  r.msg.set("Content-Security-Policy", page.content_security_policy);
  r.msg.body() = std::move(page.html);
  return r;
}

Response ContentApi::static_asset(const RouteMatch& m) {
  const std::string expected = "hls.js/" + std::string(media::hls_js_version()) + "/hls.min.js";
  if (m.file != expected) {
    return http::json_error(bhttp::status::not_found, "not_found",
                            "no static asset " + std::string(m.file) + " (this build serves " +
                                expected + ")");
  }
  Response r;
  r.msg.set(bhttp::field::content_type, "text/javascript; charset=utf-8");
  r.msg.set(bhttp::field::cache_control, "public, max-age=31536000, immutable");
  r.msg.set("X-Content-Type-Options", "nosniff");
  r.msg.body() = std::string(media::hls_js());
  return r;
}

}  // namespace sg::server
