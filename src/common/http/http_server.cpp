#include "common/http/http_server.hpp"

#include <sys/sendfile.h>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <thread>
#include <unordered_set>

#include "common/log.hpp"

namespace sg::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using asio::experimental::awaitable_operators::operator||;
using error_code = boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kUploadChunk = 256 * 1024;
constexpr std::size_t kSendfileChunk = 4 * 1024 * 1024;

bool is_parse_error(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message &&
         ec != bhttp::error::need_buffer;
}

// The answer to a failed read of a request, or nothing when the peer went away or timed out
// (beast::tcp_stream closes the socket on timeout, so there is no one left to answer).
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

struct InFlight {
  explicit InFlight(std::atomic<std::int64_t>& c) : counter(c) { ++counter; }
  ~InFlight() { --counter; }
  std::atomic<std::int64_t>& counter;
};

}  // namespace

struct ConnState {
  beast::tcp_stream* stream = nullptr;
  bool idle = true;
  bool close_requested = false;
};

struct HttpServer::Worker {
  // Declared before `io` so it outlives the coroutine frames `io` destroys.
  std::unordered_set<ConnState*> connections;
  asio::io_context io{1};
  std::optional<tcp::acceptor> acceptor;  // only on the first worker
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::thread thread;
};

class Session {
 public:
  Session(HttpServer& server, HttpServer::Worker& worker, tcp::socket socket)
      : server_(server), worker_(worker), opts_(server.options_), stream_(std::move(socket)) {
    state_.stream = &stream_;
    worker_.connections.insert(&state_);
    ++server_.connections_;
  }
  ~Session() {
    worker_.connections.erase(&state_);
    --server_.connections_;
  }

  asio::awaitable<void> run() {
    bool first = true;
    while (!state_.close_requested) {
      if (buffer_.size() == 0) {
        // Idle between requests: the keep-alive timeout applies until the first byte.
        state_.idle = true;
        stream_.expires_after(first ? opts_.header_timeout : opts_.idle_timeout);
        auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(8192), kTuple);
        state_.idle = false;
        if (ec) co_return;
        buffer_.commit(n);
      }
      first = false;
      // From the first byte, the whole head must arrive within header_timeout.
      stream_.expires_after(opts_.header_timeout);
      bhttp::request_parser<bhttp::empty_body> head_parser;
      head_parser.header_limit(opts_.header_limit);
      // The body limit depends on the route; exchange() enforces it once the head is known.
      head_parser.body_limit(boost::none);
      auto [ec, n] = co_await bhttp::async_read_header(stream_, buffer_, head_parser, kTuple);
      const auto start = std::chrono::steady_clock::now();
      if (ec) {
        if (auto res = read_error_response(ec)) {
          RequestContext ctx{request_id_for({}), start};
          co_await send(std::move(*res), ctx, "", "", 11, false, false);
        }
        co_return;
      }
      InFlight in_flight(server_.in_flight_);
      if (!co_await exchange(head_parser, start)) {
        co_await close_gracefully();
        co_return;
      }
    }
  }

 private:
  asio::awaitable<bool> exchange(bhttp::request_parser<bhttp::empty_body>& head_parser,
                                 std::chrono::steady_clock::time_point start) {
    const RequestHeader& head = head_parser.get().base();
    RequestContext ctx{request_id_for(head["X-Request-Id"]), start};
    const std::string method(head.method_string());
    const std::string target(head.target());
    const unsigned version = head.version();
    const bool wants_keep_alive = head_parser.get().keep_alive();
    const bool head_only = head.method() == bhttp::verb::head;

    BodyPlan plan;
    Response res;
    bool must_close = false;
    bool planned = true;
    try {
      plan = server_.handler_.plan_body(head);
    } catch (const std::exception& e) {
      log::error("handler failed", {{"error", e.what()}, {"request_id", ctx.request_id}});
      planned = false;
    }
    if (!planned) {
      res = json_error(bhttp::status::internal_server_error, "internal", "internal error");
      must_close = true;
    } else if (plan.mode == BodyPlan::Mode::kBuffered && head_parser.content_length() &&
               *head_parser.content_length() > plan.limit) {
      // Beast checks Content-Length against the limit only while parsing the head.
      res = json_error(bhttp::status::payload_too_large, "too_large",
                       "request body of " + std::to_string(*head_parser.content_length()) +
                           " bytes exceeds the limit of " + std::to_string(plan.limit));
      must_close = true;
    } else if (plan.mode == BodyPlan::Mode::kBuffered) {
      bhttp::request_parser<bhttp::string_body> parser(std::move(head_parser));
      parser.body_limit(plan.limit);
      bool ok = true;
      if (!parser.is_done()) {
        co_await maybe_continue(parser.get().base());
        stream_.expires_after(opts_.body_timeout);
        auto [ec, n] = co_await bhttp::async_read(stream_, buffer_, parser, kTuple);
        if (ec) {
          auto err = read_error_response(ec);
          if (!err) co_return false;
          res = std::move(*err);
          must_close = true;
          ok = false;
        }
      }
      if (ok) {
        Request req = parser.release();
        try {
          res = server_.handler_.handle(req, ctx);
        } catch (const std::exception& e) {
          log::error("handler failed", {{"error", e.what()}, {"request_id", ctx.request_id}});
          res = json_error(bhttp::status::internal_server_error, "internal", "internal error");
        }
      }
    } else {
      bhttp::request_parser<bhttp::buffer_body> parser(std::move(head_parser));
      parser.body_limit(plan.limit);
      std::variant<std::unique_ptr<BodySink>, Response> opened;
      try {
        opened = server_.handler_.open_sink(parser.get().base(), ctx);
      } catch (const std::exception& e) {
        log::error("handler failed", {{"error", e.what()}, {"request_id", ctx.request_id}});
        opened = json_error(bhttp::status::internal_server_error, "internal", "internal error");
      }
      if (auto* early = std::get_if<Response>(&opened)) {
        res = std::move(*early);
        must_close = !parser.is_done();
      } else {
        auto sink = std::move(std::get<std::unique_ptr<BodySink>>(opened));
        std::optional<Response> failure = co_await stream_body(parser, *sink);
        if (failure) {
          res = std::move(*failure);
          must_close = true;
        } else {
          try {
            res = sink->finish();
          } catch (const std::exception& e) {
            log::error("upload commit failed",
                       {{"error", e.what()}, {"request_id", ctx.request_id}});
            res = json_error(bhttp::status::internal_server_error, "internal", "internal error");
          }
        }
      }
    }
    const bool keep = wants_keep_alive && !must_close;
    co_return co_await send(std::move(res), ctx, method, target, version, keep, head_only);
  }

  // Reads a streamed body into `sink`. Returns an error response on failure.
  asio::awaitable<std::optional<Response>> stream_body(
      bhttp::request_parser<bhttp::buffer_body>& parser, BodySink& sink) {
    co_await maybe_continue(parser.get().base());
    auto chunk = std::make_unique<char[]>(kUploadChunk);
    const auto deadline = std::chrono::steady_clock::now() + opts_.upload_timeout;
    while (!parser.is_done()) {
      parser.get().body().data = chunk.get();
      parser.get().body().size = kUploadChunk;
      stream_.expires_at(std::min(std::chrono::steady_clock::now() + opts_.body_timeout, deadline));
      auto [ec, n] = co_await bhttp::async_read(stream_, buffer_, parser, kTuple);
      if (ec == bhttp::error::need_buffer) ec = {};
      const std::size_t got = kUploadChunk - parser.get().body().size;
      if (got > 0) {
        Status st = sink.write(std::string_view(chunk.get(), got));
        if (!st) co_return error_response(st.error());
      }
      if (ec) {
        if (auto err = read_error_response(ec)) co_return err;
        co_return json_error(bhttp::status::bad_request, "incomplete_body",
                             "the request body ended early: " + ec.message());
      }
    }
    co_return std::nullopt;
  }

  asio::awaitable<void> maybe_continue(const RequestHeader& head) {
    if (beast::iequals(head[bhttp::field::expect], "100-continue")) {
      bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
      stream_.expires_after(opts_.write_timeout);
      co_await bhttp::async_write(stream_, cont, kTuple);
    }
  }

  // Sends `res`; returns true when the connection stays open for another request.
  asio::awaitable<bool> send(Response res, const RequestContext& ctx, std::string_view method,
                             std::string_view target, unsigned version, bool keep_alive,
                             bool head_only) {
    auto& msg = res.msg;
    msg.version(version == 10 ? 10 : 11);
    for (const auto& [name, value] : opts_.response_headers) msg.set(name, value);
    msg.set("X-Request-Id", ctx.request_id);
    keep_alive = keep_alive && !state_.close_requested && server_.accepting_.load();
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
    CompletedExchange done;
    done.method = method;
    done.target = target;
    done.route = res.route;
    done.request_id = ctx.request_id;
    done.status = code;
    done.latency_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx.start).count();
    done.body_bytes_sent = sent;
    done.completed = ok;
    try {
      server_.handler_.on_complete(done);
    } catch (const std::exception& e) {
      log::error("completion hook failed", {{"error", e.what()}});
    }
    co_return ok&& keep_alive;
  }

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
  beast::flat_buffer buffer_;
  ConnState state_;
};

