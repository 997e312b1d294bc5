#include "integration/load_generator.hpp"

#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace sg::test {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

void add(LoadResult& r, int status, const std::string& header, bool conn_error,
         const std::string& err) {
  ++r.requests;
  if (conn_error) {
    ++r.connection_errors;
    if (r.errors.size() < 10) r.errors.push_back(err);
    return;
  }
  ++r.by_status[status];
  (status >= 200 && status < 300 ? r.ok_2xx : r.non_2xx)++;
  ++r.by_header[header];
  const auto now = std::chrono::steady_clock::now();
  auto [it, fresh] = r.header_span.try_emplace(header, now, now);
  if (!fresh) it->second.second = now;
}

}  // namespace

LoadGenerator::LoadGenerator(Options options) : opts_(std::move(options)) {}

LoadGenerator::~LoadGenerator() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void LoadGenerator::start() {
  deadline_ = std::chrono::steady_clock::now() + opts_.duration;
  budget_ = opts_.max_requests;
  for (int i = 0; i < opts_.connections; ++i) threads_.emplace_back([this] { run_connection(); });
}

LoadResult LoadGenerator::finish() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  std::lock_guard lock(mu_);
  return total_;
}

LoadResult LoadGenerator::window() {
  std::lock_guard lock(mu_);
  LoadResult w = std::move(window_);
  window_ = LoadResult{};
  return w;
}

namespace {

// A signal or a stop/continue of this process (a job-control stop, a frozen cgroup) fails a
// blocking socket call with EINTR, and on a socket with SO_RCVTIMEO the kernel never
// restarts it (signal(7)): that is the client's hiccup, not a failed request, so each
// step below retries it. The parser and the serializer keep their state across a retry.
bool interrupted(const beast::error_code& ec) { return ec == asio::error::interrupted; }

void throw_if(const beast::error_code& ec) {
  if (ec) throw boost::system::system_error(ec);
}

void connect_retrying(tcp::socket& sock, const tcp::endpoint& to) {
  for (int attempt = 0;; ++attempt) {
    beast::error_code ec;
    sock.connect(to, ec);
    if (!interrupted(ec) || attempt == 3) return throw_if(ec);
    sock.close(ec);  // an interrupted connect goes on in the kernel: start over
  }
}

}  // namespace

void LoadGenerator::run_connection() {
  asio::io_context io;
  std::optional<tcp::socket> sock;
  beast::flat_buffer buf;
  const tcp::endpoint to(asio::ip::make_address(opts_.host), opts_.port);
  while (!stop_ && std::chrono::steady_clock::now() < deadline_) {
    if (budget_.fetch_sub(1) == 0 || budget_.load() > opts_.max_requests) break;
    int status = 0;
    std::string header, err;
    bool conn_error = false;
    try {
      if (!sock) {
        sock.emplace(io);
        connect_retrying(*sock, to);
        timeval tv{10, 0};
        ::setsockopt(sock->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        buf.clear();
      }
      http::request<http::empty_body> req{http::verb::get, opts_.target, 11};
      req.set(http::field::host, opts_.host);
      if (!opts_.keep_alive) req.set(http::field::connection, "close");
      http::request_serializer<http::empty_body> out(req);
      beast::error_code ec;
      do {
        http::write(*sock, out, ec);
      } while (interrupted(ec));
      throw_if(ec);
      http::response_parser<http::string_body> in;
      in.body_limit(64 * 1024 * 1024);
      do {
        http::read(*sock, buf, in, ec);
      } while (interrupted(ec));
      throw_if(ec);
      const auto& res = in.get();
      status = res.result_int();
      header = std::string(res[opts_.count_header]);
      if (!res.keep_alive()) sock.reset();
    } catch (const std::exception& e) {
      conn_error = true;
      err = e.what();
      sock.reset();
    }
    completed_.fetch_add(1);
    std::lock_guard lock(mu_);
    add(total_, status, header, conn_error, err);
    add(window_, status, header, conn_error, err);
  }
}

std::string describe(const LoadResult& r) {
  std::string out = "requests " + std::to_string(r.requests) + ", non-2xx " +
                    std::to_string(r.non_2xx) + ", connection errors " +
                    std::to_string(r.connection_errors) + "; versions:";
  for (const auto& [v, n] : r.by_header) out += " " + v + "=" + std::to_string(n);
  for (const auto& e : r.errors) out += "; " + e;
  return out;
}

}  // namespace sg::test
