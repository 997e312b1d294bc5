// streamgate-server against hostile or careless clients and failing dependencies, as a real
// process: what an unauthenticated client can make it hold, the Host rules, the headers every
// response carries.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <signal.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/http_client.hpp"
#include "integration/server_process.hpp"
#include "support/pg_faults.hpp"

namespace sg::test {
namespace {

namespace json = boost::json;
using boost::beast::http::verb;
using namespace std::chrono_literals;

// A kB figure ("VmSize", "VmRSS") from /proc/PID/status.
std::uint64_t proc_status_kb(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(key + ":")) return std::stoull(line.substr(key.size() + 1));
  }
  return 0;
}

// A connected loopback socket (closed on destruction).
class Socket {
 public:
  explicit Socket(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  Socket(Socket&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Socket& operator=(Socket&&) = delete;
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  bool send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // Reads until a whole response head arrived, the peer closed, or `timeout` passed.
  std::string read_head(std::chrono::milliseconds timeout) {
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    while (got.find("\r\n\r\n") == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<std::size_t>(n));
    }
    return got;
  }

 private:
  int fd_;
};

std::unique_ptr<ServerProcess> start_server(const TempDir& dir,
                                            std::vector<std::string> extra = {}) {
  ServerSetup setup;
  setup.storage = "sqlite:" + (dir.path() / "db.sqlite").string();
  setup.extra_args = std::move(extra);
  auto s = ServerProcess::start(setup, dir.path());
  EXPECT_TRUE(s) << s.error().message;
  return s ? std::move(*s) : nullptr;
}

// Issue 19, item 1: 2,000 connections announcing 1 MiB bodies and sending one byte made the
// server reserve 1 MiB each (Beast's string_body reserves Content-Length). Now a write without
// a token is refused from its head (no 100 Continue, nothing read), an authorized one holds
// only the bytes that arrived, and the announced bytes come from a bounded budget.
TEST(ServerAdmission, TwoThousandMebibyteHeadsReserveLittleAndUnauthenticatedOnesAre401) {
  TempDir dir("sg-it-admit");
  auto server = start_server(dir);
  ASSERT_TRUE(server);
  const pid_t pid = server->process().pid();
  const std::uint64_t before_kb = proc_status_kb(pid, "VmSize");
  const std::string head =
      "POST /api/v1/content HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n"
      "Expect: 100-continue\r\n";
  const std::string anonymous = head + "\r\nx";
  const std::string authorized = head + "Authorization: Bearer " + kToken + "\r\n\r\nx";
  constexpr int kEach = 1000;
  std::vector<Socket> anon, auth;
  for (int i = 0; i < kEach; ++i) {
    anon.emplace_back(server->port());
    auth.emplace_back(server->port());
    ASSERT_TRUE(anon.back().ok() && auth.back().ok()) << "connect " << i;
    ASSERT_TRUE(anon.back().send(anonymous));
    ASSERT_TRUE(auth.back().send(authorized));
  }
  int unauthorized = 0, continued = 0, busy = 0, other = 0;
  std::string sample;
  for (auto& s : anon) {
    const std::string got = s.read_head(5s);
    if (got.starts_with("HTTP/1.1 401")) ++unauthorized;
    if (got.find("100 Continue") != std::string::npos) ++continued;
    if (!got.starts_with("HTTP/1.1 401") && sample.empty()) sample = got;
  }
  for (auto& s : auth) {
    const std::string got = s.read_head(200ms);
    if (got.starts_with("HTTP/1.1 503"))
      ++busy;
    else if (!got.empty() && !got.starts_with("HTTP/1.1 100"))
      ++other;
  }
  std::this_thread::sleep_for(300ms);
  const std::uint64_t after_kb = proc_status_kb(pid, "VmSize");
  const double grown_mib = (static_cast<double>(after_kb) - static_cast<double>(before_kb)) / 1024;
  EXPECT_EQ(unauthorized, kEach) << "first other answer: " << sample;
  EXPECT_EQ(continued, 0) << "a refused write was invited to send its body";
  // The default budget (64 MiB) holds 64 bodies of 1 MiB; the others are refused at once.
  EXPECT_GE(busy, kEach - 64);
  EXPECT_EQ(other, 0);
  EXPECT_LT(grown_mib, 64) << "2,000 heads of 1 MiB grew the address space by " << grown_mib
                           << " MiB";
  std::cout << "[ measure  ] address space grown by " << grown_mib << " MiB for " << 2 * kEach
            << " heads of 1 MiB; " << busy << " authorized ones refused (budget)\n";
}

TEST(ServerHost, Http11WithoutHostIs400AndEveryResponseCarriesTheSecurityHeaders) {
  TempDir dir("sg-it-host");
  auto server = start_server(dir);
  ASSERT_TRUE(server);
  const std::string no_host = raw_exchange(server->port(), "GET /health HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(no_host.starts_with("HTTP/1.1 400")) << no_host;
  EXPECT_NE(no_host.find("Host"), std::string::npos) << no_host;
  const std::string two =
      raw_exchange(server->port(), "GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  EXPECT_TRUE(two.starts_with("HTTP/1.1 400")) << two;
  for (const std::string target : {"/health", "/api/v1/content", "/nowhere"}) {
    auto r = http_get(server->port(), target);
    EXPECT_NE(r.status, 0) << r.error;
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff") << target;
    EXPECT_EQ(r.header("X-Frame-Options"), "DENY") << target;
    EXPECT_EQ(r.header("Referrer-Policy"), "no-referrer") << target;
    EXPECT_FALSE(r.header("Content-Security-Policy").empty()) << target;
  }
}

// Pauses every process of a PostgreSQL instance this test started (SIGSTOP) until
// destroyed or resume() (SIGCONT), so a failed assertion never leaves it stopped.
class PausedPostgres {
 public:
  explicit PausedPostgres(const PostgresInstance& pg) : pids_(pg.server_pids()) {
    for (pid_t p : pids_) ::kill(p, SIGSTOP);
  }
  ~PausedPostgres() { resume(); }
  void resume() {
    for (pid_t p : pids_) ::kill(p, SIGCONT);
    pids_.clear();
  }
  std::size_t count() const { return pids_.size(); }

 private:
  std::vector<pid_t> pids_;
};

// Issue 19, item 10: storage calls ran on the I/O threads, so a stalled database stalled the
// liveness probe too. Now they run on the blocking pool.
TEST(ServerStorageStall, ATwoSecondPostgresStallDoesNotDelayHealth) {
  PostgresInstance pg;
  ASSERT_TRUE(pg.start());
  auto db = pg.create_unique_database();
  ASSERT_TRUE(db) << db.error().message;
  TempDir dir("sg-it-stall");
  ServerSetup setup;
  setup.storage = *db;
  auto started = ServerProcess::start(setup, dir.path());
  ASSERT_TRUE(started) << started.error().message;
  auto& server = *started;
  auto created = http_call(server->port(), {verb::post,
                                            "/api/v1/content",
                                            R"({"title":"t"})",
                                            {{"Authorization", std::string("Bearer ") + kToken}}});
  ASSERT_EQ(created.status, 201) << created.body;
  std::vector<std::future<HttpReply>> storage_calls;
  double worst_ms = 0;
  int probes = 0, healthy = 0;
  {
    PausedPostgres paused(pg);
    ASSERT_GE(paused.count(), 2u) << "postmaster and at least one backend";
    const auto stall_end = std::chrono::steady_clock::now() + 2s;
    // More requests that need the database than the server has I/O threads (2).
    for (int i = 0; i < 8; ++i) {
      storage_calls.push_back(std::async(std::launch::async, [&] {
        return http_call(server->port(), {verb::get, "/api/v1/content", {}, {}, 20000ms});
      }));
    }
    std::this_thread::sleep_for(200ms);
    while (std::chrono::steady_clock::now() < stall_end) {
      const auto t0 = std::chrono::steady_clock::now();
      auto r = http_get(server->port(), "/health");
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      worst_ms = std::max(worst_ms, ms);
      ++probes;
      if (r.status == 200) ++healthy;
      std::this_thread::sleep_for(50ms);
    }
  }  // SIGCONT
  int answered = 0;
  for (auto& f : storage_calls) answered += f.get().status == 200 ? 1 : 0;
  EXPECT_EQ(healthy, probes);
  EXPECT_LT(worst_ms, 50) << "a /health probe waited " << worst_ms << " ms on a stalled database";
  EXPECT_EQ(answered, 8) << "requests waiting on the database fail or hang after it resumed";
  std::cout << "[ measure  ] " << probes << " /health probes during a 2 s PostgreSQL stall, worst "
            << worst_ms << " ms\n";
}

// Issue 19, item 6: answers and probes named file paths and driver messages.
TEST(ServerErrors, AFiveHundredNamesTheRequestIdAndNoPathTheLogHasTheDetail) {
  TempDir dir("sg-it-500");
  auto server = start_server(dir);
  ASSERT_TRUE(server);
  const auto auth = std::vector<std::pair<std::string, std::string>>{
      {"Authorization", std::string("Bearer ") + kToken}};
  auto created =
      http_call(server->port(), {verb::post, "/api/v1/content", R"({"title":"t"})", auth});
  ASSERT_EQ(created.status, 201);
  const std::string id(json::parse(created.body).at("id").as_string());
  std::filesystem::remove_all(dir.path() / "media");  // the disk goes away under the server
  auto put =
      http_call(server->port(), {verb::put, "/api/v1/content/" + id + "/media", "data", auth});
  ASSERT_EQ(put.status, 500) << put.body;
  const std::string rid = put.header("X-Request-Id");
  EXPECT_EQ(put.body.find(dir.path().string()), std::string::npos) << put.body;
  EXPECT_EQ(put.body.find("No such file"), std::string::npos) << put.body;
  EXPECT_NE(put.body.find(rid), std::string::npos)
      << "the answer names its request id: " << put.body;
  std::this_thread::sleep_for(100ms);
  const std::string log = server->log();
  bool detail_logged = false;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(rid) != std::string::npos && line.find(dir.path().string()) != std::string::npos)
      detail_logged = true;
  }
  EXPECT_TRUE(detail_logged) << "no log line with request id " << rid << " and the path:\n" << log;
}

TEST(ServerErrors, ReadinessAndAnswersShowNoDriverMessageWhenTheDatabaseIsGone) {
  PostgresInstance pg;
  ASSERT_TRUE(pg.start());
  auto db = pg.create_unique_database();
  ASSERT_TRUE(db);
  TempDir dir("sg-it-pgdown");
  ServerSetup setup;
  setup.storage = *db;
  auto started = ServerProcess::start(setup, dir.path());
  ASSERT_TRUE(started) << started.error().message;
  auto& server = *started;
  const std::string port = std::to_string(pg.port());
  pg.stop();
  for (const std::string target : {"/ready", "/api/v1/health", "/api/v1/content"}) {
    auto r = http_get(server->port(), target);
    EXPECT_GE(r.status, 500) << target << ": " << r.body;
    for (const std::string& secret : std::vector<std::string>{"postgresql://", "connection",
                                                              "server", ":" + port, "127.0.0.1"}) {
      EXPECT_EQ(r.body.find(secret), std::string::npos)
          << target << " shows '" << secret << "': " << r.body;
    }
  }
}

TEST(ServerLogs, AStorageUrlPasswordNeverReachesTheLog) {
  TempDir dir("sg-it-redact");
  SpawnOptions o;
  o.argv = {SG_SERVER_BIN,
            "--listen",
            "127.0.0.1:" + std::to_string(free_port()),
            "--storage",
            "postgresql://sg:TOPSECRET-PW@127.0.0.1:" + std::to_string(free_port()) +
                "/db?password=OTHER-SECRET",
            "--media-dir",
            (dir.path() / "media").string()};
  o.log_file = dir.path() / "out.log";
  auto child = ChildProcess::spawn(o);
  ASSERT_TRUE(child);
  auto status = child->wait_exit(30s);
  ASSERT_TRUE(status) << "the server kept running without its database";
  const std::string log = tail_of(o.log_file, 100000);
  EXPECT_NE(log.find("cannot open storage"), std::string::npos) << log;
  EXPECT_EQ(log.find("TOPSECRET"), std::string::npos) << log;
  EXPECT_EQ(log.find("OTHER-SECRET"), std::string::npos) << log;
  EXPECT_NE(log.find("***"), std::string::npos) << log;
}

// The *.media files in a media dir.
std::vector<std::string> media_files(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".media") out.push_back(e.path().filename().string());
  }
  return out;
}