namespace {

asio::awaitable<void> run_session(HttpServer& server, HttpServer::Worker& worker, tcp::socket s) {
  Session session(server, worker, std::move(s));
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

HttpServer::HttpServer(ServerOptions options, Handler& handler)
    : options_(std::move(options)), handler_(handler) {}

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
  const unsigned n =
      options_.threads ? options_.threads : std::max(1u, std::thread::hardware_concurrency());
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
  accepting_ = true;
  asio::co_spawn(first->io, accept_loop(), log_coroutine_failure);
  for (auto& wp : workers_) {
    Worker* w = wp.get();
    // Keeps idle workers running until stop().
    w->guard.emplace(w->io.get_executor());
    w->thread = std::thread([w] { w->io.run(); });
  }
  return Status::ok();
}

asio::awaitable<void> HttpServer::accept_loop() {
  Worker* first = workers_.front().get();
  std::size_t next = 0;
  for (;;) {
    Worker* w = workers_[next++ % workers_.size()].get();
    auto [ec, sock] = co_await first->acceptor->async_accept(w->io, kTuple);
    if (ec == asio::error::operation_aborted || !first->acceptor->is_open()) co_return;
    if (ec) {
      // Out of fds or similar: back off briefly instead of spinning.
      log::warn("accept failed", {{"error", ec.message()}});
      asio::steady_timer t(first->io, std::chrono::milliseconds(50));
      co_await t.async_wait(kTuple);
      continue;
    }
    if (connections_.load() >= static_cast<std::int64_t>(options_.max_connections)) {
      error_code ignored;
      sock.close(ignored);
      continue;
    }
    error_code ignored;
    sock.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(w->io, run_session(*this, *w, std::move(sock)), log_coroutine_failure);
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
  for (auto& w : workers_) w->io.stop();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

}  // namespace sg::http
