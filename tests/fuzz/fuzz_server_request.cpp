// libFuzzer target: the request path of streamgate-server without sockets.
//
// The input is what a client wrote on one connection: zero or more pipelined HTTP/1.x
// requests. Each is parsed with Beast exactly as src/common/http/http_server.cpp does (head
// first with the server's 16 KiB header limit, the Host rules, ContentApi::admit may refuse it
// from the head, then ContentApi::plan_body decides between a buffered body that grows with
// the bytes that arrived and a body streamed to a BodySink in chunks), handed to ContentApi
// (handle_nonblocking first, then handle),
// "sent" and reported through on_complete. The loop ends when the bytes run out, on a parse
// error, or when the server would close the connection.
//
// State: SQLite in memory, the in-process cache and a MediaStore in a temp dir created once
// per process. Three fixture items with known ids ("item-1" has media with an HLS index over
// the fixture file, so playlists and segments are served) exist at the start of every input;
// playback is signed with the key kFuzzKey (seeds carry tokens valid until 2100) and the
// session cap is 2, with the sessions forgotten before every input; after an input that sent any method other than GET/HEAD the whole state
// is rebuilt, so an input's outcome does not depend on the inputs before it and the
// database cannot grow without bound.
//
// SG_FUZZ_VERBOSE=1 keeps the access log (stdout); SG_FUZZ_TRACE=1 prints one line per
// exchange on stderr.
//
// Invariants (a violation prints what failed and traps):
//   - every response status is 100..599;
//   - every 4xx/5xx response carries a JSON body {"error":{"code":STRING,"message":STRING}};
//   - every other application/json body parses; JSON bodies are well-formed UTF-8;
//   - a response with a FileSlice has offset + length within the file's size;
//   - a playlist (application/vnd.apple.mpegurl) starts with #EXTM3U and its URI lines are
//     relative (no scheme, no leading '/', no quote);
//   - no response header value contains CR, LF or NUL (response splitting);
//   - no exception escapes the handler (the server would turn it into a 500; errors from
//     bad input must be values);
//   - admit() refuses only with an error status; a buffered body never holds more than twice
//     the bytes that arrived (nor more than its Content-Length).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/http/growing_body.hpp"
#include "common/http/host_rules.hpp"
#include "common/http/http_types.hpp"
#include "common/log.hpp"
#include "common/metrics.hpp"
#include "server/cache/cache.hpp"
#include "server/content_api.hpp"
#include "server/media/media_json.hpp"
#include "server/media/playback_token.hpp"
#include "server/media/stream_sessions.hpp"
#include "server/media_store.hpp"
#include "server/server_metrics.hpp"
#include "server/storage/storage.hpp"

namespace {

namespace fs = std::filesystem;
namespace beast = boost::beast;
namespace bhttp = sg::http::bhttp;
namespace json = boost::json;
using error_code = boost::system::error_code;
using sg::http::BodyPlan;
using sg::http::Response;

constexpr const char* kToken = "fuzz-token-123";
constexpr std::uint32_t kHeaderLimit = 16 * 1024;  // ServerOptions::header_limit default
// Smaller than the server's 256 KiB so inputs of a few KiB still arrive in several chunks.
constexpr std::size_t kUploadChunk = 512;
// Limits small enough for libFuzzer's default -max_len (4096) to cross them.
constexpr std::uint64_t kMaxBodyBytes = 2048;
constexpr std::uint64_t kMaxMediaBytes = 1024;
constexpr std::string_view kMediaItem = "item-1";
constexpr std::string_view kFixtureMedia = "0123456789abcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kFixtureHls = "item-1.fixture.hls.mp4";  // same bytes as the media
constexpr const char* kFuzzKey = "fz:fuzz-playback-secret-0123456789abcdef";

// The fixture's HLS index: an 8-byte init section and two segments of the fixture file.
std::string fixture_hls_index() {
  sg::server::media::HlsIndex x;
  x.init_length = 8;
  x.segments = {{4.0, 8, 14}, {2.5, 22, 14}};
  x.codecs = "avc1.64000d,mp4a.40.2";
  x.width = 320;
  x.height = 240;
  x.frame_rate = 25;
  x.has_video = true;
  x.peak_bandwidth = 28;
  x.average_bandwidth = 25;
  return sg::server::media::hls_index_json(x);
}

// Stream sessions that start empty for every input (so no input depends on earlier ones).
class FreshSessions final : public sg::server::media::StreamSessions {
 public:
  void reset() { inner_ = std::make_unique<sg::server::media::MemorySessions>(limits()); }
  sg::server::media::Admission touch(std::string_view s) override { return inner_->touch(s); }
  sg::server::media::Admission would_admit() override { return inner_->would_admit(); }
  std::size_t active() override { return inner_->active(); }
  std::string_view backend() const override { return "memory"; }

