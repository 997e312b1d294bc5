#include "support/viewer_load.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "common/random_hex.hpp"
#include "support/viewer_player.hpp"
#include "support/viewing_tally.hpp"

namespace sg::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// What one exchange came back with.
struct Reply {
  int status = 0;  // 0 when the exchange failed or was cut
  std::string body;
  std::string track;
  double ttfb_s = 0;
  double total_s = 0;
  bool failed = false;  // connect, I/O or timeout
  bool cut = false;     // not started, or ended, by the run's bound or stop()
  std::string error;
  bool ok() const { return status >= 200 && status < 300; }
};

using ObjectKind = ViewingTally::Object;
using SessionEnd = ViewingTally::SessionEnd;

// One viewer's player state that outlives a session: its connection and its timer.
struct Viewer {
  Viewer(int i, asio::io_context& context) : index(i), io(context), timer(context) {}
  int index;
  asio::io_context& io;
  asio::steady_timer timer;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  std::mt19937_64 rng{std::random_device{}()};
};

// One viewing session (a CMCD sid).
struct Session {
  explicit Session(double speed) : buffer(speed) {}
  std::string sid;
  ViewingTally::SessionTrack track;
  PlayerBuffer buffer;
  std::uint64_t stalls_recorded = 0;
  double stall_seconds_recorded = 0;
  std::optional<std::int64_t> mtp_kbps;
  std::string object_type = "v";
  std::int64_t br_kbps = 0;
  Clock::time_point first_playlist_sent{};
};

// The start of a response body for an error message, on one line.
std::string excerpt(const std::string& body) {
  std::string out = body.substr(0, 200);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

bool stale_connection(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
}

}  // namespace

class ViewerLoad::Impl {
 public:
  explicit Impl(ViewerLoadOptions options) : o_(std::move(options)) {}

  Status start();
  void stop();
  ViewerLoadResults results() const;
  bool finished() const { return started_ && running_viewers_.load() == 0; }
  ViewerLoadResults wait();

 private:
  asio::awaitable<void> run_viewer(Viewer& v);
  asio::awaitable<SessionEnd> run_session(Viewer& v, int number);
  asio::awaitable<SessionEnd> play_segments(Viewer& v, Session& s, const std::string& media_target,
                                            const MediaPlaylist& media);
  asio::awaitable<Reply> hls_request(Viewer& v, Session& s, const std::string& target,
                                     ObjectKind kind, const ByteRange* range, double duration_s);
  asio::awaitable<Reply> exchange(Viewer& v, bhttp::verb method, const std::string& target,
                                  const std::string& range);
  // Waits until `when` (capped at the deadline); false when the run is over.
  asio::awaitable<bool> pause_until(Viewer& v, Clock::time_point when);
  bool may_start_request();
  bool over() const { return stop_.load() || Clock::now() >= deadline_; }

  // Hands the session's stalls since the last call to the tally.
  void record_stalls(Session& s);

  const ViewerLoadOptions o_;
  tcp::endpoint endpoint_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<std::unique_ptr<Viewer>> viewers_;  // viewer i runs on contexts_[i % size]
  std::vector<std::thread> threads_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stop_{false};
  std::atomic<bool> budget_spent_{false};
  std::atomic<std::uint64_t> requests_started_{0};
  std::atomic<int> running_viewers_{0};
  Clock::time_point t0_{}, deadline_{}, hard_deadline_{};

  ViewingTally tally_;
  mutable std::mutex mu_;                      // guards the two below
  std::optional<Clock::time_point> ended_at_;  // when the last viewer ended
  std::string ended_by_;
};

