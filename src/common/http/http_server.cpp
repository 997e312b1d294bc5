#include "common/http/http_server.hpp"

#include <sys/sendfile.h>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/intrusive/list.hpp>
#include <list>
#include <optional>
#include <thread>
#include <unordered_set>
#include <utility>

#include "common/cpu_affinity.hpp"
#include "common/http/host_rules.hpp"
#include "common/http/lazy_deadline.hpp"
#include "common/http/parse_read.hpp"
#include "common/http/server_worker.hpp"
#include "common/log.hpp"

namespace sg::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using asio::experimental::awaitable_operators::operator||;
using error_code = boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kSendfileChunk = 4 * 1024 * 1024;
// What the first read of a request may take: a typical request head.
constexpr std::size_t kFirstRead = 1024;

bool is_parse_error(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message &&
         ec != bhttp::error::need_buffer;
}

// RFC 9112 6.1: Beast frames a body as chunked only when chunked is the last coding; any
// other Transfer-Encoding (or one on HTTP/1.0) leaves the framing unknowable, and reading on
// would let the body's bytes pass for the next request. Answer and close instead.
std::optional<Response> framing_refusal(const bhttp::request_parser<bhttp::empty_body>& p) {
  const auto& h = p.get();
  if (h.find(bhttp::field::transfer_encoding) == h.end()) return std::nullopt;
  if (h.version() < 11) {
    return json_error(bhttp::status::bad_request, "bad_request",
                      "Transfer-Encoding is not allowed in an HTTP/1.0 request");
  }
  if (!p.chunked()) {
    return json_error(bhttp::status::not_implemented, "unsupported_transfer_coding",
                      "only the chunked transfer coding is supported");
  }
  return std::nullopt;
}

std::optional<Response> host_refusal(const RequestHeader& head) {
  if (auto problem = host_field_error(head)) {
    return json_error(bhttp::status::bad_request, "bad_request", *problem);
  }
  return std::nullopt;
}

void add_security_headers(bhttp::response<bhttp::string_body>& msg) {
  for (const auto& [name, value] : kSecurityResponseHeaders) {
    if (msg.find(name) == msg.end()) msg.set(name, value);
  }
}

struct InFlight {
  explicit InFlight(std::atomic<std::int64_t>& c) : counter(c) { ++counter; }
  ~InFlight() { --counter; }
  std::atomic<std::int64_t>& counter;
};

}  // namespace

std::optional<Response> read_error_response(const error_code& ec) {
  if (ec == bhttp::error::header_limit) {
    return json_error(bhttp::status::request_header_fields_too_large, "header_too_large",
                      "request line and headers exceed the header size limit");
  }
  if (ec == bhttp::error::body_limit) {
    return json_error(bhttp::status::payload_too_large, "too_large",
                      "request body exceeds the size limit for this route");
  }
  if (is_parse_error(ec)) {
    return json_error(bhttp::status::bad_request, "bad_request",
                      "malformed HTTP request: " + ec.message());
  }
  return std::nullopt;
}

thread_local unsigned t_current_worker = 0;

class Session final : public ServerConnection, public IdleSession {
 public:
  Session(HttpServer& server, HttpServer::Worker& worker, tcp::socket socket, ConnectionSlot slot,
          bool first)
      : server_(server),
        worker_(worker),
        opts_(server.options_),
        stream_(std::move(socket)),
        slot_(std::move(slot)),
        first_(first) {
    state_.stream = &stream_;
    worker_.connections.insert(&state_);
  }
  ~Session() { worker_.connections.erase(&state_); }

  void park() override {
    park_requested_ = true;
    error_code ignored;
    stream_.socket().cancel(ignored);
  }