 private:
  static sg::server::media::SessionLimits limits() {
    sg::server::media::SessionLimits l;
    l.max_sessions = 2;
    return l;
  }
  std::unique_ptr<sg::server::media::MemorySessions> inner_ =
      std::make_unique<sg::server::media::MemorySessions>(limits());
};

[[noreturn]] void violation(const std::string& what, const std::string& detail) {
  std::fprintf(stderr, "\n*** fuzz_server_request invariant violated: %s\n%s\n", what.c_str(),
               detail.c_str());
  std::fflush(stderr);
  __builtin_trap();
}

template <class T>
T must(sg::Result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "fuzz_server_request setup failed: %s: %s\n", what,
                 r.error().message.c_str());
    std::abort();
  }
  return std::move(*r);
}

// Storage, cache, media and the handler under test; rebuilt by reset().
class World {
 public:
  World() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/sg-fuzz-request-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    dir_ = tmpl;
    media_ = std::make_unique<sg::server::MediaStore>(dir_ / "media");
    if (sg::Status st = media_->init(); !st) {
      std::fprintf(stderr, "media dir: %s\n", st.error().message.c_str());
      std::abort();
    }
    auto upload = must(media_->begin(kMediaItem, kMaxMediaBytes), "begin fixture media");
    if (!upload->write(kFixtureMedia)) std::abort();
    fixture_media_ = must(upload->commit("video/mp4"), "commit fixture media");
    fixture_media_.stream_json = R"({"probe":null,"hls":{"available":true,"segments":2}})";
    fixture_media_.hls_file = std::string(kFixtureHls);
    fixture_media_.hls_index_json = fixture_hls_index();
    reset();
  }
  ~World() {
    api_.reset();
    storage_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  sg::server::ContentApi& api() { return *api_; }
  void new_input() { sessions_.reset(); }
  bool dirty = false;

  void reset() {
    api_.reset();
    storage_ = sg::server::instrument_storage(
        must(sg::server::open_storage("sqlite::memory:", sg::server::StorageOptions{}), "storage"),
        metrics_);
    cache_ = must(sg::server::open_cache("memory", sg::server::CacheOptions{}), "cache");
    reset_media_dir();
    add_fixture("item-1", "Fixture with media", {"news", "sport"});
    add_fixture("item-2", "Second fixture", {"news"});
    add_fixture("00000000-0000-4000-8000-000000000003", "Third fixture", {});
    if (!storage_->set_media(kMediaItem, fixture_media_, "2026-01-01T00:00:00.000Z")) std::abort();
    sg::server::ApiOptions opts;
    opts.version_label = "v-fuzz";
    opts.api_tokens = {kToken};
    opts.max_body_bytes = kMaxBodyBytes;
    opts.max_media_bytes = kMaxMediaBytes;
    opts.playback_keys = must(sg::server::media::parse_playback_keys(kFuzzKey), "playback keys");
    api_ = std::make_unique<sg::server::ContentApi>(opts, *storage_, *cache_, *media_, metrics_,
                                                    &sessions_);
    dirty = false;
  }

 private:
  void add_fixture(std::string id, std::string title, std::vector<std::string> tags) {
    sg::server::Content c;
    c.id = std::move(id);
    c.fields.title = std::move(title);
    c.fields.tags = std::move(tags);
    c.fields.duration_seconds = 12.5;
    c.created_at = c.updated_at = "2026-01-01T00:00:00.000Z";
    must(storage_->create(c), "create fixture");
  }

  // Leaves only the fixture media file and its HLS file (uploads and deletes of earlier
  // inputs are undone).
  void reset_media_dir() {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(media_->dir(), ec)) {
      const auto name = entry.path().filename();
      if (name != fixture_media_.file && name != kFixtureHls) fs::remove_all(entry.path(), ec);
    }
    for (const fs::path& file : {media_->dir() / fixture_media_.file, media_->dir() / kFixtureHls}) {
      if (fs::file_size(file, ec) != kFixtureMedia.size() || ec) {
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out.write(kFixtureMedia.data(), static_cast<std::streamsize>(kFixtureMedia.size()));
      }
    }
  }

  fs::path dir_;
  sg::metrics::Registry registry_;
  sg::server::ServerMetrics metrics_{registry_, "v-fuzz"};
  std::unique_ptr<sg::server::MediaStore> media_;
  sg::server::MediaInfo fixture_media_;
  std::unique_ptr<sg::server::Storage> storage_;
  std::unique_ptr<sg::server::Cache> cache_;
  FreshSessions sessions_;
  std::unique_ptr<sg::server::ContentApi> api_;
};

