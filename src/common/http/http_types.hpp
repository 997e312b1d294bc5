// The contract between the HTTP server (src/common/http/http_server) and an application.
// Handlers are synchronous: they take a parsed request and return a Response. That keeps them
// directly testable and fuzzable without sockets; the server does all the I/O (reading,
// streaming bodies, sendfile, timeouts).
//
// Order of calls for one request: admit() and plan_body() on the I/O thread from the head
// alone (nothing of the body is read yet, no 100 Continue sent); then the body is read (or
// streamed into open_sink()'s sink); then handle_nonblocking() on the I/O thread, and when it
// declines, handle() -- on the server's blocking pool when it has one
// (ServerOptions::blocking_threads), else on the I/O thread. open_sink(), BodySink::write()
// and BodySink::finish() run on the blocking pool too when there is one.
#pragma once

#include <boost/beast/http.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace sg::http {

namespace bhttp = boost::beast::http;

using RequestHeader = bhttp::request_header<>;
using Request = bhttp::request<bhttp::string_body>;

// A byte range of an open file, sent with sendfile(2) instead of a body string.
struct FileSlice {
  UniqueFd fd;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

struct Response {
  bhttp::response<bhttp::string_body> msg{bhttp::status::ok, 11};
  std::optional<FileSlice> file;  // when set, msg.body() is ignored
  // The route template for metrics and logs ("/api/v1/content/{id}"); must point to
  // static storage. "unknown" for unmatched paths.
  std::string_view route = "unknown";
  // Waited (without blocking the thread) before the response is sent; fault injection.
  std::chrono::milliseconds delay{0};
};

struct RequestContext {
  std::string request_id;
  std::chrono::steady_clock::time_point start;
};

// What the server observed for one finished exchange, for logs and metrics.
struct CompletedExchange {
  std::string_view method;
  std::string_view target;
  std::string_view route;
  std::string_view request_id;
  unsigned status = 0;
  double latency_seconds = 0;
  std::uint64_t body_bytes_sent = 0;
  bool completed = true;  // false when the connection failed while sending
};

// Receives a streamed request body chunk by chunk (media uploads).
class BodySink {
 public:
  virtual ~BodySink() = default;
  // Called for each chunk in order. An error aborts the upload; the server answers with it.
  virtual Status write(std::string_view chunk) = 0;
  // The whole body arrived; commit and return the response.
  virtual Response finish() = 0;
  // If the sink is destroyed without finish(), it must discard what it wrote.
};

struct BodyPlan {
  enum class Mode { kBuffered, kStream } mode = Mode::kBuffered;
  std::uint64_t limit = 1024 * 1024;  // maximum body size in bytes
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Screens a request from its head alone, before any byte of its body is read: a Response
  // refuses it (typically 401/403 without a valid token, 404, 405, 413) and no 100 Continue
  // goes out; the connection then closes when a body was announced, since it stays unread.
  // nullopt admits the request. Runs on the I/O thread: must not block.
  virtual std::optional<Response> admit(const RequestHeader& /*head*/,
                                        const RequestContext& /*ctx*/) {
    return std::nullopt;
  }
  // Decides, from the header alone, how the body is to be read.
  virtual BodyPlan plan_body(const RequestHeader& /*head*/) { return {}; }
  // Answers a buffered request on the I/O thread when that needs nothing that may block (a
  // probe, a hit in an in-process cache); nullopt hands it to handle().
  virtual std::optional<Response> handle_nonblocking(Request& /*req*/,
                                                     const RequestContext& /*ctx*/) {
    return std::nullopt;
  }
  // Handles a request whose body was buffered (plan kBuffered). May block when the server
  // has a blocking pool.
  virtual Response handle(Request& req, const RequestContext& ctx) = 0;
  // Starts a streamed body (plan kStream): a sink, or a response that ends the exchange
  // without reading the body (the connection is then closed if a body was announced).
  virtual std::variant<std::unique_ptr<BodySink>, Response> open_sink(const RequestHeader& head,
                                                                      const RequestContext& ctx);
  // Called after every exchange, including protocol errors answered by the server itself.
  virtual void on_complete(const CompletedExchange& /*exchange*/) {}
};

// A JSON response: `value` as one line of compact JSON (json_text) and a newline.
Response json_response(const boost::json::value& value, bhttp::status status = bhttp::status::ok);
// A response with the JSON error shape {"error":{"code":...,"message":...}}.
Response json_error(bhttp::status status, std::string_view code, std::string_view message);
// The HTTP status for an ErrorCode and the JSON error response for an Error.
bhttp::status status_for(ErrorCode code);
Response error_response(const Error& error);

// Returns `incoming` if it is an acceptable request id (1..128 chars of [A-Za-z0-9._:-]),
// otherwise a fresh random one.
std::string request_id_for(std::string_view incoming);

}  // namespace sg::http