Status validate(const ViewerLoadOptions& o) {
  auto bad = [](const std::string& what) { return make_error(ErrorCode::kInvalidArgument, what); };
  beast::error_code ec;
  asio::ip::make_address(o.host, ec);
  if (ec) return bad("host '" + o.host + "' is not an IPv4 or IPv6 literal");
  if (o.port == 0) return bad("port must be 1..65535");
  if (o.content_id.empty() || o.content_id.size() > 64 ||
      o.content_id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789-_") != std::string::npos) {
    return bad("content id '" + o.content_id + "' must be 1..64 of [A-Za-z0-9_-]");
  }
  if (o.viewers < 1 || o.viewers > 2000) {
    return bad("viewers must be 1..2000, got " + std::to_string(o.viewers));
  }
  if (!(o.speed > 0 && o.speed <= 64))
    return bad("speed must be in (0, 64], got " + std::to_string(o.speed));
  if (!(o.buffer_target_s > 0 && o.buffer_target_s <= 600)) {
    return bad("buffer target must be in (0, 600] s, got " + std::to_string(o.buffer_target_s));
  }
  if (o.duration < milliseconds(1) || o.duration > std::chrono::hours(24)) {
    return bad("duration must be 1 ms..24 h, got " + std::to_string(o.duration.count()) + " ms");
  }
  if (o.finish_grace < milliseconds(0) || o.finish_grace > std::chrono::seconds(60)) {
    return bad("finish grace must be 0..60 s");
  }
  if (o.max_requests < 1) return bad("max requests must be at least 1");
  if (o.max_sessions_per_viewer < 0)
    return bad("max sessions per viewer must be >= 0 (0: no limit)");
  if (o.request_timeout < milliseconds(1) || o.request_timeout > std::chrono::minutes(10)) {
    return bad("request timeout must be 1 ms..10 min");
  }
  if (o.retry_delay < milliseconds(0) || o.retry_delay > std::chrono::seconds(60)) {
    return bad("retry delay must be 0..60 s");
  }
  if (o.load_delay_max < milliseconds(0) || o.load_delay_max > std::chrono::seconds(60)) {
    return bad("load delay must be 0..60 s");
  }
  if (o.threads < 1 || o.threads > 16)
    return bad("threads must be 1..16, got " + std::to_string(o.threads));
  if (o.sid_prefix.empty() || o.sid_prefix.size() > 24 ||
      o.sid_prefix.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") !=
          std::string::npos) {
    return bad("sid prefix '" + o.sid_prefix + "' must be 1..24 of [a-z0-9-]");
  }
  for (const auto& [name, value] : o.headers) {
    if (name.empty() || name.find_first_of(": \t\r\n") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      return bad("header '" + name + "' is not a valid NAME: VALUE");
    }
  }
  return Status::ok();
}

Status ViewerLoad::Impl::start() {
  if (Status st = validate(o_); !st) return st;
  if (started_.exchange(true)) {
    return make_error(ErrorCode::kConflict, "the viewers already started");
  }
  endpoint_ = tcp::endpoint(asio::ip::make_address(o_.host), o_.port);
  t0_ = Clock::now();
  deadline_ = t0_ + o_.duration;
  hard_deadline_ = deadline_ + o_.finish_grace;
  const unsigned n = std::min<unsigned>(o_.threads, static_cast<unsigned>(o_.viewers));
  for (unsigned i = 0; i < n; ++i) contexts_.push_back(std::make_unique<asio::io_context>(1));
  running_viewers_ = o_.viewers;
  for (int i = 0; i < o_.viewers; ++i) {
    auto& io = *contexts_[static_cast<std::size_t>(i) % n];
    viewers_.push_back(std::make_unique<Viewer>(i, io));
    asio::co_spawn(io, run_viewer(*viewers_.back()), [this](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          tally_.error(std::string("viewer ended by an exception: ") + ex.what());
        }
      }
      if (running_viewers_.fetch_sub(1) == 1) {
        std::lock_guard lock(mu_);
        ended_at_ = Clock::now();
        ended_by_ = stop_                     ? "stop"
                    : budget_spent_           ? "max_requests"
                    : *ended_at_ >= deadline_ ? "duration"
                                              : "sessions";
      }
    });
  }
  for (auto& io : contexts_) threads_.emplace_back([ctx = io.get()] { ctx->run(); });
  return Status::ok();
}

void ViewerLoad::Impl::stop() {
  stop_ = true;
  for (std::size_t c = 0; c < contexts_.size(); ++c) {
    asio::post(*contexts_[c], [this, c] {
      for (std::size_t i = c; i < viewers_.size(); i += contexts_.size()) {
        viewers_[i]->timer.cancel();
        if (viewers_[i]->stream) viewers_[i]->stream->cancel();
      }
    });
  }
}

ViewerLoadResults ViewerLoad::Impl::wait() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  return results();
}

