// HttpServer's parking of idle keep-alive connections (ServerOptions::park_after): a session
// that waited park_after for its next request hands its socket to its worker's parked list
// and ends; a readiness wait brings the connection back to a new session; one sweeper timer
// per worker parks sessions and closes parked connections past their timeout. All on the
// worker's thread.
#include <algorithm>
#include <boost/asio/co_spawn.hpp>

#include "common/http/server_worker.hpp"

namespace sg::http {

using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;

void HttpServer::note_idle(Worker& w, IdleSession& session) {
  w.idle.push_back(session);
  arm_sweeper(w);
}

void HttpServer::park(Worker& w, tcp::socket socket, ConnectionSlot slot,
                      std::chrono::steady_clock::time_point since, bool first) {
  ParkedList& list = first ? w.parked_first : w.parked_idle;
  list.emplace_back(std::move(socket), std::move(slot), since, first);
  const auto it = std::prev(list.end());
  // Readable (a request, or the peer's close) or cancelled (timed out, stopping).
  it->socket.async_wait(tcp::socket::wait_read, [this, &w, &list, it](const error_code& ec) {
    if (ec || it->closing || !accepting_.load()) {
      list.erase(it);  // closes the socket and frees the slot
      return;
    }
    tcp::socket s = std::move(it->socket);
    ConnectionSlot slot = std::move(it->slot);
    const bool first = it->first;
    list.erase(it);
    resume(w, std::move(s), std::move(slot), first);
  });
  arm_sweeper(w);
}

void HttpServer::arm_sweeper(Worker& w) {
  if (w.sweeping) return;
  w.sweeping = true;
  const auto tick = std::max<std::chrono::steady_clock::duration>(options_.park_after / 2,
                                                                  std::chrono::milliseconds(10));
  w.sweeper.expires_after(tick);
  w.sweeper.async_wait([this, &w](const error_code& ec) {
    w.sweeping = false;
    if (ec) return;
    sweep(w);
    if (!w.idle.empty() || !w.parked_first.empty() || !w.parked_idle.empty()) arm_sweeper(w);
  });
}

void HttpServer::sweep(Worker& w) {
  const auto now = std::chrono::steady_clock::now();
  // Sessions idle for park_after give up their buffers and frames.
  while (!w.idle.empty() && w.idle.front().idle_since + options_.park_after <= now) {
    IdleSession& s = w.idle.front();
    w.idle.pop_front();
    s.park();
  }
  // Parked connections past their timeout close, in the order they parked.
  auto expire = [now](ParkedList& list, std::chrono::steady_clock::duration timeout) {
    for (auto it = list.begin(); it != list.end() && it->since + timeout <= now; ++it) {
      if (it->closing) continue;
      it->closing = true;
      error_code ignored;
      it->socket.cancel(ignored);
    }
  };
  expire(w.parked_first, options_.header_timeout);
  expire(w.parked_idle, options_.idle_timeout);
}

}  // namespace sg::http
