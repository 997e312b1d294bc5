// HTTP/1.1 server on Boost.Asio + Beast with C++20 coroutines.
//
// Two kinds of applications plug in: a synchronous Handler (http_types.hpp; the server reads
// bodies and writes responses for it), or a ConnectionHandler that drives each exchange
// itself on the ServerConnection (a proxy streaming to and from an upstream). Either way the
// server owns accepting, the keep-alive loop, head parsing with limits and timeouts,
// connection tracking and the graceful stop.
//
// One io_context per worker thread; one listener hands accepted connections round-robin to
// the workers. A connection lives on one worker thread, and the Handler is called there.
// Keep-alive, pipelined requests answered in order, header/body size limits, an idle timeout
// between requests and a separate (shorter) timeout for reading a request head, so a slowloris
// client cannot pin a connection. Responses carrying a FileSlice are sent with sendfile(2).
//
// Lifecycle: start() binds and runs the workers; stop_accepting() closes the listeners, closes
// idle keep-alive connections and makes busy ones close after their current response;
// wait_idle() waits for in-flight exchanges to end; stop() ends the workers. All four may be
// called from any thread (not from a worker thread).
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/http/http_types.hpp"
#include "common/http/lazy_deadline.hpp"
#include "common/result.hpp"

namespace sg::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9090;  // 0 = an ephemeral port, see HttpServer::port()
  unsigned threads = 0;       // 0 = one per CPU this process may use
  // Pins worker i to the i-th CPU this process may use (round robin when there are more
  // workers than CPUs), so two workers never queue for one core while another idles. Off by
  // default: a pinned worker cannot move away from a CPU that something else keeps busy.
  bool pin_workers = false;
  // Worker threads are named "<thread_name>-<i>" (cut to 15 bytes), for top -H and perf.
  std::string thread_name = "sg-http";
  std::uint32_t header_limit = 16 * 1024;     // bytes of request line + headers
  std::chrono::seconds header_timeout{10};    // to receive a whole request head
  std::chrono::seconds idle_timeout{60};      // keep-alive wait for the next request
  std::chrono::seconds body_timeout{30};      // between two chunks of a body
  std::chrono::seconds upload_timeout{3600};  // whole streamed body
  std::chrono::seconds write_timeout{60};     // without progress while sending
  std::uint32_t max_connections = 10000;      // more are closed at accept
  // Added to every response, including errors the server produces itself.
  std::vector<std::pair<std::string, std::string>> response_headers;
};

using HeadParser = bhttp::request_parser<bhttp::empty_body>;

// What is known of a request when its response is sent.
struct ExchangeHead {
  RequestContext ctx;
  std::string method;
  std::string target;
  unsigned version = 11;
  bool head_only = false;  // HEAD: send the head, never a body
};

// One client connection as a ConnectionHandler sees it, valid during serve(). Lives on one
// worker thread.
class ServerConnection {
 public:
  virtual ~ServerConnection() = default;
  virtual boost::beast::tcp_stream& stream() = 0;
  // The deadline for reading the client socket. read_head / read_body_some (parse_read.hpp)
  // read the socket directly, so the stream's own expiry does not time them: a handler
  // reading the body that way sets this before each read and disarms it after.
  virtual LazyDeadline& read_deadline() = 0;
  // Bytes already read from the client beyond the request head (pipelining, body start).
  virtual boost::beast::flat_buffer& buffer() = 0;
  virtual const ServerOptions& options() const = 0;
  // True once the server is stopping: the current response should close the connection.
  virtual bool closing() const = 0;
  // The client's IP address as text ("" if unknown), looked up once per connection.
  virtual const std::string& peer_address() const = 0;
  // Writes "100 Continue" when the request carries "Expect: 100-continue".
  virtual boost::asio::awaitable<void> continue_if_expected(const RequestHeader& head) = 0;
  // Sends a complete response (string body or FileSlice), adding the server's response
  // headers, X-Request-Id, Content-Length and Connection. `done` receives what was sent.
  // Returns true when the connection may serve another request.
  virtual boost::asio::awaitable<bool> send(Response res, const ExchangeHead& head, bool keep_alive,
                                            CompletedExchange& done) = 0;
};

class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  // Serves one request whose head `parser` has read (body unread). Returns true to keep the
  // connection for the next request.
  virtual boost::asio::awaitable<bool> serve(ServerConnection& conn, HeadParser& parser,
                                             std::chrono::steady_clock::time_point start) = 0;
  // The server answered an unparseable request itself (400/413/431).
  virtual void on_protocol_error(const CompletedExchange& /*exchange*/) {}
};

// The index (0..threads-1) of the HttpServer worker thread running the caller, so handlers
// can keep per-thread state without locks. Only meaningful on a worker thread.
unsigned current_worker();

// Adapts a synchronous Handler: buffered or streamed bodies, limits, 100-continue.
std::unique_ptr<ConnectionHandler> make_handler_adapter(Handler& handler);

// The answer to a failed read of a request: 400/413/431 as JSON, or nothing when the peer
// went away or timed out (beast::tcp_stream closes the socket on timeout).
std::optional<Response> read_error_response(const boost::system::error_code& ec);

class HttpServer {
 public:
  HttpServer(ServerOptions options, ConnectionHandler& handler);
  // Serves a synchronous Handler through make_handler_adapter().
  HttpServer(ServerOptions options, Handler& handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the listeners and starts the worker threads.
  Status start();
  // The bound port (useful with port 0).
  std::uint16_t port() const { return bound_port_; }

  void stop_accepting();
  // Waits until no exchange is in flight and no connection is open, or the deadline passes.
  // Returns true when idle.
  bool wait_idle(std::chrono::steady_clock::time_point deadline);
  void stop();

  std::int64_t in_flight() const { return in_flight_.load(); }
  // Worker threads (after start()).
  unsigned threads() const { return static_cast<unsigned>(workers_.size()); }
  std::int64_t connections() const { return connections_.load(); }

  struct Worker;

 private:
  boost::asio::awaitable<void> accept_loop();
  ServerOptions options_;
  std::unique_ptr<ConnectionHandler> owned_handler_;
  ConnectionHandler& handler_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::uint16_t bound_port_ = 0;
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::int64_t> connections_{0};
  std::atomic<bool> accepting_{false};
  friend class Session;
};

}  // namespace sg::http