World& world() {
  static World* w = [] {
    // Access logs go to stdout; keep the fuzzer's terminal readable unless asked.
    if (std::getenv("SG_FUZZ_VERBOSE") == nullptr) {
      const int devnull = ::open("/dev/null", O_WRONLY);
      if (devnull >= 0) ::dup2(devnull, STDOUT_FILENO);
    }
    static World instance;
    return &instance;
  }();
  return *w;
}

// SG_FUZZ_TRACE=1 prints one line per exchange on stderr (for checking seeds).
bool trace() {
  static const bool on = std::getenv("SG_FUZZ_TRACE") != nullptr;
  return on;
}

// ---- invariants -------------------------------------------------------------------------

std::string describe(const Response& res) {
  std::string s = "status " + std::to_string(res.msg.result_int()) + ", route " +
                  std::string(res.route) + "\nbody: " + res.msg.body().substr(0, 512);
  return s;
}

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = byte(0);
  if (c < 0x80) return 1;
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size() || byte(1) < lo || byte(1) > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    if ((byte(k) & 0xC0) != 0x80) return 0;
  }
  return len;
}

// Offset of the first byte that is not well-formed UTF-8, or npos.
std::size_t first_bad_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_length(s, i);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

// SG_FUZZ_ALLOW_BAD_UTF8=1 stops reporting ill-formed UTF-8 in JSON bodies (a known bug, see
// crashers/README.md) so a run can look for other problems; such bytes are then replaced
// before the body is parsed.
std::string json_text_of(const Response& res) {
  std::string body = res.msg.body();
  static const bool allow_bad = std::getenv("SG_FUZZ_ALLOW_BAD_UTF8") != nullptr;
  for (std::size_t bad = first_bad_utf8(body); bad != std::string::npos;
       bad = first_bad_utf8(body)) {
    if (!allow_bad) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned char>(body[bad]));
      violation("JSON body is not well-formed UTF-8", "first bad byte " + std::string(hex) +
                                                          " at offset " + std::to_string(bad) +
                                                          "\n" + describe(res));
    }
    body[bad] = '?';
  }
  return body;
}

bool is_json(const Response& res) {
  return res.msg[bhttp::field::content_type].starts_with("application/json");
}

void check_json_body(const Response& res) {
  error_code ec;
  json::value v = json::parse(json_text_of(res), ec);
  if (ec) violation("application/json body does not parse: " + ec.message(), describe(res));
}

void check_error_body(const Response& res) {
  error_code ec;
  json::value v = json::parse(json_text_of(res), ec);
  const json::object* o = ec ? nullptr : v.if_object();
  const json::value* err = o ? o->if_contains("error") : nullptr;
  const json::object* eo = err ? err->if_object() : nullptr;
  const json::value* code = eo ? eo->if_contains("code") : nullptr;
  const json::value* message = eo ? eo->if_contains("message") : nullptr;
  if (!code || !code->is_string() || !message || !message->is_string()) {
    violation("4xx/5xx response without a JSON {\"error\":{\"code\",\"message\"}} body",
              describe(res));
  }
}