  asio::awaitable<void> run() {
    while (!state_.close_requested) {
      if (buffer_.size() == 0) {
        // Idle between requests: the keep-alive timeout applies until the first byte; after
        // park_after the connection is parked (HttpServer::park) and this session ends.
        state_.idle = true;
        idle_since = std::chrono::steady_clock::now();
        server_.note_idle(worker_, *this);
        read_deadline_.expires_after(first_ ? opts_.header_timeout : opts_.idle_timeout);
        auto [ec, n] = co_await stream_.socket().async_read_some(
            DrainAwareBuffer(buffer_.prepare(kFirstRead)), kTuple);
        idle_hook.unlink();
        state_.idle = false;
        const bool park_requested = std::exchange(park_requested_, false);
        if (ec && park_requested && !state_.close_requested && n == 0) {
          read_deadline_.disarm();
          server_.park(worker_, stream_.release_socket(), std::move(slot_), idle_since, first_);
          co_return;
        }
        if (ec) co_return;
        buffer_.commit(n);
      }
      first_ = false;
      // From the first byte, the whole head must arrive within header_timeout.
      read_deadline_.expires_after(opts_.header_timeout);
      bhttp::request_parser<bhttp::empty_body> head_parser;
      head_parser.header_limit(opts_.header_limit);
      // The body limit depends on the route; exchange() enforces it once the head is known.
      head_parser.body_limit(boost::none);
      const error_code ec = co_await read_head(stream_, buffer_, head_parser);
      read_deadline_.disarm();  // the handler sets its own timeouts
      const auto start = std::chrono::steady_clock::now();
      std::optional<Response> refusal = ec ? read_error_response(ec) : framing_refusal(head_parser);
      if (!refusal && !ec) refusal = host_refusal(head_parser.get());
      if (refusal) {
        ExchangeHead head{RequestContext{request_id_for({}), start}, "", "", 11, false};
        CompletedExchange done;
        co_await send(std::move(*refusal), head, false, done);
        server_.handler_.on_protocol_error(done);
        co_await close_gracefully();
      }
      if (ec || refusal) co_return;
      InFlight in_flight(server_.in_flight_);
      if (!co_await server_.handler_.serve(*this, head_parser, start)) {
        co_await close_gracefully();
        co_return;
      }
    }
  }

  beast::tcp_stream& stream() override { return stream_; }
  LazyDeadline& read_deadline() override { return read_deadline_; }
  beast::flat_buffer& buffer() override { return buffer_; }
  const ServerOptions& options() const override { return opts_; }
  bool closing() const override { return state_.close_requested || !server_.accepting_.load(); }
  const std::string& peer_address() const override {
    if (!peer_known_) {
      peer_known_ = true;
      error_code ec;
      const auto peer = stream_.socket().remote_endpoint(ec);
      if (!ec) peer_address_ = peer.address().to_string();
    }
    return peer_address_;
  }
  BodyBudget& body_budget() override { return server_.body_budget_; }
  BlockingPool* blocking_pool() override { return server_.pool_.get(); }

  asio::awaitable<void> continue_if_expected(const RequestHeader& head) override {
    // HTTP/1.0 clients do not understand 1xx (RFC 9110 15.2).
    if (head.version() >= 11 && beast::iequals(head[bhttp::field::expect], "100-continue")) {
      bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
      stream_.expires_after(opts_.write_timeout);
      co_await bhttp::async_write(stream_, cont, kTuple);
    }
  }

