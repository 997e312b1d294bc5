// Internals of HttpServer shared by its translation units (http_server.cpp: accepting and
// sessions; server_parking.cpp: parking idle connections). Not part of the interface.
//
// Everything here belongs to one worker thread: its io_context runs the sessions, the parked
// connections' waits and the sweeper, and nothing else touches them (stop_accepting posts to
// the worker).
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/intrusive/list.hpp>
#include <chrono>
#include <cstdint>
#include <list>
#include <optional>
#include <thread>
#include <unordered_set>
#include <utility>

#include "common/http/http_server.hpp"

namespace sg::http {

// What stop_accepting() needs to know of a session.
struct ConnState {
  boost::beast::tcp_stream* stream = nullptr;
  bool idle = true;
  bool close_requested = false;
};

// One open client connection in HttpServer::connections_, from accept to close, whether a
// Session serves it or it is parked; moved between the two.
class ConnectionSlot {
 public:
  explicit ConnectionSlot(std::atomic<std::int64_t>& count) : count_(&count) { ++count; }
  ConnectionSlot(ConnectionSlot&& o) noexcept : count_(std::exchange(o.count_, nullptr)) {}
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ~ConnectionSlot() {
    if (count_) --*count_;
  }

 private:
  std::atomic<std::int64_t>* count_;
};

// A Session waiting for the first byte of its next request, in its worker's FIFO of those
// (oldest first), so the sweep can park the ones idle for park_after.
class IdleSession {
 public:
  virtual ~IdleSession() = default;
  // Ends the wait; the session then hands its socket to the worker's parked list and ends.
  virtual void park() = 0;
  boost::intrusive::list_member_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>
      idle_hook;
  std::chrono::steady_clock::time_point idle_since;
};
using IdleSessions = boost::intrusive::list<
    IdleSession,
    boost::intrusive::member_hook<IdleSession, decltype(IdleSession::idle_hook),
                                  &IdleSession::idle_hook>,
    boost::intrusive::constant_time_size<false>>;

// A keep-alive connection between requests, held without a Session: its socket, the wait for
// it to become readable, and when it went idle. No buffer, no coroutine frame.
struct ParkedConnection {
  ParkedConnection(boost::asio::ip::tcp::socket s, ConnectionSlot c,
                   std::chrono::steady_clock::time_point t, bool f)
      : socket(std::move(s)), slot(std::move(c)), since(t), first(f) {}
  boost::asio::ip::tcp::socket socket;
  ConnectionSlot slot;
  std::chrono::steady_clock::time_point since;
  bool first;            // no request yet: the header timeout applies, else the idle timeout
  bool closing = false;  // timed out or stopping: the wait's handler closes it
};
using ParkedList = std::list<ParkedConnection>;

struct HttpServer::Worker {
  // Declared before `io` so they outlive the coroutine frames `io` destroys.
  std::unordered_set<ConnState*> connections;
  IdleSessions idle;
  boost::asio::io_context io{1};
  // Parked connections, oldest first; first requests and keep-alive ones apart, so each list
  // expires in order. Declared after `io`: their sockets go before it.
  ParkedList parked_first;
  ParkedList parked_idle;
  boost::asio::steady_timer sweeper{io};
  bool sweeping = false;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor;  // only on the first worker
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard;
  std::thread thread;
};

}  // namespace sg::http