void check_file_slice(const Response& res) {
  const sg::http::FileSlice& f = *res.file;
  struct stat st {};
  if (::fstat(f.fd.get(), &st) != 0) violation("FileSlice with an unusable fd", describe(res));
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (f.offset > size || f.length > size - f.offset) {
    violation("FileSlice outside the file", "offset " + std::to_string(f.offset) + " length " +
                                                std::to_string(f.length) + " file size " +
                                                std::to_string(size) + "\n" + describe(res));
  }
}

void check_playlist(const Response& res) {
  const std::string& body = res.msg.body();
  if (!body.starts_with("#EXTM3U\n")) violation("playlist does not start with #EXTM3U", describe(res));
  std::size_t start = 0;
  while (start < body.size()) {
    const std::size_t end = body.find('\n', start);
    const std::string_view line(body.data() + start, (end == std::string::npos ? body.size() : end) - start);
    if (!line.empty() && line[0] != '#' &&
        (line[0] == '/' || line.find("://") != std::string_view::npos ||
         line.find_first_of("\"\r ") != std::string_view::npos)) {
      violation("playlist URI is not a plain relative URI: " + std::string(line), describe(res));
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
}

void check_response(const Response& res) {
  const unsigned code = res.msg.result_int();
  if (code < 100 || code > 599) violation("status outside 100..599", describe(res));
  if (code >= 400) {
    check_error_body(res);
  } else if (is_json(res) && !res.file) {
    check_json_body(res);
  }
  if (res.file) check_file_slice(res);
  if (res.msg[bhttp::field::content_type] == "application/vnd.apple.mpegurl") check_playlist(res);
  for (const auto& field : res.msg) {
    const std::string_view value = field.value();
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
      violation("CR, LF or NUL in response header " + std::string(field.name_string()),
                describe(res));
    }
  }
}

template <class F>
auto no_throw(const char* where, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    violation(std::string("exception escaped ") + where, e.what());
  }
}

// ---- one connection ---------------------------------------------------------------------

// The unread bytes of the connection.
struct Wire {
  std::string_view bytes;
};

bool is_parse_error(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message &&
         ec != bhttp::error::need_buffer;
}

// http_server.cpp's read_error_response (minus the timeout case, which needs a clock).
std::optional<Response> read_error_response(const error_code& ec) {
  if (ec == bhttp::error::header_limit) {
    return sg::http::json_error(bhttp::status::request_header_fields_too_large, "header_too_large",
                                "request line and headers exceed the header size limit");
  }
  if (ec == bhttp::error::body_limit) {
    return sg::http::json_error(bhttp::status::payload_too_large, "too_large",
                                "request body exceeds the size limit for this route");
  }
  if (is_parse_error(ec)) {
    return sg::http::json_error(bhttp::status::bad_request, "bad_request",
                                "malformed HTTP request: " + ec.message());
  }
  return std::nullopt;
}

// Feeds the wire to `parser` the way beast::http::read / read_header do over a stream that
// ends where the input ends, until `done(parser)`, an error, or (buffer_body) a full body
// buffer (need_buffer). Running out of bytes is the end of the stream: put_eof decides.
template <class Parser, class Done>
error_code feed(Parser& parser, Wire& wire, Done done) {
  error_code ec;
  while (!done(parser)) {
    if (wire.bytes.empty()) {
      if (parser.got_some()) {
        parser.put_eof(ec);
      } else {
        ec = bhttp::error::end_of_stream;
      }
      return ec;
    }
    const std::size_t n = parser.put(boost::asio::buffer(wire.bytes.data(), wire.bytes.size()), ec);
    wire.bytes.remove_prefix(n);
    if (ec == bhttp::error::need_more) {
      ec = {};
      // Nothing consumed: what is left is an incomplete element and no more bytes come.
      if (n == 0) wire.bytes = {};
      continue;
    }
    if (ec) return ec;
  }
  return ec;
}