  asio::awaitable<bool> send(Response res, const ExchangeHead& head, bool keep_alive,
                             CompletedExchange& done) override {
    const bool head_only = head.head_only;
    auto& msg = res.msg;
    msg.version(head.version == 10 ? 10 : 11);
    for (const auto& [name, value] : opts_.response_headers) msg.set(name, value);
    if (opts_.security_headers) add_security_headers(msg);
    msg.set("X-Request-Id", head.ctx.request_id);
    keep_alive = keep_alive && !closing();
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
    if (res.delay.count() > 0) {
      asio::steady_timer timer(stream_.get_executor(), res.delay);
      co_await timer.async_wait(kTuple);
    }
    stream_.expires_after(opts_.write_timeout);
    bhttp::response_serializer<bhttp::string_body> sr(msg);
    std::uint64_t sent = 0;
    error_code ec;
    if (no_body || head_only || res.file) {
      std::tie(ec, std::ignore) = co_await bhttp::async_write_header(stream_, sr, kTuple);
    } else {
      std::tie(ec, std::ignore) = co_await bhttp::async_write(stream_, sr, kTuple);
      if (!ec) sent = length;
    }
    bool ok = !ec;
    if (ok && res.file && !head_only && !no_body) ok = co_await send_file(*res.file, sent);
    stream_.expires_never();
    done.method = head.method;
    done.target = head.target;
    done.route = res.route;
    done.request_id = head.ctx.request_id;
    done.status = code;
    done.latency_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - head.ctx.start).count();
    done.body_bytes_sent = sent;
    done.completed = ok;
    co_return ok&& keep_alive;
  }

 private:
  asio::awaitable<bool> send_file(FileSlice& file, std::uint64_t& sent) {
    auto& sock = stream_.socket();
    error_code ec;
    sock.non_blocking(true, ec);
    if (ec) co_return false;
    off_t offset = static_cast<off_t>(file.offset);
    std::uint64_t left = file.length;
    asio::steady_timer timer(stream_.get_executor());
    while (left > 0) {
      ssize_t n =
          ::sendfile(sock.native_handle(), file.fd.get(), &offset,
                     static_cast<std::size_t>(std::min<std::uint64_t>(left, kSendfileChunk)));
      if (n > 0) {
        left -= static_cast<std::uint64_t>(n);
        sent += static_cast<std::uint64_t>(n);
        continue;
      }
      if (n == 0) co_return false;  // the file is shorter than announced
      if (errno == EINTR) continue;
      if (errno != EAGAIN) co_return false;
      timer.expires_after(opts_.write_timeout);
      auto r =
          co_await (sock.async_wait(tcp::socket::wait_write, kTuple) || timer.async_wait(kTuple));
      if (r.index() == 1 || std::get<0>(std::get<0>(r))) co_return false;
    }
    co_return true;
  }

  // Half-closes and drains what the peer still sends for a moment, so it reads our last
  // response instead of a reset.
  asio::awaitable<void> close_gracefully() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) co_return;
    stream_.expires_after(std::chrono::seconds(1));
    std::array<char, 4096> sink{};
    for (int i = 0; i < 256; ++i) {
      auto [rec, n] = co_await stream_.async_read_some(asio::buffer(sink), kTuple);
      if (rec) break;
    }
  }

  HttpServer& server_;
  HttpServer::Worker& worker_;
  const ServerOptions& opts_;
  beast::tcp_stream stream_;
  // Idle and head-read timeouts; the stream's own timer is left to the handlers' writes.
  LazyDeadline read_deadline_{
      stream_.get_executor(), stream_.socket(),
      std::min<std::chrono::steady_clock::duration>(opts_.header_timeout, opts_.idle_timeout)};
  beast::flat_buffer buffer_;
  ConnState state_;
  ConnectionSlot slot_;
  bool first_;  // no request read yet on this connection
  bool park_requested_ = false;
  mutable bool peer_known_ = false;
  mutable std::string peer_address_;
};

namespace {

asio::awaitable<void> run_session(HttpServer& server, HttpServer::Worker& worker, tcp::socket s,
                                  ConnectionSlot slot, bool first) {
  Session session(server, worker, std::move(s), std::move(slot), first);
  co_await session.run();
}

void log_coroutine_failure(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log::error("connection coroutine failed", {{"error", ex.what()}});
  }
}

}  // namespace

unsigned current_worker() { return t_current_worker; }

void HttpServer::resume(Worker& w, tcp::socket socket, ConnectionSlot slot, bool first) {
  asio::co_spawn(w.io, run_session(*this, w, std::move(socket), std::move(slot), first),
                 log_coroutine_failure);
}

HttpServer::HttpServer(ServerOptions options, ConnectionHandler& handler)
    : options_(std::move(options)),
      handler_(handler),
      body_budget_(options_.max_buffered_body_bytes) {}

HttpServer::HttpServer(ServerOptions options, Handler& handler)
    : options_(std::move(options)),
      owned_handler_(make_handler_adapter(handler)),
      handler_(*owned_handler_),
      body_budget_(options_.max_buffered_body_bytes) {}

HttpServer::~HttpServer() {
  stop();
  workers_.clear();
}

