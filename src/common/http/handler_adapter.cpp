// Serves a synchronous Handler on a ServerConnection: decides the body plan, reads a buffered
// body or streams it into a BodySink, calls the handler, sends its Response.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

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
    Response res;
    bool must_close = false;
    std::optional<BodyPlan> plan;
    try {
      plan = handler_.plan_body(head);
    } catch (const std::exception& e) {
      res = internal_error("handler failed", e, info.ctx);
      must_close = true;
    }
    if (plan && plan->mode == BodyPlan::Mode::kBuffered && head_parser.content_length() &&
        *head_parser.content_length() > plan->limit) {
      // Beast checks Content-Length against the limit only while parsing the head.
      res = json_error(bhttp::status::payload_too_large, "too_large",
                       "request body of " + std::to_string(*head_parser.content_length()) +
                           " bytes exceeds the limit of " + std::to_string(plan->limit));
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
    try {
      handler_.on_complete(done);
    } catch (const std::exception& e) {
      log::error("completion hook failed", {{"error", e.what()}});
    }
    co_return keep;
  }

  void on_protocol_error(const CompletedExchange& done) override {
    try {
      handler_.on_complete(done);
    } catch (const std::exception& e) {
      log::error("completion hook failed", {{"error", e.what()}});
    }
  }

 private:
  // Reads the whole body (bounded by `limit`) and calls the handler. nullopt: peer gone.
  asio::awaitable<std::optional<std::pair<Response, bool>>> buffered(ServerConnection& conn,
                                                                     HeadParser& head_parser,
                                                                     std::uint64_t limit,
                                                                     const RequestContext& ctx) {
    bhttp::request_parser<bhttp::string_body> parser(std::move(head_parser));
    parser.body_limit(limit);
    if (!parser.is_done()) {
      co_await conn.continue_if_expected(parser.get().base());
      conn.stream().expires_after(conn.options().body_timeout);
      auto [ec, n] = co_await bhttp::async_read(conn.stream(), conn.buffer(), parser, kTuple);
      if (ec) {
        auto err = read_error_response(ec);
        if (!err) co_return std::nullopt;
        co_return std::make_pair(std::move(*err), true);
      }
    }
    Request req = parser.release();
    try {
      co_return std::make_pair(handler_.handle(req, ctx), false);
    } catch (const std::exception& e) {
      co_return std::make_pair(internal_error("handler failed", e, ctx), false);
    }
  }

  // Streams the body into the handler's sink; returns the response and whether to close.
  asio::awaitable<std::pair<Response, bool>> streamed(ServerConnection& conn,
                                                      HeadParser& head_parser, std::uint64_t limit,
                                                      const RequestContext& ctx) {
    bhttp::request_parser<bhttp::buffer_body> parser(std::move(head_parser));
    parser.body_limit(limit);
    std::variant<std::unique_ptr<BodySink>, Response> opened;
    try {
      opened = handler_.open_sink(parser.get().base(), ctx);
    } catch (const std::exception& e) {
      opened = internal_error("handler failed", e, ctx);
    }
    if (auto* early = std::get_if<Response>(&opened)) {
      co_return std::make_pair(std::move(*early), !parser.is_done());
    }
    auto sink = std::move(std::get<std::unique_ptr<BodySink>>(opened));
    if (auto failure = co_await pump(conn, parser, *sink)) {
      co_return std::make_pair(std::move(*failure), true);
    }
    try {
      co_return std::make_pair(sink->finish(), false);
    } catch (const std::exception& e) {
      co_return std::make_pair(internal_error("upload commit failed", e, ctx), false);
    }
  }

  // Moves body chunks from the connection into `sink`. An error response on failure.
  asio::awaitable<std::optional<Response>> pump(ServerConnection& conn,
                                                bhttp::request_parser<bhttp::buffer_body>& parser,
                                                BodySink& sink) {
    co_await conn.continue_if_expected(parser.get().base());
    auto chunk = std::make_unique<char[]>(kUploadChunk);
    const auto& opts = conn.options();
    const auto deadline = std::chrono::steady_clock::now() + opts.upload_timeout;
    while (!parser.is_done()) {
      parser.get().body().data = chunk.get();
      parser.get().body().size = kUploadChunk;
      conn.stream().expires_at(
          std::min(std::chrono::steady_clock::now() + opts.body_timeout, deadline));
      auto [ec, n] = co_await bhttp::async_read(conn.stream(), conn.buffer(), parser, kTuple);
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

  Handler& handler_;
};

}  // namespace

std::unique_ptr<ConnectionHandler> make_handler_adapter(Handler& handler) {
  return std::make_unique<HandlerAdapter>(handler);
}

}  // namespace sg::http