ViewerLoadResults ViewerLoad::Impl::results() const {
  ViewerLoadResults r = tally_.snapshot();
  std::lock_guard lock(mu_);
  const bool done = started_ && running_viewers_.load() == 0;
  r.running = started_ && !done;
  r.elapsed_seconds = started_ ? seconds_between(t0_, ended_at_.value_or(Clock::now())) : 0;
  r.ended_by = ended_by_;
  return r;
}

bool ViewerLoad::Impl::may_start_request() {
  if (over()) return false;
  if (requests_started_.fetch_add(1) >= o_.max_requests) {
    budget_spent_ = true;
    return false;
  }
  return true;
}

asio::awaitable<bool> ViewerLoad::Impl::pause_until(Viewer& v, Clock::time_point when) {
  if (over()) co_return false;
  if (when > Clock::now()) {
    v.timer.expires_at(std::min(when, deadline_));
    beast::error_code ec;
    co_await v.timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return !over();
}

asio::awaitable<void> ViewerLoad::Impl::run_viewer(Viewer& v) {
  // Viewers join over the first second (or a quarter of a shorter run), not all at once.
  const auto ramp = std::min<Clock::duration>(std::chrono::seconds(1), o_.duration / 4);
  if (!co_await pause_until(v, t0_ + ramp * v.index / o_.viewers)) co_return;
  for (int n = 0; o_.max_sessions_per_viewer == 0 || n < o_.max_sessions_per_viewer; ++n) {
    if (over()) break;
    const SessionEnd end = co_await run_session(v, n);
    if (end == SessionEnd::kCut) break;
    if (end == SessionEnd::kFailed) {
      const bool more = co_await pause_until(v, Clock::now() + o_.retry_delay);
      if (!more) break;
    }
  }
  v.stream.reset();
}

asio::awaitable<Reply> ViewerLoad::Impl::exchange(Viewer& v, bhttp::verb method,
                                                  const std::string& target,
                                                  const std::string& range) {
  Reply r;
  if (!may_start_request()) {
    r.cut = true;
    co_return r;
  }
  tally_.request_started();
  for (int attempt = 0;; ++attempt) {
    const bool reused = v.stream.has_value();
    const auto limit = std::min(Clock::now() + o_.request_timeout, hard_deadline_);
    beast::error_code ec;
    if (!v.stream) {
      v.stream.emplace(v.io);
      v.buffer.clear();
      v.stream->expires_at(limit);
      co_await v.stream->async_connect(endpoint_, asio::redirect_error(asio::use_awaitable, ec));
    }
    bhttp::request<bhttp::empty_body> req{method, target, 11};
    req.set(bhttp::field::host, endpoint_.address().to_string() + ":" + std::to_string(o_.port));
    req.set(bhttp::field::user_agent, "streamgate-viewers");
    if (!range.empty()) req.set(bhttp::field::range, range);
    for (const auto& [name, value] : o_.headers) req.set(name, value);
    if (method == bhttp::verb::post) req.content_length(0);
    const auto sent = Clock::now();
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(o_.body_limit);
    if (!ec && !stop_) {
      v.stream->expires_at(limit);
      co_await bhttp::async_write(*v.stream, req, asio::redirect_error(asio::use_awaitable, ec));
    }
    if (!ec && !stop_) {
      co_await bhttp::async_read_header(*v.stream, v.buffer, parser,
                                        asio::redirect_error(asio::use_awaitable, ec));
    }
    // The server closed a kept-alive connection before this request: it never saw it.
    if (ec && reused && attempt == 0 && !stop_ && stale_connection(ec)) {
      v.stream.reset();
      continue;
    }
    if (!ec && !stop_) {
      r.ttfb_s = seconds_between(sent, Clock::now());
      co_await bhttp::async_read(*v.stream, v.buffer, parser,
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec || stop_) {
      v.stream.reset();
      r.cut = stop_ || (limit == hard_deadline_ && Clock::now() >= hard_deadline_);
      r.failed = !r.cut;
      r.error = method == bhttp::verb::post ? "POST " : "GET ";
      r.error += target.substr(0, target.find('?')) + ": " + (ec ? ec.message() : "stopped");
      tally_.request_unanswered(r.cut);
      co_return r;
    }
    auto res = parser.release();
    r.total_s = seconds_between(sent, Clock::now());
    r.status = static_cast<int>(res.result_int());
    r.track = std::string(res["X-StreamGate-Track"]);
    r.body = std::move(res.body());
    if (!res.keep_alive()) v.stream.reset();
    co_return r;
  }
}

asio::awaitable<Reply> ViewerLoad::Impl::hls_request(Viewer& v, Session& s,
                                                     const std::string& target, ObjectKind kind,
                                                     const ByteRange* range, double duration_s) {
  std::string full = target;
  bool bs = false;
  std::optional<std::int64_t> mtp;
  if (o_.cmcd) {
    CmcdFields f;
    f.cid = o_.content_id;
    f.sid = s.sid;
    f.pr = o_.speed;
    f.su = !s.buffer.playing();
    f.bs = bs = s.buffer.take_starved();
    if (kind == ObjectKind::kPlaylist) {
      f.ot = "m";
    } else if (kind == ObjectKind::kInit) {
      f.ot = "i";
    } else {
      f.ot = s.object_type;
      f.bl_ms = static_cast<std::int64_t>(s.buffer.level_s() * 1000);
      if (s.br_kbps > 0) f.br_kbps = s.br_kbps;
      f.d_ms = static_cast<std::int64_t>(std::lround(duration_s * 1000));
      f.mtp_kbps = mtp = s.mtp_kbps;
      if (mtp) mtp = (*mtp + 50) / 100 * 100;  // as sent
    }
    full += (full.find('?') == std::string::npos ? "?CMCD=" : "&CMCD=") + cmcd_query_value(f);
  }
  // Computed before the co_await: GCC 12 miscompiles a conditional inside its operand.
  std::string range_value;
  if (range) range_value = range->range_header();
  Reply r = co_await exchange(v, bhttp::verb::get, full, range_value);
  if (r.status != 0) {
    tally_.answer(s.track, {kind, r.status, r.track, r.body.size(), r.ttfb_s, bs, mtp});
  }
  co_return r;
}

asio::awaitable<SessionEnd> ViewerLoad::Impl::run_session(Viewer& v, int number) {
  Session s(o_.speed);
  s.sid = o_.sid_prefix + "-" + std::to_string(v.index) + "-" + std::to_string(number) + "-" +
          random_hex(8);
  const std::string base = "/api/v1/content/" + o_.content_id;
  Reply pb = co_await exchange(v, bhttp::verb::post, base + "/playback", "");
  if (pb.cut) co_return SessionEnd::kCut;
  std::string master_url;
  if (pb.status == 200) {
    beast::error_code ec;
    const auto doc = boost::json::parse(pb.body, ec);
    const auto* obj = ec ? nullptr : doc.if_object();
    const auto* url = obj ? obj->if_contains("master_url") : nullptr;
    if (url && url->is_string()) master_url = std::string(url->get_string());
  }
  if (master_url.empty() || !master_url.starts_with("/")) {
    if (!pb.failed) tally_.playback_refused();
    tally_.error(pb.failed ? pb.error
                           : "POST " + base + "/playback: " + std::to_string(pb.status) + " " +
                                 excerpt(pb.body));
    co_return SessionEnd::kFailed;
  }
  if (o_.load_delay_max.count() > 0) {
    std::uniform_int_distribution<std::int64_t> wait(0, o_.load_delay_max.count());
    const bool more = co_await pause_until(v, Clock::now() + milliseconds(wait(v.rng)));
    if (!more) co_return SessionEnd::kCut;
  }
  s.first_playlist_sent = Clock::now();
  auto fail = [&](const Reply& r, const std::string& what) {
    tally_.error(what + ": " +
                 (r.failed ? r.error : std::to_string(r.status) + " " + excerpt(r.body)));
    tally_.session_end(s.track, SessionEnd::kFailed, r.track);
    return SessionEnd::kFailed;
  };
  Reply m = co_await hls_request(v, s, master_url, ObjectKind::kPlaylist, nullptr, 0);
  if (m.cut) co_return SessionEnd::kCut;
  if (!m.ok()) co_return fail(m, "master playlist");
  auto master = parse_master_playlist(m.body);
  if (!master) co_return fail(m, master.error().message);
  s.object_type = master->object_type;
  s.br_kbps = master->bandwidth_kbps;
  const std::string media_target = resolve_uri(master_url, master->media_uri);
  Reply p = co_await hls_request(v, s, media_target, ObjectKind::kPlaylist, nullptr, 0);
  if (p.cut) {
    tally_.session_end(s.track, SessionEnd::kCut, p.track);
    co_return SessionEnd::kCut;
  }
  if (!p.ok()) co_return fail(p, "media playlist");
  auto media = parse_media_playlist(p.body);
  if (!media) co_return fail(p, media.error().message);
  const SessionEnd end = co_await play_segments(v, s, media_target, *media);
  record_stalls(s);
  tally_.session_end(s.track, end, "");
  if (end == SessionEnd::kCompleted) {
    // Play out what is buffered before the next session.
    s.buffer.advance(Clock::now(), false);
    co_await pause_until(v, Clock::now() + s.buffer.time_until(0));
  }
  co_return end;
}

asio::awaitable<SessionEnd> ViewerLoad::Impl::play_segments(Viewer& v, Session& s,
                                                            const std::string& media_target,
                                                            const MediaPlaylist& media) {
  Reply init = co_await hls_request(v, s, resolve_uri(media_target, media.init.uri),
                                    ObjectKind::kInit, &media.init, 0);
  if (init.cut) co_return SessionEnd::kCut;
  if (!init.ok()) {
    tally_.error("init section: " + (init.failed ? init.error : std::to_string(init.status)));
    co_return SessionEnd::kFailed;
  }
  for (const MediaSegment& seg : media.segments) {
    for (;;) {
      const auto now = Clock::now();
      s.buffer.advance(now, true);
      record_stalls(s);
      if (s.buffer.level_s() < o_.buffer_target_s) break;
      const auto room_at = now + s.buffer.time_until(o_.buffer_target_s) + milliseconds(1);
      if (!co_await pause_until(v, room_at)) co_return SessionEnd::kCut;
    }
    Reply r = co_await hls_request(v, s, resolve_uri(media_target, seg.range.uri),
                                   ObjectKind::kSegment, &seg.range, seg.duration_s);
    if (r.cut) co_return SessionEnd::kCut;
    const auto now = Clock::now();
    s.buffer.advance(now, true);  // a stall while the segment was on its way
    record_stalls(s);
    if (!r.ok()) {
      tally_.error("segment " + seg.range.range_header() + ": " +
                   (r.failed ? r.error : std::to_string(r.status) + " " + excerpt(r.body)));
      co_return SessionEnd::kFailed;
    }
    if (r.total_s > 0) {
      s.mtp_kbps =
          static_cast<std::int64_t>(static_cast<double>(r.body.size()) * 8 / r.total_s / 1000);
    }
    const bool first = !s.buffer.started();
    s.buffer.add_segment(now, seg.duration_s);
    record_stalls(s);  // the stall's length is known now
    if (first) {
      tally_.session_playing(s.track, seconds_between(s.first_playlist_sent, now) * 1000);
    }
  }
  co_return SessionEnd::kCompleted;
}

void ViewerLoad::Impl::record_stalls(Session& s) {
  const std::uint64_t stalls = s.buffer.stalls();
  const double seconds = s.buffer.stall_seconds();
  if (stalls == s.stalls_recorded && seconds == s.stall_seconds_recorded) return;
  tally_.stalls(s.track, stalls - s.stalls_recorded, seconds - s.stall_seconds_recorded);
  s.stalls_recorded = stalls;
  s.stall_seconds_recorded = seconds;
}

ViewerLoad::ViewerLoad(ViewerLoadOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

ViewerLoad::~ViewerLoad() {
  impl_->stop();
  impl_->wait();
}

Status ViewerLoad::start() { return impl_->start(); }
void ViewerLoad::stop() { impl_->stop(); }
ViewerLoadResults ViewerLoad::results() const { return impl_->results(); }
bool ViewerLoad::finished() const { return impl_->finished(); }
ViewerLoadResults ViewerLoad::wait() { return impl_->wait(); }

Result<ViewerLoadResults> ViewerLoad::run() {
  if (Status st = start(); !st) return st.error();
  return wait();
}

}  // namespace sg::test
