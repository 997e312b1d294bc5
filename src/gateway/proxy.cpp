#include "gateway/proxy.hpp"

#include <sys/socket.h>

#include <charconv>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/http/direct_write.hpp"
#include "common/http/drain_aware_buffer.hpp"
#include "common/http/growing_body.hpp"
#include "common/http/parse_read.hpp"
#include "common/log.hpp"
#include "gateway/proxy_heads.hpp"
#include "gateway/request_cmcd.hpp"
#include "gateway/request_rules.hpp"
#include "gateway/stream_recorder.hpp"
#include "gateway/track_choice.hpp"

namespace sg::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kRelayChunk = 64 * 1024;
// Body pieces up to this size are copied behind the head (or chunk size) and sent with it as
// one buffer; bigger ones are sent from where they were read.
constexpr std::size_t kCoalescedBody = 1024;
// Bodies up to this size are read before forwarding so a failed attempt can be retried.
constexpr std::uint64_t kReplayableBody = 64 * 1024;
constexpr std::size_t kMaxIdlePerWorker = 256;
// Attempts of one request before the client gets the error: two endpoints of its track,
// then one of another track when its own has no other endpoint.
constexpr int kAttemptsPerTrack = 2;
constexpr int kMaxAttempts = 3;
constexpr std::uint32_t kUpstreamHeaderLimit = 64 * 1024;
// Pooled upstream connections older than this are dropped (streamgate-server closes idle
// keep-alive connections after 60 s by default); younger than kTrustedIdle are not probed.
constexpr auto kMaxPooledIdle = std::chrono::seconds(30);
constexpr auto kTrustedIdle = std::chrono::seconds(1);
// Every send of a proxied request or response waits for the sockets already found ready, so
// a worker's sends leave in bursts (see direct_write.hpp).
constexpr auto kProxySendTiming = http::SendTiming::kAfterQueuedHandlers;

