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
// A failing accept(2) (out of descriptors, say) backs off, doubling from 10 ms to 1 s while
// it keeps failing, and is counted (accept_errors()) and logged at most once per 10 s with
// the count since the last line, not once per attempt.
//
// Before a handler sees a request, the server answers itself: 400 for a malformed head or one
// breaking the Host rules of RFC 9112 3.2 (host_rules.hpp), 431 for an oversize head, 501 for
// a transfer coding it cannot frame. Every response gets the security headers
// (kSecurityResponseHeaders) it does not set itself.
//
// Lifecycle: start() binds and runs the workers (and the blocking pool); stop_accepting()
// closes the listeners, closes idle keep-alive connections and makes busy ones close after
// their current response; wait_idle() waits for in-flight exchanges to end; stop() lets the
// blocking pool's queued work finish, then ends the workers. All four may be called from any
// thread (not from a worker thread).
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

#include "common/http/blocking_pool.hpp"
#include "common/http/body_budget.hpp"
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
  // A connection waiting this long for its next request is parked: its session (buffers,
  // coroutine frames, timers) ends and only the socket and a wait for it to become readable
  // are kept, until a byte arrives (a new session then reads it) or the idle timeout closes
  // it. Busy keep-alive connections never wait this long, so they keep their session.
  std::chrono::milliseconds park_after{20};
  std::uint32_t max_connections = 10000;  // more are closed at accept (and counted)
  // Request-body bytes buffered in memory at once, over all connections (BodyBudget): a body
  // that does not fit is answered 503 from its head, before any byte of it is read.
  std::uint64_t max_buffered_body_bytes = 64ULL << 20;
  // Threads of the blocking pool (BlockingPool) that runs Handler::handle() and the sinks of
  // streamed bodies, and the calls it may hold queued or running (more are answered 503).
  // 0 threads: handlers run on the I/O threads (for handlers that never block).
  unsigned blocking_threads = 0;
  std::size_t blocking_queue = 1024;
  // Added to every response, including errors the server produces itself.
  std::vector<std::pair<std::string, std::string>> response_headers;
  // Added to every response that does not carry the field already (see
  // kSecurityResponseHeaders), so a handler may set its own policy, e.g. a page's CSP.
  bool security_headers = true;
};

// The security headers a response gets unless it sets them itself: X-Content-Type-Options:
// nosniff (browsers never guess a type), Referrer-Policy: no-referrer, X-Frame-Options: DENY
// and Content-Security-Policy: default-src 'none'; frame-ancestors 'none' (nothing a JSON or
// media response says may run, load or be framed).
inline constexpr std::pair<const char*, const char*> kSecurityResponseHeaders[] = {
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
    {"X-Frame-Options", "DENY"},
    {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
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
  // The server's budget of buffered body bytes (ServerOptions::max_buffered_body_bytes).
  virtual BodyBudget& body_budget() = 0;
  // The server's blocking pool, or null when handlers run on the I/O threads.
  virtual BlockingPool* blocking_pool() = 0;
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

class IdleSession;
class ConnectionSlot;

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
  // accept(2) failures (out of descriptors, say) and connections closed at accept because
  // max_connections were open, since start.
  std::uint64_t accept_errors() const { return accept_errors_.load(std::memory_order_relaxed); }
  std::uint64_t connections_rejected() const {
    return connections_rejected_.load(std::memory_order_relaxed);
  }
  const BodyBudget& body_budget() const { return body_budget_; }
  // The blocking pool (after start()), or null without one.
  const BlockingPool* blocking_pool() const { return pool_.get(); }

  struct Worker;

 private:
  boost::asio::awaitable<void> accept_loop();
  // Parking idle connections (ServerOptions::park_after); all on worker w's thread.
  void note_idle(Worker& w, IdleSession& session);
  void park(Worker& w, boost::asio::ip::tcp::socket socket, ConnectionSlot slot,
            std::chrono::steady_clock::time_point since, bool first);
  void arm_sweeper(Worker& w);
  void sweep(Worker& w);
  // A new session for a parked connection that became readable.
  void resume(Worker& w, boost::asio::ip::tcp::socket socket, ConnectionSlot slot, bool first);
  ServerOptions options_;
  std::unique_ptr<ConnectionHandler> owned_handler_;
  ConnectionHandler& handler_;
  BodyBudget body_budget_;
  std::unique_ptr<BlockingPool> pool_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::uint16_t bound_port_ = 0;
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::int64_t> connections_{0};
  std::atomic<std::uint64_t> accept_errors_{0};
  std::atomic<std::uint64_t> connections_rejected_{0};
  std::atomic<bool> accepting_{false};
  friend class Session;
};

}  // namespace sg::http
