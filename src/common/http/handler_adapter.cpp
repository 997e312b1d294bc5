// Serves a synchronous Handler on a ServerConnection: screens the head (admit, body plan),
// reads a buffered body or streams it into a BodySink, calls the handler -- on the blocking
// pool when the server has one -- and sends its Response.
//
// Nothing of a body is read before the handler admitted the request from its head, and a
// buffered body holds only the bytes that arrived (GrowingStringBody), taken from the
// server's BodyBudget before they are held.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/http/growing_body.hpp"
#include "common/http/http_server.hpp"
#include "common/log.hpp"

namespace sg::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kUploadChunk = 256 * 1024;

Response internal_error(const char* what, const std::exception& e, const RequestContext& ctx) {
  log::error(what, {{"error", e.what()}, {"request_id", ctx.request_id}});
  return json_error(bhttp::status::internal_server_error, "internal", "internal error");
}

Response busy(std::string_view what) {
  Response r = json_error(bhttp::status::service_unavailable, "overloaded",
                          std::string(what) + "; retry shortly");
  r.msg.set(bhttp::field::retry_after, "1");
  return r;
}

Response too_large(std::uint64_t length, std::uint64_t limit) {
  return json_error(bhttp::status::payload_too_large, "too_large",
                    "request body of " + std::to_string(length) + " bytes exceeds the limit of " +
                        std::to_string(limit));
}

// What reading a body came to.
struct BodyRead {
  enum class Kind { kDone, kFailed, kGone } kind = Kind::kDone;
  Response response;  // with kFailed: the answer (the connection then closes)
};

class HandlerAdapter final : public ConnectionHandler {
 public:
  explicit HandlerAdapter(Handler& handler) : handler_(handler) {}

  asio::awaitable<bool> serve(ServerConnection& conn, HeadParser& head_parser,
                              std::chrono::steady_clock::time_point start) override {
    const RequestHeader& head = head_parser.get().base();
    ExchangeHead info{RequestContext{request_id_for(head["X-Request-Id"]), start},
                      std::string(head.method_string()), std::string(head.target()), head.version(),
                      head.method() == bhttp::verb::head};
    const bool wants_keep_alive = head_parser.get().keep_alive();
    const bool has_body = head_parser.chunked() || head_parser.content_length().value_or(0) > 0;
    Response res;
    bool must_close = false;
    std::optional<BodyPlan> plan;
    try {
      if (auto refusal = handler_.admit(head, info.ctx)) {
        // Refused from the head: the body stays unread, so the connection cannot go on.
        res = std::move(*refusal);
        must_close = has_body;
      } else {
        plan = handler_.plan_body(head);
      }
    } catch (const std::exception& e) {
      res = internal_error("handler failed", e, info.ctx);
      must_close = true;
    }
    if (plan && plan->mode == BodyPlan::Mode::kBuffered && head_parser.content_length() &&
        *head_parser.content_length() > plan->limit) {
      // Beast checks Content-Length against the limit only while parsing the head.
      res = too_large(*head_parser.content_length(), plan->limit);
      must_close = true;
    } else if (plan && plan->mode == BodyPlan::Mode::kBuffered) {
      auto outcome = co_await buffered(conn, head_parser, plan->limit, info.ctx);
      if (!outcome) co_return false;  // the client went away
      std::tie(res, must_close) = std::move(*outcome);
    } else if (plan) {
      std::tie(res, must_close) = co_await streamed(conn, head_parser, plan->limit, info.ctx);
    }
    CompletedExchange done;
    const bool keep =
        co_await conn.send(std::move(res), info, wants_keep_alive && !must_close, done);
    complete(done);
    co_return keep;
  }

  void on_protocol_error(const CompletedExchange& done) override { complete(done); }

 private:
  void complete(const CompletedExchange& done) {
    try {
      handler_.on_complete(done);
    } catch (const std::exception& e) {
      log::error("completion hook failed", {{"error", e.what()}});
    }
  }

  // Reads the whole body (bounded by `limit` and the budget) and calls the handler.
  // nullopt: the peer went away.
  asio::awaitable<std::optional<std::pair<Response, bool>>> buffered(ServerConnection& conn,
                                                                     HeadParser& head_parser,
                                                                     std::uint64_t limit,
                                                                     const RequestContext& ctx) {
    bhttp::request_parser<GrowingStringBody> parser(std::move(head_parser));
    parser.body_limit(limit);
    BodyBudget::Lease lease(conn.body_budget());
    if (!parser.is_done()) {
      // A declared length is taken whole before a byte is read; a chunked body as it grows.
      if (auto cl = parser.content_length(); cl && !lease.hold(*cl)) {
        co_return std::make_pair(busy("the server holds as many request bodies as it may"), true);
      }
      co_await conn.continue_if_expected(parser.get().base());
      BodyRead read = co_await read_body(conn, parser, lease);
      if (read.kind == BodyRead::Kind::kGone) co_return std::nullopt;
      if (read.kind == BodyRead::Kind::kFailed) {
        co_return std::make_pair(std::move(read.response), true);
      }
    }
    Request req = to_request(parser.release());
    co_return std::make_pair(co_await respond(conn, req, ctx), false);
  }