// A pooled connection the upstream has closed (or that holds unexpected bytes) is useless.
bool still_usable(tcp::socket& s) {
  char c;
  const ssize_t n = ::recv(s.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

// Whether the upstream has sent something to read already (data queued or buffered), even
// if it has reset the connection since: TCP keeps what arrived before a reset readable.
bool answered_already(tcp::socket& s, const beast::flat_buffer& buffered) {
  if (buffered.size() > 0) return true;
  char c;
  return ::recv(s.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

enum class Failure { kNone, kConnect, kReset, kTimeout, kBadResponse };

const char* failure_reason(Failure f) {
  switch (f) {
    case Failure::kConnect:
      return "connect_failed";
    case Failure::kReset:
      return "upstream_reset";
    case Failure::kTimeout:
      return "upstream_timeout";
    case Failure::kBadResponse:
      return "bad_upstream_response";
    case Failure::kNone:
      break;
  }
  return "none";
}

Failure classify(const error_code& ec) {
  if (ec == beast::error::timeout) return Failure::kTimeout;
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    return Failure::kBadResponse;
  }
  return Failure::kReset;
}

}  // namespace

struct Proxy::Exchange {
  http::ExchangeHead head;
  std::shared_ptr<const RouteTable> table;
  const Track* track = nullptr;
  Endpoint* endpoint = nullptr;  // one of table's, so alive while `table` is held
  bool client_keep_alive = true;
  bool head_only = false;
  std::uint64_t bytes_sent = 0;
  // The request as sent upstream: the head, plus the body when it is replayable (read
  // before forwarding). Kept for a retry; a streamed body follows it from the client.
  std::string upstream_request;
  // The replayable body's share of the server's BodyBudget, held until the exchange ends.
  std::optional<http::BodyBudget::Lease> body_lease;
  // When the current attempt's request was wholly sent upstream, and the upstream's time from
  // then to its response head (or to the timeout that ended the wait for it).
  std::chrono::steady_clock::time_point upstream_sent{};
  std::optional<double> upstream_seconds;
  // The request carried CMCD data; some of it was malformed (request_cmcd.hpp).
  bool cmcd = false;
  bool cmcd_malformed = false;
  // The HLS side of the request (kind kNone for anything else).
  StreamRequest stream;
};

namespace {

// Whether `peer` (an IP address as text) is one of the configured trusted proxies.
bool from_trusted_proxy(const RouteTable& table, const std::string& peer) {
  if (table.trusted_proxies.empty() || peer.empty()) return false;
  error_code ec;
  const auto address = asio::ip::make_address(peer, ec);
  if (ec) return false;
  for (const auto& net : table.trusted_proxies) {
    if (net.contains(address)) return true;
  }
  return false;
}

// Copies the body `in` parses from `from` to `to`, framed chunked or as is (Content-Length,
// or up to the close), with `prefix` (a head not yet sent, may be empty) gathered in front
// of the first bytes. Reads time out through `from_deadline`, writes through `to`'s expiry;
// both after `idle`. Sets `from_failed` when reading failed, `sent_some` once a write
// succeeded.
template <bool IsRequest, class Allocator>
asio::awaitable<error_code> relay_body(beast::tcp_stream& from, beast::flat_buffer& from_buf,
                                       http::LazyDeadline& from_deadline,
                                       bhttp::parser<IsRequest, bhttp::buffer_body, Allocator>& in,
                                       beast::tcp_stream& to, std::string& prefix, bool chunked,
                                       std::chrono::milliseconds idle, std::uint64_t& bytes,
                                       bool& from_failed, bool& sent_some) {
  // Not zeroed: every byte sent was read first. Small bodies get a small buffer.
  const std::size_t size = static_cast<std::size_t>(
      std::min<std::uint64_t>(kRelayChunk, in.content_length().value_or(kRelayChunk) + 1));
  // Small bodies (the common API answer) fit the coroutine frame, which Asio recycles.
  char small[512];
  std::unique_ptr<char[]> big;
  char* const buf =
      size <= sizeof small ? small : (big = std::make_unique_for_overwrite<char[]>(size)).get();
  for (;;) {
    std::size_t n = 0;
    if (!in.is_done()) {
      in.get().body().data = buf;
      in.get().body().size = size;
      from_deadline.expires_after(idle);
      const error_code ec = co_await http::read_body_some(from, from_buf, in);
      // Not while writing to `to`, which may take up to its own timeout.
      from_deadline.disarm();
      if (ec) {
        from_failed = true;
        co_return from_deadline.timed_out() ? beast::error::timeout : ec;
      }
      n = size - in.get().body().size;
    }
    const bool last = in.is_done();
    std::string_view suffix;
    if (chunked) {
      if (n > 0) append_chunk_size(prefix, n);
      suffix = n > 0 ? (last ? "\r\n0\r\n\r\n" : "\r\n") : (last ? "0\r\n\r\n" : "");
    }
    if (!prefix.empty() || n > 0 || !suffix.empty()) {
      error_code ec;
      if (n <= kCoalescedBody) {
        // One buffer goes out with a plain send, cheaper in the kernel than a gathered one.
        prefix.append(buf, n).append(suffix);
        ec = co_await http::write_direct(to, asio::buffer(prefix), idle, kProxySendTiming);
      } else {
        const std::array<asio::const_buffer, 3> out{asio::buffer(prefix), asio::buffer(buf, n),
                                                    asio::buffer(suffix)};
        ec = co_await http::write_direct(to, out, idle, kProxySendTiming);
      }
      if (ec) co_return ec;
      sent_some = true;
      bytes += n;
      prefix.clear();
    }
    if (last) co_return error_code{};
  }
}

}  // namespace

// The outcome of one try on one endpoint.
struct Proxy::Attempt {
  bool answered = false;    // a response (or part of one) went to the client
  bool keep_alive = false;  // the client connection may continue (when answered)
  Failure failure = Failure::kNone;
  bool retryable = false;          // failed before any response byte: another endpoint may try
  bool reused = false;             // it ran on a pooled connection
  bool upstream_reusable = false;  // the upstream connection may serve another request
  bool refused = false;            // the connect was refused: nothing listens there
};

// Sends the request on `up` and relays the response; the client sees nothing on failure
// before the response head.
asio::awaitable<Proxy::Attempt> Proxy::attempt(http::ServerConnection& conn, Exchange& ex,
                                               http::HeadParser* streamed, bool allow_pooled) {
  Endpoint& ep = *ex.endpoint;
  ex.upstream_seconds.reset();
  ep.begin_request();
  struct Done {
    Endpoint& e;
    ~Done() { e.end_request(); }
  } done_guard{ep};
  const auto& t = ex.table->config.timeouts;
  auto& pool = ep.idle_pool(http::current_worker());
  std::unique_ptr<Endpoint::IdleConnection> upstream;
  const auto now = Endpoint::Clock::now();
  auto& pooled = state_.pooled_connections(http::current_worker());
  while (allow_pooled && !pool.empty() && !upstream) {
    std::unique_ptr<Endpoint::IdleConnection> idle = std::move(pool.back());
    pool.pop_back();
    idle->pooled_in = nullptr;
    pooled.fetch_sub(1, std::memory_order_relaxed);
    const auto age = now - idle->since;
    // Old connections are near the upstream's idle timeout: not worth the race. A peek
    // catches one the upstream closed; a connection idle for under a second is trusted
    // (a failure on it is retried on a fresh connection, see forward()).
    if (age > kMaxPooledIdle) continue;
    if (age < kTrustedIdle || still_usable(idle->stream.socket())) upstream = std::move(idle);
  }
  const bool reused = upstream != nullptr;
  if (!reused) {
    upstream = std::make_unique<Endpoint::IdleConnection>(
        beast::tcp_stream(co_await asio::this_coro::executor),
        std::chrono::milliseconds(std::min(t.first_byte_ms, t.idle_ms)));
  }
  beast::tcp_stream& up = upstream->stream;
  if (!reused) {
    up.expires_after(std::chrono::milliseconds(t.connect_ms));
    auto [ec] = co_await up.async_connect(ep.tcp_endpoint(), kTuple);
    if (ec) {
      co_return Attempt{false,
                        false,
                        Failure::kConnect,
                        true,
                        false,
                        false,
                        ec == asio::error::connection_refused};
    }
    up.expires_never();
    error_code ignored;
    up.socket().set_option(tcp::no_delay(true), ignored);
    http::enable_drain_aware_reads(up.socket());
  }
  if (streamed) {
    Attempt sent = co_await send_streamed(conn, ex, *upstream, *streamed);
    sent.reused = reused;
    if (sent.failure != Failure::kNone || sent.answered) co_return sent;
  } else {
    if (co_await http::write_direct(up, asio::buffer(ex.upstream_request),
                                    std::chrono::milliseconds(t.idle_ms), kProxySendTiming))
      co_return Attempt{false, false, Failure::kReset, true, reused};
    ex.upstream_sent = std::chrono::steady_clock::now();
  }
  Attempt relayed = co_await relay_response(conn, ex, *upstream);
  upstream->read_deadline.disarm();
  relayed.reused = reused;
  // Pooled connections hold descriptors: at most kMaxIdlePerWorker per endpoint, and what
  // the descriptor budget leaves per worker in all (ProxyOptions).
  if (relayed.upstream_reusable && pool.size() < kMaxIdlePerWorker &&
      pooled.load(std::memory_order_relaxed) < options_.max_pooled_per_worker) {
    upstream->since = Endpoint::Clock::now();
    upstream->pooled_in = &pooled;
    pooled.fetch_add(1, std::memory_order_relaxed);
    pool.push_back(std::move(upstream));
  }
  co_return relayed;
}

// Forwards a body too large (or chunked) to replay, straight from the client.
asio::awaitable<Proxy::Attempt> Proxy::send_streamed(http::ServerConnection& conn, Exchange& ex,
                                                     Endpoint::IdleConnection& upstream,
                                                     http::HeadParser& head_parser) {
  beast::tcp_stream& up = upstream.stream;
  const auto idle = std::chrono::milliseconds(ex.table->config.timeouts.idle_ms);
  bhttp::request_parser<bhttp::buffer_body> in(std::move(head_parser));
  co_await conn.continue_if_expected(in.get().base());
  std::uint64_t bytes = 0;
  bool client_failed = false;
  bool sent_some = false;
  // The head goes with the first body bytes. Never retried, so the text is consumed.
  const error_code ec =
      co_await relay_body(conn.stream(), conn.buffer(), conn.read_deadline(), in, up,
                          ex.upstream_request, in.chunked(), idle, bytes, client_failed, sent_some);
  if (ec && client_failed) {
    // The client stopped sending its body: nothing sensible to answer; drop both sides.
    co_return Attempt{true, false, Failure::kNone, false};
  }
  ex.upstream_sent = std::chrono::steady_clock::now();  // the body's last byte went out
  if (ec && answered_already(up.socket(), upstream.buffer)) {
    // The upstream stopped taking the body after answering (a refusal before reading it,
    // say 401/403/413, then a close): that answer is the response. The rest of the
    // client's body is not read, so the client connection closes after it.
    ex.client_keep_alive = false;
    const Attempt early = co_await relay_response(conn, ex, upstream);
    if (early.answered) co_return early;
  }
  if (ec) co_return Attempt{false, false, Failure::kReset, false};
  co_return Attempt{};
}

asio::awaitable<Proxy::Attempt> Proxy::relay_response(http::ServerConnection& conn, Exchange& ex,
                                                      Endpoint::IdleConnection& upstream) {
  Endpoint& ep = *ex.endpoint;
  const auto& cfg = ex.table->config;
  const auto idle = std::chrono::milliseconds(cfg.timeouts.idle_ms);
  beast::tcp_stream& up = upstream.stream;
  beast::flat_buffer& ubuf = upstream.buffer;
  std::optional<bhttp::response_parser<bhttp::buffer_body, ThreadCachedAllocator<char>>> parser;
  error_code ec;
  for (;;) {
    // Interim 1xx answers (102, 103) are not the response: read on to the final one.
    auto& p = parser.emplace();
    p.header_limit(kUpstreamHeaderLimit);
    p.body_limit(boost::none);
    if (ex.head_only) p.skip(true);
    upstream.read_deadline.expires_after(std::chrono::milliseconds(cfg.timeouts.first_byte_ms));
    ec = co_await http::read_head(up, ubuf, p);
    upstream.read_deadline.disarm();
    if (ec && upstream.read_deadline.timed_out()) ec = beast::error::timeout;
    if (ec || p.get().result_int() / 100 != 1 || p.get().result_int() == 101) break;
  }
  auto& rp = *parser;
  if (!ec || ec == beast::error::timeout) {
    // The upstream's own time, from the request sent to its head (or to giving up on it).
    const auto head_at = std::chrono::steady_clock::now();
    ex.upstream_seconds = std::chrono::duration<double>(head_at - ex.upstream_sent).count();
    if (!ec && ex.stream.kind != HlsKind::kNone) {
      ex.stream.ttfb_seconds = std::chrono::duration<double>(head_at - ex.head.ctx.start).count();
    }
  }
  if (ec) {
    const bool nothing_yet = !rp.got_some() && ubuf.size() == 0;
    co_return Attempt{false, false, classify(ec), nothing_yet && ec != beast::error::timeout};
  }
  const unsigned status = rp.get().result_int();
  const auto now = Endpoint::Clock::now();
  if (status >= 500) {
    if (ep.record_failure(now, cfg.outlier)) note_ejection(ex);
  } else {
    ep.record_success(now);
  }
  ResponseHeadParts parts;
  parts.version = ex.head.version == 10 ? 10 : 11;
  parts.track = ex.track->name;
  parts.request_id = ex.head.ctx.request_id;
  bool keep = ex.client_keep_alive && !conn.closing();
  const bool no_body = ex.head_only || status == 204 || status == 304 || status < 200;
  if (no_body) {
    if (ex.head_only && rp.content_length()) {
      parts.framing = BodyFraming::kLength;
      parts.length = *rp.content_length();
    }
  } else if (rp.content_length()) {
    parts.framing = BodyFraming::kLength;
    parts.length = *rp.content_length();
  } else if (ex.head.version != 10) {
    parts.framing = BodyFraming::kChunked;
  } else {
    keep = false;  // HTTP/1.0 knows no chunked coding: the body ends at the close
  }
  parts.keep_alive = keep;
  // The request text is not needed any more (nothing is retried once a response arrived):
  // its storage takes the response head.
  std::string& head = ex.upstream_request;
  head.clear();
  append_client_response_head(head, rp.get().base(), parts);
  bool upstream_failed = false;
  std::uint64_t bytes = 0;
  if (no_body) {
    ec = co_await http::write_direct(conn.stream(), asio::buffer(head), idle, kProxySendTiming);
  } else {
    // The head goes with the first body chunk: one send instead of two for a small response.
    bool sent_some = false;
    ec = co_await relay_body(up, ubuf, upstream.read_deadline, rp, conn.stream(), head,
                             parts.framing == BodyFraming::kChunked, idle, bytes, upstream_failed,
                             sent_some);
    if (upstream_failed && !sent_some) {
      // The upstream failed before the client saw anything: answer with an error instead.
      if (ep.record_failure(Endpoint::Clock::now(), cfg.outlier)) note_ejection(ex);
      co_return Attempt{false, false, Failure::kReset, false, false};
    }
  }
  ex.bytes_sent = bytes;
  const double latency =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - ex.head.ctx.start).count();
  // A response cut short by the upstream is an error the client noticed.
  record(ex, upstream_failed ? 502 : status, latency, upstream_failed);
  if (upstream_failed && ep.record_failure(Endpoint::Clock::now(), cfg.outlier)) note_ejection(ex);
  // Bytes after the response would be taken for the next one: such a connection is closed.
  const bool reusable = !ec && rp.is_done() && rp.keep_alive() && ubuf.size() == 0;
  co_return Attempt{true, keep && !ec, Failure::kNone, false, false, reusable};
}

void Proxy::note_ejection(Exchange& ex) {
  metrics_.ejections.with({ex.track->name, ex.endpoint->address()}).inc();
  log::warn("endpoint ejected after consecutive failures",
            {{"track", ex.track->name},
             {"endpoint", ex.endpoint->address()},
             {"ejections", ex.endpoint->ejections()}});
}

asio::awaitable<bool> Proxy::serve(http::ServerConnection& conn, http::HeadParser& parser,
                                   std::chrono::steady_clock::time_point start) {
  const http::RequestHeader& head = parser.get().base();
  Exchange ex;
  ex.head = {http::RequestContext{http::request_id_for(head["X-Request-Id"]), start},
             std::string(head.method_string()), std::string(head.target()), head.version(),
             head.method() == bhttp::verb::head};
  ex.head_only = ex.head.head_only;
  ex.client_keep_alive = parser.get().keep_alive();
  if (const auto cmcd = read_request_cmcd(head)) {
    ex.cmcd = true;
    ex.cmcd_malformed = cmcd->malformed();
    ex.stream = stream_request(head, &cmcd->data);
  } else {
    ex.stream = stream_request(head, nullptr);
  }
  ex.stream.arrived = start;
  ex.table = state_.table();
  const bool has_body = parser.chunked() || parser.content_length().value_or(0) > 0;
  if (auto bad = framing_error(head)) {
    ex.client_keep_alive = false;  // the framing cannot be trusted: drop the connection
    const bool coding = unsupported_transfer_coding(head).has_value();
    co_return co_await fail(conn, ex,
                            coding ? bhttp::status::not_implemented : bhttp::status::bad_request,
                            coding ? "unsupported_transfer_coding" : "bad_request", *bad);
  }
  ex.track = choose_track(state_, *ex.table, head, ex.stream.session, Endpoint::Clock::now());
  if (!ex.track) {
    ex.client_keep_alive = ex.client_keep_alive && !has_body;
    co_return co_await fail(conn, ex, bhttp::status::service_unavailable, "no_healthy_upstream",
                            "no track of the route has an available endpoint");
  }
  // A replayable body is held until the exchange ends, taken from the server's budget of
  // buffered body bytes; when that is spent the body streams instead (without a retry).
  bool replayable = !has_body || (!parser.chunked() && *parser.content_length() <= kReplayableBody);
  if (has_body && replayable) {
    ex.body_lease.emplace(conn.body_budget());
    replayable = ex.body_lease->hold(*parser.content_length());
  }
  const bool can_retry = ex.table->config.retries.enabled && replayable && retry_allowed(head);
  RequestHeadParts parts{ex.head.ctx.request_id, conn.peer_address()};
  parts.trust_forwarded = from_trusted_proxy(*ex.table, conn.peer_address());
  parts.default_host = ex.table->config.listen;
  const auto length = parser.content_length();
  set_upstream_framing(parts, head, parser.chunked(),
                       length ? std::optional<std::uint64_t>(*length) : std::nullopt);
  ex.upstream_request.reserve(1024);
  append_upstream_request_head(ex.upstream_request, head, parts);
  if (has_body && replayable) {
    bhttp::request_parser<http::GrowingStringBody> bp(std::move(parser));
    bp.body_limit(kReplayableBody);
    co_await conn.continue_if_expected(bp.get().base());
    conn.stream().expires_after(std::chrono::milliseconds(ex.table->config.timeouts.idle_ms));
    auto [ec, n] = co_await bhttp::async_read(conn.stream(), conn.buffer(), bp, kTuple);
    if (ec) co_return false;  // the client did not send its body
    ex.upstream_request.append(bp.get().body());
  }
  co_return co_await forward(conn, ex, has_body && !replayable ? &parser : nullptr, can_retry);
}

asio::awaitable<bool> Proxy::forward(http::ServerConnection& conn, Exchange& ex,
                                     http::HeadParser* streamed, bool can_retry) {
  Failure last = Failure::kNone;
  const Endpoint* tried = nullptr;
  // A failed attempt about to be retried counts against its track and endpoint once the
  // retry starts (a retry that finds nowhere to go leaves it to the client's answer).
  const Track* failed_track = nullptr;
  Endpoint* failed_endpoint = nullptr;
  bool moved = false;  // the retry went to another track already
  int on_track = 0;    // attempts on the current track
  for (int attempts = 0;;) {
    const auto now = Endpoint::Clock::now();
    Endpoint* next =
        on_track < kAttemptsPerTrack ? choose_endpoint(*ex.track, tried, now) : nullptr;
    if (!next && failed_track && !moved) {
      // No other endpoint of this track is available: another track of the route serves
      // the retry, so a dead track costs its users nothing.
      if (const Track* other = fallback_track(*ex.table, ex.track, now)) {
        if (Endpoint* ep = choose_endpoint(*other, nullptr, now)) {
          ex.track = other;
          next = ep;
          moved = true;
          on_track = 0;
        }
      }
    }
    // Keep the endpoint that failed when there is no other: the error and the stats name it.
    if (!next) break;
    if (failed_track) {
      note_failed_attempt(*failed_track, *failed_endpoint, now);
      failed_track = nullptr;
    }
    ex.endpoint = next;
    Attempt a = co_await attempt(conn, ex, streamed, true);
    if (!a.answered && a.reused && a.retryable && can_retry) {
      // The pooled connection was stale (closed by the upstream): not the endpoint's fault,
      // and a fresh connection to the same endpoint is the right second try.
      metrics_.retries.with({kRouteName, ex.track->name}).inc();
      a = co_await attempt(conn, ex, streamed, false);
    }
    if (a.answered) co_return a.keep_alive;
    last = a.failure;
    // A stale pooled connection says nothing about the endpoint's health; a refused connect
    // says nothing listens there at all: out at once, not after a run of failures.
    if (!a.reused && a.refused) {
      if (ex.endpoint->eject_now(Endpoint::Clock::now(), ex.table->config.outlier))
        note_ejection(ex);
    } else if (!a.reused && (a.failure == Failure::kConnect || a.failure == Failure::kReset)) {
      if (ex.endpoint->record_failure(Endpoint::Clock::now(), ex.table->config.outlier))
        note_ejection(ex);
    }
    ++on_track;
    if (!a.retryable || !can_retry || ++attempts == kMaxAttempts) break;
    metrics_.retries.with({kRouteName, ex.track->name}).inc();
    failed_track = ex.track;
    failed_endpoint = ex.endpoint;
    tried = ex.endpoint;
  }
  if (streamed) ex.client_keep_alive = false;  // the body may be half read
  if (last == Failure::kNone) {
    co_return co_await fail(conn, ex, bhttp::status::service_unavailable, "no_healthy_upstream",
                            "track '" + ex.track->name + "' has no available endpoint");
  }
  const std::string where = ex.endpoint ? " from " + ex.endpoint->address() : std::string();
  if (last == Failure::kTimeout) {
    co_return co_await fail(conn, ex, bhttp::status::gateway_timeout, failure_reason(last),
                            "upstream did not answer in time" + where);
  }
  co_return co_await fail(conn, ex, bhttp::status::bad_gateway, failure_reason(last),
                          "upstream failed before responding" + where);
}

const Track* Proxy::fallback_track(const RouteTable& table, const Track* failed,
                                   Endpoint::Clock::time_point now) {
  thread_local std::vector<bool> eligible;
  eligible.assign(table.schedule.track_count(), false);
  for (std::size_t i = 0; i < eligible.size(); ++i) {
    const Track& t = table.tracks[table.schedule_track[i]];
    if (&t == failed) continue;
    for (const auto& ep : t.endpoints) {
      if (ep->available(now)) {
        eligible[i] = true;
        break;
      }
    }
  }
  const auto pick = table.schedule.pick(state_.next_ticket(), eligible);
  return pick ? &table.tracks[table.schedule_track[*pick]] : nullptr;
}

void Proxy::note_failed_attempt(const Track& track, Endpoint& endpoint,
                                Endpoint::Clock::time_point now) {
  metrics_.failed_attempts.with({kRouteName, track.name}).inc();
  track.stats->record_failed_attempt(now);
  endpoint.stats().record_failed_attempt(now);
}

Proxy::Proxy(GatewayState& state, GatewayMetrics& metrics, ProxyOptions options)
    : state_(state), metrics_(metrics), options_(options) {}

metrics::Counter& Proxy::request_counter(const Track* track, unsigned status) {
  auto lookup = [&] {
    char code[8];
    auto [end, ec] = std::to_chars(code, code + sizeof code, status);
    return &metrics_.requests.with({std::string_view(kRouteName),
                                    track ? std::string_view(track->name) : "none",
                                    std::string_view(code, end - code)});
  };
  if (!track || status >= TrackMetricCache::kCodes) return *lookup();
  auto& slot = track->metrics->requests[status];
  metrics::Counter* c = slot.load(std::memory_order_acquire);
  if (!c) {
    c = lookup();
    slot.store(c, std::memory_order_release);
  }
  return *c;
}

metrics::Histogram& Proxy::upstream_histogram(const Track& track) {
  metrics::Histogram* h = track.metrics->upstream.load(std::memory_order_acquire);
  if (!h) {
    h = &metrics_.upstream_response.with({std::string_view(kRouteName), track.name});
    track.metrics->upstream.store(h, std::memory_order_release);
  }
  return *h;
}

metrics::Histogram& Proxy::duration_histogram(const Track* track) {
  auto lookup = [&] {
    return &metrics_.duration.with(
        {std::string_view(kRouteName), track ? std::string_view(track->name) : "none"});
  };
  if (!track) return *lookup();
  metrics::Histogram* h = track->metrics->duration.load(std::memory_order_acquire);
  if (!h) {
    h = lookup();
    track->metrics->duration.store(h, std::memory_order_release);
  }
  return *h;
}

metrics::Counter& Proxy::cmcd_counter(metrics::Family<metrics::Counter>& family, const Track* track,
                                      std::atomic<metrics::Counter*> TrackMetricCache::*cached) {
  auto lookup = [&] {
    return &family.with(
        {std::string_view(kRouteName), track ? std::string_view(track->name) : "none"});
  };
  if (!track) return *lookup();
  auto& slot = (*track->metrics).*cached;
  metrics::Counter* c = slot.load(std::memory_order_acquire);
  if (!c) {
    c = lookup();
    slot.store(c, std::memory_order_release);
  }
  return *c;
}

void Proxy::record(Exchange& ex, unsigned status, double latency, bool gateway_generated) {
  const auto now = Endpoint::Clock::now();
  const std::string_view track = ex.track ? std::string_view(ex.track->name) : "none";
  request_counter(ex.track, status).inc();
  duration_histogram(ex.track).observe(latency);
  if (ex.cmcd) {
    cmcd_counter(metrics_.cmcd_requests, ex.track, &TrackMetricCache::cmcd_requests).inc();
    if (ex.cmcd_malformed) {
      cmcd_counter(metrics_.cmcd_malformed, ex.track, &TrackMetricCache::cmcd_malformed).inc();
    }
  }
  if (ex.track && ex.upstream_seconds) upstream_histogram(*ex.track).observe(*ex.upstream_seconds);
  if (ex.track) {
    ex.track->stats->record(now, static_cast<int>(status), latency, gateway_generated,
                            ex.upstream_seconds);
  }
  if (ex.track && ex.stream.kind != HlsKind::kNone) {
    record_stream(state_, metrics_, *ex.track, ex.stream, status, now);
  }
  if (ex.endpoint) {
    ex.endpoint->stats().record(now, static_cast<int>(status), latency, gateway_generated,
                                ex.upstream_seconds);
  }
  if (options_.access_log) {
    log::write(status >= 500 ? log::Level::kError : log::Level::kInfo, "proxied",
               {{"method", ex.head.method},
                {"path", ex.head.target},
                {"status", status},
                {"track", track},
                {"endpoint", ex.endpoint ? std::string_view(ex.endpoint->address()) : "none"},
                {"latency_ms", latency * 1000},
                {"request_id", ex.head.ctx.request_id}});
  }
}

asio::awaitable<bool> Proxy::fail(http::ServerConnection& conn, Exchange& ex, bhttp::status status,
                                  const char* reason, std::string message) {
  http::Response res = http::json_error(status, reason, message);
  if (ex.track) res.msg.set("X-StreamGate-Track", ex.track->name);
  metrics_.errors.with({kRouteName, ex.track ? std::string_view(ex.track->name) : "none", reason})
      .inc();
  http::CompletedExchange done;
  const bool keep = co_await conn.send(std::move(res), ex.head, ex.client_keep_alive, done);
  record(ex, done.status, done.latency_seconds, true);
  co_return keep;
}

void Proxy::on_protocol_error(const http::CompletedExchange& done) {
  metrics_.requests.with({kRouteName, "none", std::to_string(done.status)}).inc();
  metrics_.errors.with({kRouteName, "none", "bad_request"}).inc();
}

}  // namespace sg::gateway