// Issue 19, item 8: a media change whose COMMIT answer is lost may have committed, so neither
// the old nor the new file may go; the next start sweeps the one no item records.
TEST(ServerDurability, AnInDoubtCommitKeepsBothFilesAndTheNextStartSweepsTheUnreferenced) {
  PostgresInstance pg;
  ASSERT_TRUE(pg.start());
  auto db = pg.create_unique_database();
  ASSERT_TRUE(db) << db.error().message;
  TempDir dir("sg-it-doubt");
  ServerSetup setup;
  setup.storage = *db;
  setup.extra_args = {"--media-sweep-age", "0"};
  auto started = ServerProcess::start(setup, dir.path());
  ASSERT_TRUE(started) << started.error().message;
  auto server = std::move(*started);
  const auto auth = std::vector<std::pair<std::string, std::string>>{
      {"Authorization", std::string("Bearer ") + kToken}};
  auto created =
      http_call(server->port(), {verb::post, "/api/v1/content", R"({"title":"t"})", auth});
  ASSERT_EQ(created.status, 201);
  const std::string id(json::parse(created.body).at("id").as_string());
  const std::string media = "/api/v1/content/" + id + "/media";
  ASSERT_EQ(http_call(server->port(), {verb::put, media, "version-one", auth}).status, 200);
  slow_content_commits(*db);  // COMMIT of any change to content now takes 5 s
  auto second = std::async(std::launch::async, [&] {
    return http_call(server->port(), {verb::put, media, "version-two", auth, 30000ms});
  });
  ASSERT_TRUE(terminate_running_commit(*db)) << "no COMMIT was seen running";
  auto answer = second.get();
  EXPECT_EQ(answer.status, 503) << answer.body;
  EXPECT_EQ(media_files(dir.path() / "media").size(), 2u)
      << "a file the row may point to was deleted";
  normal_content_commits(*db);
  server->process().terminate();
  auto restarted = ServerProcess::start(setup, dir.path());
  ASSERT_TRUE(restarted) << restarted.error().message;
  EXPECT_EQ(media_files(dir.path() / "media").size(), 1u) << "the start-up sweep left an orphan";
  auto got = http_get((*restarted)->port(), media);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "version-one") << "the COMMIT was cut off: the old media stays current";
}

}  // namespace
}  // namespace sg::test
