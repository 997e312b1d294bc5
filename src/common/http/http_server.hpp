// HTTP/1.1 server on Boost.Asio + Beast with C++20 coroutines.
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
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/http/http_types.hpp"
#include "common/result.hpp"

namespace sg::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9090;                  // 0 = an ephemeral port, see HttpServer::port()
  unsigned threads = 0;                       // 0 = one per core
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

class HttpServer {
 public:
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
  std::int64_t connections() const { return connections_.load(); }

  struct Worker;

 private:
  boost::asio::awaitable<void> accept_loop();
  ServerOptions options_;
  Handler& handler_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::uint16_t bound_port_ = 0;
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::int64_t> connections_{0};
  std::atomic<bool> accepting_{false};
  friend class Session;
};

}  // namespace sg::http