template <class Parser>
error_code feed_body(Parser& parser, Wire& wire) {
  parser.eager(true);
  return feed(parser, wire, [](const Parser& p) { return p.is_done(); });
}

error_code feed_header(bhttp::request_parser<bhttp::empty_body>& parser, Wire& wire) {
  parser.eager(false);
  return feed(parser, wire, [](const auto& p) { return p.is_header_done(); });
}

// Stands in for Session::send: the header work that touches the response, the invariants,
// then on_complete. Returns whether the connection stays open.
bool send(sg::server::ContentApi& api, Response res, const sg::http::RequestContext& ctx,
          std::string_view method, std::string_view target, unsigned version, bool keep_alive,
          bool head_only) {
  check_response(res);
  auto& msg = res.msg;
  msg.version(version == 10 ? 10 : 11);
  msg.set("X-Request-Id", ctx.request_id);
  msg.keep_alive(keep_alive);
  const unsigned code = msg.result_int();
  const bool no_body = code == 204 || code == 304 || code < 200;
  const std::uint64_t length = res.file ? res.file->length : msg.body().size();
  if (no_body) {
    msg.erase(bhttp::field::content_length);
    msg.body().clear();
  } else {
    msg.content_length(length);
  }
  sg::http::CompletedExchange done;
  done.method = method;
  done.target = target;
  done.route = res.route;
  done.request_id = ctx.request_id;
  done.status = code;
  done.latency_seconds = 0.001;
  done.body_bytes_sent = no_body || head_only ? 0 : length;
  done.completed = true;
  if (trace()) {
    std::fprintf(stderr, "%s %s -> %u %s%s\n", std::string(method).c_str(),
                 std::string(target).c_str(), code, std::string(res.route).c_str(),
                 res.file ? " (file)" : "");
  }
  no_throw("on_complete", [&] { api.on_complete(done); });
  return keep_alive;
}

// Session::stream_body: the body in chunks to the sink; an error response on failure.
std::optional<Response> stream_body(bhttp::request_parser<bhttp::buffer_body>& parser,
                                    sg::http::BodySink& sink, Wire& wire) {
  char chunk[kUploadChunk];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = kUploadChunk;
    error_code ec = feed_body(parser, wire);
    if (ec == bhttp::error::need_buffer) ec = {};
    const std::size_t got = kUploadChunk - parser.get().body().size;
    if (got > 0) {
      sg::Status st =
          no_throw("BodySink::write", [&] { return sink.write(std::string_view(chunk, got)); });
      if (!st) return sg::http::error_response(st.error());
    }
    if (ec) {
      if (auto err = read_error_response(ec)) return err;
      return sg::http::json_error(bhttp::status::bad_request, "incomplete_body",
                                  "the request body ended early: " + ec.message());
    }
  }
  return std::nullopt;
}

struct Outcome {
  std::optional<Response> res;  // nullopt: the connection ends without an answer
  bool must_close = false;
};

Outcome buffered_exchange(sg::server::ContentApi& api,
                          bhttp::request_parser<bhttp::empty_body>& head, const BodyPlan& plan,
                          const sg::http::RequestContext& ctx, Wire& wire) {
  if (head.content_length() && *head.content_length() > plan.limit) {
    return {sg::http::json_error(bhttp::status::payload_too_large, "too_large",
                                 "request body of " + std::to_string(*head.content_length()) +
                                     " bytes exceeds the limit of " + std::to_string(plan.limit)),
            true};
  }
  bhttp::request_parser<sg::http::GrowingStringBody> parser(std::move(head));
  parser.body_limit(plan.limit);
  if (!parser.is_done()) {
    if (error_code ec = feed_body(parser, wire)) {
      auto err = read_error_response(ec);
      if (!err) return {std::nullopt, true};
      return {std::move(err), true};
    }
    const auto& body = parser.get().body();
    if (body.capacity() > std::max<std::size_t>(2 * body.size(), 256) &&
        (!parser.content_length() || body.capacity() > *parser.content_length())) {
      violation("a buffered body holds more than twice the bytes that arrived", body.substr(0, 64));
    }
  }
  sg::http::Request req = sg::http::to_request(parser.release());
  auto fast = no_throw("handle_nonblocking", [&] { return api.handle_nonblocking(req, ctx); });
  if (fast) return {std::move(*fast), false};
  return {no_throw("handle", [&] { return api.handle(req, ctx); }), false};
}