  asio::awaitable<BodyRead> read_body(ServerConnection& conn,
                                      bhttp::request_parser<GrowingStringBody>& parser,
                                      BodyBudget::Lease& lease) {
    const auto& opts = conn.options();
    const auto deadline = std::chrono::steady_clock::now() + opts.upload_timeout;
    while (!parser.is_done()) {
      conn.stream().expires_at(
          std::min(std::chrono::steady_clock::now() + opts.body_timeout, deadline));
      auto [ec, n] = co_await bhttp::async_read_some(conn.stream(), conn.buffer(), parser, kTuple);
      if (ec) {
        conn.stream().expires_never();
        auto err = read_error_response(ec);
        if (!err) co_return BodyRead{BodyRead::Kind::kGone, {}};
        co_return BodyRead{BodyRead::Kind::kFailed, std::move(*err)};
      }
      if (!lease.hold(parser.get().body().capacity())) {
        conn.stream().expires_never();
        co_return BodyRead{BodyRead::Kind::kFailed,
                           busy("the server holds as many request bodies as it may")};
      }
    }
    conn.stream().expires_never();
    co_return BodyRead{};
  }

  // The handler's answer: on the I/O thread when it can give one without blocking, else from
  // handle() on the blocking pool (or inline without one).
  asio::awaitable<Response> respond(ServerConnection& conn, Request& req,
                                    const RequestContext& ctx) {
    try {
      if (auto fast = handler_.handle_nonblocking(req, ctx)) co_return std::move(*fast);
    } catch (const std::exception& e) {
      co_return internal_error("handler failed", e, ctx);
    }
    auto call = [&]() -> Response {
      try {
        return handler_.handle(req, ctx);
      } catch (const std::exception& e) {
        return internal_error("handler failed", e, ctx);
      }
    };
    BlockingPool* pool = conn.blocking_pool();
    if (!pool) co_return call();
    auto answered = co_await pool->run(call, true);
    if (!answered) co_return busy("the server has too many requests waiting for storage");
    co_return std::move(*answered);
  }

  // Runs `fn` on the blocking pool (unbounded: a step of an admitted request), else inline.
  template <class F>
  asio::awaitable<std::invoke_result_t<F&>> step(ServerConnection& conn, F fn) {
    BlockingPool* pool = conn.blocking_pool();
    if (!pool) co_return fn();
    co_return std::move(*co_await pool->run(std::move(fn), false));
  }

  // Streams the body into the handler's sink; returns the response and whether to close.
  asio::awaitable<std::pair<Response, bool>> streamed(ServerConnection& conn,
                                                      HeadParser& head_parser, std::uint64_t limit,
                                                      const RequestContext& ctx) {
    bhttp::request_parser<bhttp::buffer_body> parser(std::move(head_parser));
    parser.body_limit(limit);
    using Opened = std::variant<std::unique_ptr<BodySink>, Response>;
    auto open = [&]() -> Opened {
      try {
        return handler_.open_sink(parser.get().base(), ctx);
      } catch (const std::exception& e) {
        return internal_error("handler failed", e, ctx);
      }
    };
    Opened opened;
    if (BlockingPool* pool = conn.blocking_pool()) {
      auto r = co_await pool->run(open, true);
      opened = r ? std::move(*r) : Opened(busy("the server has too many requests waiting"));
    } else {
      opened = open();
    }
    if (auto* early = std::get_if<Response>(&opened)) {
      co_return std::make_pair(std::move(*early), !parser.is_done());
    }
    auto sink = std::move(std::get<std::unique_ptr<BodySink>>(opened));
    // The chunk buffer is body bytes held in memory: it comes from the budget too.
    BodyBudget::Lease lease(conn.body_budget());
    if (!parser.is_done() && !lease.hold(kUploadChunk)) {
      co_await step(conn, [&] {
        sink.reset();  // discards what it wrote, on the pool: it may touch the disk
        return 0;
      });
      co_return std::make_pair(busy("the server holds as many request bodies as it may"), true);
    }
    auto failure = co_await pump(conn, parser, *sink);
    co_return co_await step(conn, [&]() -> std::pair<Response, bool> {
      if (failure) {
        sink.reset();
        return {std::move(*failure), true};
      }
      try {
        return {sink->finish(), false};
      } catch (const std::exception& e) {
        return {internal_error("upload commit failed", e, ctx), false};
      }
    });
  }

  // Moves body chunks from the connection into `sink`. An error response on failure.
  asio::awaitable<std::optional<Response>> pump(ServerConnection& conn,
                                                bhttp::request_parser<bhttp::buffer_body>& parser,
                                                BodySink& sink) {
    co_await conn.continue_if_expected(parser.get().base());
    std::unique_ptr<char[]> chunk;
    const auto& opts = conn.options();
    const auto deadline = std::chrono::steady_clock::now() + opts.upload_timeout;
    while (!parser.is_done()) {
      if (!chunk) chunk = std::make_unique_for_overwrite<char[]>(kUploadChunk);
      parser.get().body().data = chunk.get();
      parser.get().body().size = kUploadChunk;
      conn.stream().expires_at(
          std::min(std::chrono::steady_clock::now() + opts.body_timeout, deadline));
      auto [ec, n] = co_await bhttp::async_read(conn.stream(), conn.buffer(), parser, kTuple);
      conn.stream().expires_never();
      if (ec == bhttp::error::need_buffer) ec = {};
      const std::size_t got = kUploadChunk - parser.get().body().size;
      if (got > 0) {
        const std::string_view bytes(chunk.get(), got);
        Status st = co_await step(conn, [&] { return sink.write(bytes); });
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

  Handler& handler_;
};

}  // namespace

std::unique_ptr<ConnectionHandler> make_handler_adapter(Handler& handler) {
  return std::make_unique<HandlerAdapter>(handler);
}

}  // namespace sg::http