Status HttpServer::start() {
  error_code ec;
  std::string host = options_.host == "localhost" ? "127.0.0.1" : options_.host;
  auto address = asio::ip::make_address(host, ec);
  if (ec) {
    return make_error(ErrorCode::kInvalidArgument,
                      "listen address '" + options_.host + "' is not an IP address");
  }
  const unsigned n = options_.threads ? options_.threads : usable_cpu_count();
  for (unsigned i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>());
  // One listener (no SO_REUSEPORT, so a port already in use is an error, not a silent
  // share); accepted sockets are handed round-robin to the workers' io_contexts.
  Worker* first = workers_.front().get();
  tcp::acceptor& acc = first->acceptor.emplace(first->io);
  tcp::endpoint ep(address, options_.port);
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(1024, ec);
  if (ec) {
    workers_.clear();
    return make_error(ErrorCode::kUnavailable, "cannot listen on " + options_.host + ":" +
                                                   std::to_string(options_.port) + ": " +
                                                   ec.message());
  }
  bound_port_ = acc.local_endpoint().port();
  if (options_.blocking_threads > 0) {
    pool_ = std::make_unique<BlockingPool>(options_.blocking_threads, options_.blocking_queue,
                                           options_.thread_name + "-blk");
    pool_->start();
  }
  accepting_ = true;
  asio::co_spawn(first->io, accept_loop(), log_coroutine_failure);
  const std::vector<int> cpus = options_.pin_workers ? allowed_cpus() : std::vector<int>{};
  if (options_.pin_workers && cpus.size() < workers_.size()) {
    log::warn("more worker threads than CPUs to pin them to: some share a CPU",
              {{"threads", static_cast<std::int64_t>(workers_.size())},
               {"cpus", static_cast<std::int64_t>(cpus.size())}});
  }
  for (unsigned i = 0; i < workers_.size(); ++i) {
    Worker* w = workers_[i].get();
    // Keeps idle workers running until stop().
    w->guard.emplace(w->io.get_executor());
    const int cpu = cpus.empty() ? -1 : cpus[i % cpus.size()];
    w->thread = std::thread([w, i, cpu, name = options_.thread_name + "-" + std::to_string(i)] {
      t_current_worker = i;
      name_this_thread(name);
      if (cpu >= 0) {
        if (Status st = pin_this_thread(cpu); !st) {
          log::warn("worker thread not pinned", {{"error", st.error().message}});
        }
      }
      w->io.run();
    });
  }
  return Status::ok();
}

asio::awaitable<void> HttpServer::accept_loop() {
  Worker* first = workers_.front().get();
  std::size_t next = 0;
  // While accept keeps failing the pause doubles; one line per kAcceptLogEvery at most.
  constexpr auto kFirstPause = std::chrono::milliseconds(10);
  constexpr auto kLongestPause = std::chrono::milliseconds(1000);
  constexpr auto kAcceptLogEvery = std::chrono::seconds(10);
  auto pause = kFirstPause;
  std::uint64_t unlogged = 0;
  auto last_log = std::chrono::steady_clock::time_point{};
  for (;;) {
    Worker* w = workers_[next++ % workers_.size()].get();
    auto [ec, sock] = co_await first->acceptor->async_accept(w->io, kTuple);
    if (ec == asio::error::operation_aborted || !first->acceptor->is_open()) co_return;
    if (ec) {
      // Out of descriptors or similar: count it, back off instead of spinning, log rarely.
      accept_errors_.fetch_add(1, std::memory_order_relaxed);
      ++unlogged;
      const auto now = std::chrono::steady_clock::now();
      if (now - last_log >= kAcceptLogEvery) {
        log::warn("accept failing; backing off",
                  {{"error", ec.message()},
                   {"failures_since_last_line", unlogged},
                   {"pause_ms", static_cast<std::int64_t>(pause.count())},
                   {"open_connections", connections_.load()}});
        unlogged = 0;
        last_log = now;
      }
      asio::steady_timer t(first->io, pause);
      co_await t.async_wait(kTuple);
      pause = std::min(pause * 2, kLongestPause);
      continue;
    }
    pause = kFirstPause;
    if (connections_.load() >= static_cast<std::int64_t>(options_.max_connections)) {
      connections_rejected_.fetch_add(1, std::memory_order_relaxed);
      error_code ignored;
      sock.close(ignored);
      continue;
    }
    error_code ignored;
    sock.set_option(tcp::no_delay(true), ignored);
    enable_drain_aware_reads(sock);
    asio::co_spawn(w->io,
                   run_session(*this, *w, std::move(sock), ConnectionSlot(connections_), true),
                   log_coroutine_failure);
  }
}

void HttpServer::stop_accepting() {
  accepting_ = false;
  for (auto& wp : workers_) {
    Worker* w = wp.get();
    asio::post(w->io, [w] {
      error_code ec;
      if (w->acceptor) w->acceptor->close(ec);
      for (ConnState* c : w->connections) {
        c->close_requested = true;
        if (c->idle) c->stream->cancel();
      }
      for (ParkedList* list : {&w->parked_first, &w->parked_idle}) {
        for (ParkedConnection& p : *list) {
          p.closing = true;
          p.socket.cancel(ec);
        }
      }
    });
  }
}

bool HttpServer::wait_idle(std::chrono::steady_clock::time_point deadline) {
  while (connections_.load() > 0 || in_flight_.load() > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void HttpServer::stop() {
  // Work queued on the pool resumes its coroutine on a worker's io_context: finish it first.
  if (pool_) pool_->join();
  for (auto& w : workers_) w->io.stop();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

}  // namespace sg::http