Outcome stream_exchange(sg::server::ContentApi& api, bhttp::request_parser<bhttp::empty_body>& head,
                        const BodyPlan& plan, const sg::http::RequestContext& ctx, Wire& wire) {
  bhttp::request_parser<bhttp::buffer_body> parser(std::move(head));
  parser.body_limit(plan.limit);
  auto opened = no_throw("open_sink", [&] { return api.open_sink(parser.get().base(), ctx); });
  if (auto* early = std::get_if<Response>(&opened)) return {std::move(*early), !parser.is_done()};
  auto sink = std::move(std::get<std::unique_ptr<sg::http::BodySink>>(opened));
  if (!sink) violation("open_sink returned a null sink", "");
  if (auto failure = stream_body(parser, *sink, wire)) return {std::move(failure), true};
  return {no_throw("BodySink::finish", [&] { return sink->finish(); }), false};
}

// One request on the connection (Session::run's loop body plus Session::exchange).
// Returns whether the connection stays open for another request.
bool exchange(World& w, Wire& wire) {
  sg::server::ContentApi& api = w.api();
  bhttp::request_parser<bhttp::empty_body> head_parser;
  head_parser.header_limit(kHeaderLimit);
  head_parser.body_limit(boost::none);
  if (error_code ec = feed_header(head_parser, wire)) {
    if (auto res = read_error_response(ec)) {
      sg::http::RequestContext ctx{sg::http::request_id_for({}), std::chrono::steady_clock::now()};
      send(api, std::move(*res), ctx, "", "", 11, false, false);
    }
    return false;
  }
  const sg::http::RequestHeader& head = head_parser.get().base();
  sg::http::RequestContext ctx{sg::http::request_id_for(head["X-Request-Id"]),
                               std::chrono::steady_clock::now()};
  const std::string method(head.method_string());
  const std::string target(head.target());
  const unsigned version = head.version();
  const bool wants_keep_alive = head_parser.get().keep_alive();
  const bool head_only = head.method() == bhttp::verb::head;
  if (head.method() != bhttp::verb::get && !head_only) w.dirty = true;

  if (auto problem = sg::http::host_field_error(head)) {
    send(api, sg::http::json_error(bhttp::status::bad_request, "bad_request", *problem), ctx,
         method, target, version, false, head_only);
    return false;
  }
  // Refused from the head: the body is never read, so the connection ends after the answer.
  if (auto refusal = no_throw("admit", [&] { return api.admit(head, ctx); })) {
    const bool has_body = head_parser.chunked() || head_parser.content_length().value_or(0) > 0;
    const unsigned code = refusal->msg.result_int();
    if (code < 400) violation("admit refused with a non-error status", std::to_string(code));
    return send(api, std::move(*refusal), ctx, method, target, version,
                wants_keep_alive && !has_body, head_only);
  }
  const BodyPlan plan = no_throw("plan_body", [&] { return api.plan_body(head); });
  Outcome out = plan.mode == BodyPlan::Mode::kBuffered
                    ? buffered_exchange(api, head_parser, plan, ctx, wire)
                    : stream_exchange(api, head_parser, plan, ctx, wire);
  if (!out.res) return false;
  const bool keep = wants_keep_alive && !out.must_close;
  return send(api, std::move(*out.res), ctx, method, target, version, keep, head_only);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  World& w = world();
  if (w.dirty) w.reset();
  w.new_input();
  Wire wire{std::string_view(reinterpret_cast<const char*>(data), size)};
  while (!wire.bytes.empty() && exchange(w, wire)) {
  }
  return 0;
}
