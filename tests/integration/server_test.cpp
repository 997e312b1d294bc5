// streamgate-server as a real process, over real SQLite and over a real PostgreSQL + Redis
// started on loopback by this binary.
#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <boost/json.hpp>

#include <csignal>
#include <fstream>
#include <future>
#include <random>
#include <thread>

#include "integration/http_client.hpp"
#include "integration/server_process.hpp"

namespace sg::test {
namespace {

namespace json = boost::json;
using boost::beast::http::verb;
using Headers = std::vector<std::pair<std::string, std::string>>;

PostgresInstance* g_postgres = nullptr;

class PostgresEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    postgres_ = std::make_unique<PostgresInstance>();
    Status st = postgres_->start();
    ASSERT_TRUE(st) << "cannot start PostgreSQL for the integration tests: " << st.error().message;
    g_postgres = postgres_.get();
  }
  void TearDown() override {
    g_postgres = nullptr;
    postgres_.reset();
  }

 private:
  std::unique_ptr<PostgresInstance> postgres_;
};

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new PostgresEnvironment);

Headers auth() { return {{"Authorization", std::string("Bearer ") + kToken}}; }

std::string sha256_hex(const std::string& data) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d);
  std::string hex;
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : d) {
    hex += kHex[c >> 4];
    hex += kHex[c & 0xF];
  }
  return hex;
}

// Runs every test against both backends.
class ServerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres_redis") {
      ASSERT_NE(g_postgres, nullptr);
      auto db = g_postgres->create_unique_database();
      ASSERT_TRUE(db) << db.error().message;
      setup_.storage = *db;
      redis_ = std::make_unique<RedisInstance>();
      Status st = redis_->start();
      ASSERT_TRUE(st) << st.error().message;
      setup_.cache = redis_->url();
    } else {
      setup_.storage = "sqlite:" + (dir_.path() / "db.sqlite").string();
    }
  }

  void start(std::vector<std::string> extra = {}) {
    setup_.extra_args = std::move(extra);
    auto s = ServerProcess::start(setup_, dir_.path());
    ASSERT_TRUE(s) << s.error().message;
    server_ = std::move(*s);
  }

  HttpReply call(verb method, const std::string& target, const std::string& body = {},
                 Headers headers = {}) {
    return http_call(server_->port(), {method, target, body, std::move(headers)});
  }

  std::string create(const std::string& title, const std::string& extra = {}) {
    auto r =
        call(verb::post, "/api/v1/content", R"({"title":")" + title + "\"" + extra + "}", auth());
    EXPECT_EQ(r.status, 201) << r.body << r.error;
    return std::string(json::parse(r.body).at("id").as_string());
  }

  TempDir dir_{"sg-it"};
  ServerSetup setup_;
  std::unique_ptr<RedisInstance> redis_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_P(ServerTest, CrudRoundTripWithVersionHeaderOnEveryResponse) {
  ASSERT_NO_FATAL_FAILURE(start());
  const std::string id = create("Intro", R"(,"tags":["demo"],"duration_seconds":42)");
  auto got = call(verb::get, "/api/v1/content/" + id);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.header("X-StreamGate-Version"), "v-test");
  EXPECT_EQ(got.header("ETag"), "\"1\"");
  EXPECT_FALSE(got.header("X-Request-Id").empty());
  auto patched = call(verb::patch, "/api/v1/content/" + id, R"({"description":"d"})", auth());
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(json::parse(patched.body).at("revision").as_int64(), 2);
  EXPECT_EQ(
      json::parse(call(verb::get, "/api/v1/content/" + id).body).at("description").as_string(),
      "d");
  EXPECT_EQ(call(verb::delete_, "/api/v1/content/" + id, {}, auth()).status, 204);
  auto gone = call(verb::get, "/api/v1/content/" + id);
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.header("X-StreamGate-Version"), "v-test");
}

TEST_P(ServerTest, IncomingRequestIdIsHonoured) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto r = call(verb::get, "/health", {}, {{"X-Request-Id", "trace-abc-123"}});
  EXPECT_EQ(r.header("X-Request-Id"), "trace-abc-123");
}

TEST_P(ServerTest, PaginationVisitsEveryItemOnceInOrder) {
  ASSERT_NO_FATAL_FAILURE(start());
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(create("item-" + std::to_string(i)));
  std::vector<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 20; ++page) {
    auto r =
        call(verb::get, "/api/v1/content?limit=5" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(r.status, 200) << r.body;
    auto b = json::parse(r.body);
    for (auto& item : b.at("items").as_array()) seen.emplace_back(item.at("id").as_string());
    if (b.at("next_cursor").is_null()) break;
    cursor = std::string(b.at("next_cursor").as_string());
  }
  EXPECT_EQ(seen, ids);
}

TEST_P(ServerTest, StaleIfMatchGets412AndChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(start());
  const std::string id = create("v1");
  ASSERT_EQ(call(verb::put, "/api/v1/content/" + id, R"({"title":"v2"})",
                 {{"Authorization", std::string("Bearer ") + kToken}, {"If-Match", "\"1\""}})
                .status,
            200);
  auto stale = call(verb::put, "/api/v1/content/" + id, R"({"title":"v3"})",
                    {{"Authorization", std::string("Bearer ") + kToken}, {"If-Match", "\"1\""}});
  EXPECT_EQ(stale.status, 412) << stale.body;
  EXPECT_EQ(json::parse(stale.body).at("error").at("code").as_string(), "precondition_failed");
  EXPECT_EQ(json::parse(call(verb::get, "/api/v1/content/" + id).body).at("title").as_string(),
            "v2");
}

TEST_P(ServerTest, WritesNeedAValidToken) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto none = call(verb::post, "/api/v1/content", R"({"title":"x"})");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(json::parse(none.body).at("error").at("code").as_string(), "unauthenticated");
  auto wrong = call(verb::post, "/api/v1/content", R"({"title":"x"})",
                    {{"Authorization", "Bearer not-the-token"}});
  EXPECT_EQ(wrong.status, 403);
  EXPECT_EQ(call(verb::get, "/api/v1/content").status, 200);
}

TEST_P(ServerTest, MediaRangeRequestsResumeToTheExactFile) {
  ASSERT_NO_FATAL_FAILURE(start());
  const std::string id = create("video");
  std::string data(3 * 1024 * 1024 + 123, '\0');
  std::mt19937 rng(7);
  for (auto& c : data) c = static_cast<char>(rng());
  auto put =
      call(verb::put, "/api/v1/content/" + id + "/media", data,
           {{"Authorization", std::string("Bearer ") + kToken}, {"Content-Type", "video/mp4"}});
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(json::parse(put.body).at("media").at("sha256").as_string(), sha256_hex(data));
  // Resume in four ranged requests.
  std::string assembled;
  const std::size_t step = data.size() / 4 + 1;
  for (std::size_t off = 0; off < data.size(); off += step) {
    auto part =
        call(verb::get, "/api/v1/content/" + id + "/media", {},
             {{"Range", "bytes=" + std::to_string(off) + "-" + std::to_string(off + step - 1)}});
    ASSERT_EQ(part.status, 206) << part.body;
    EXPECT_EQ(part.header("Content-Range"),
              "bytes " + std::to_string(off) + "-" +
                  std::to_string(std::min(off + step, data.size()) - 1) + "/" +
                  std::to_string(data.size()));
    assembled += part.body;
  }
  EXPECT_TRUE(assembled == data) << "resumed download differs from the upload";
  auto full = call(verb::get, "/api/v1/content/" + id + "/media");
  ASSERT_EQ(full.status, 200);
  EXPECT_TRUE(full.body == data);
  auto beyond =
      call(verb::get, "/api/v1/content/" + id + "/media", {}, {{"Range", "bytes=99999999-"}});
  EXPECT_EQ(beyond.status, 416);
  EXPECT_EQ(beyond.header("Content-Range"), "bytes */" + std::to_string(data.size()));
}

TEST_P(ServerTest, BadInputGetsClearJsonErrors) {
  ASSERT_NO_FATAL_FAILURE(start({"--max-body-bytes", "65536"}));
  struct Case {
    verb m;
    std::string target;
    std::string body;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {verb::post, "/api/v1/content", "{not json", 400, "invalid_argument"},
      {verb::post, "/api/v1/content", "{\"title\":\"bad \xC3\x28 utf8\"}", 400, "invalid_argument"},
      {verb::post, "/api/v1/content", std::string(70000, 'x'), 413, "too_large"},
      {verb::get, "/no/such/route", "", 404, "not_found"},
      {verb::get, "/api/v1/content/not_an_id!", "", 404, "not_found"},
      {verb::delete_, "/metrics", "", 405, "method_not_allowed"},
  };
  for (const auto& c : cases) {
    auto r = call(c.m, c.target, c.body, auth());
    EXPECT_EQ(r.status, c.status) << c.target << " " << r.body << r.error;
    if (r.status == 0) continue;
    auto err = json::parse(r.body).at("error");
    EXPECT_EQ(err.at("code").as_string(), c.code) << r.body;
    EXPECT_FALSE(err.at("message").as_string().empty());
    EXPECT_EQ(r.header("Content-Type"), "application/json");
  }
  // Protocol-level garbage and oversize heads get JSON errors too, then the connection closes.
  std::string garbage = raw_exchange(server_->port(), "GARBAGE\r\n\r\n");
  EXPECT_NE(garbage.find("HTTP/1.1 400"), std::string::npos) << garbage;
  EXPECT_NE(garbage.find("\"code\":\"bad_request\""), std::string::npos) << garbage;
  EXPECT_NE(garbage.find("X-StreamGate-Version: v-test"), std::string::npos) << garbage;
  std::string big = raw_exchange(
      server_->port(), "GET / HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  EXPECT_NE(big.find("HTTP/1.1 431"), std::string::npos) << big.substr(0, 200);
  std::string smuggle = raw_exchange(server_->port(),
                                     "POST /api/v1/content HTTP/1.1\r\nHost: x\r\nContent-Length: "
                                     "4\r\nContent-Length: 5\r\n\r\nabcde");
  EXPECT_NE(smuggle.find("HTTP/1.1 400"), std::string::npos) << smuggle;
  // A coding other than chunked leaves the body length unknown: 501, never a second request.
  std::string gzip =
      raw_exchange(server_->port(),
                   "POST /api/v1/content HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
                   "\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(gzip.find("HTTP/1.1 501"), std::string::npos) << gzip;
  EXPECT_EQ(gzip.find("200 OK"), std::string::npos) << "smuggled request was served: " << gzip;
  std::string old_chunked =
      raw_exchange(server_->port(),
                   "POST /api/v1/content HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_NE(old_chunked.find(" 400 "), std::string::npos) << old_chunked;
}

TEST_P(ServerTest, SlowlorisHeadIsCutOffAfterTheHeaderTimeout) {
  ASSERT_NO_FATAL_FAILURE(start({"--header-timeout", "1"}));
  const auto t0 = std::chrono::steady_clock::now();
  // Half a request head, then silence: the server must close the connection (raw_exchange
  // returns at EOF; it would wait 6 s otherwise).
  std::string got =
      raw_exchange(server_->port(), "GET /health HTTP/1.1\r\nHost: x\r\n", std::chrono::seconds(6));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GT(secs, 0.9) << "closed before the timeout";
  EXPECT_LT(secs, 3.0) << "connection held for " << secs << " s";
  EXPECT_EQ(got.find("200 OK"), std::string::npos) << got;
}

// Reads from `fd` until `done(received)` or EOF/error or the deadline; returns what came.
template <class Done>
std::string read_until(int fd, std::chrono::steady_clock::time_point deadline, Done done,
                       bool* eof = nullptr) {
  std::string got;
  char buf[4096];
  while (!done(got)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      if (eof) *eof = true;
      break;
    }
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

TEST_P(ServerTest, SlowlorisOnAKeptAliveConnectionIsCutOffToo) {
  // The head timeout must hold for the second request of a connection as for the first,
  // also after the connection sat idle under the (longer) idle timeout.
  ASSERT_NO_FATAL_FAILURE(start({"--header-timeout", "1", "--idle-timeout", "60"}));
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server_->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string first = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, first.data(), first.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(first.size()));
  const std::string answer =
      read_until(fd, std::chrono::steady_clock::now() + std::chrono::seconds(5),
                 [](const std::string& got) { return got.find("200 OK") != std::string::npos; });
  ASSERT_NE(answer.find("200 OK"), std::string::npos) << answer;
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // idle, kept alive
  const std::string half = "GET /health HTTP/1.1\r\nHost: x\r\n";
  ASSERT_EQ(::send(fd, half.data(), half.size(), MSG_NOSIGNAL), static_cast<ssize_t>(half.size()))
      << "the server closed an idle connection before its idle timeout";
  const auto t0 = std::chrono::steady_clock::now();
  bool eof = false;
  const std::string rest = read_until(
      fd, t0 + std::chrono::seconds(8), [](const std::string&) { return false; }, &eof);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(eof) << "the half head was held for 8 s";
  EXPECT_GT(secs, 0.9) << "closed before the header timeout";
  EXPECT_LT(secs, 3.0) << "connection held for " << secs << " s";
  EXPECT_EQ(rest.find("200 OK"), std::string::npos) << rest;
}

TEST_P(ServerTest, InFlightRequestCompletesAfterSigtermAndReadinessDropsAtOnce) {
  ASSERT_NO_FATAL_FAILURE(
      start({"--chaos-latency-ms", "1500", "--drain-delay", "1", "--grace-period", "10"}));
  const std::string target = "/api/v1/health";
  auto in_flight =
      std::async(std::launch::async, [&] { return http_get(server_->port(), target); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(server_->process().signal(SIGTERM));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(http_get(server_->port(), "/ready").status, 503) << "readiness must fail at once";
  auto reply = in_flight.get();
  EXPECT_EQ(reply.status, 200) << reply.error << server_->log();
  auto status = server_->process().wait_exit(std::chrono::seconds(15));
  ASSERT_TRUE(status) << "server did not exit after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "wait status " << *status;
}

TEST_P(ServerTest, MetricsPassPromtoolAndCountRequestsByRouteTemplate) {
  ASSERT_NO_FATAL_FAILURE(start());
  const std::string id = create("m");
  for (int i = 0; i < 3; ++i) call(verb::get, "/api/v1/content/" + id);
  auto m = call(verb::get, "/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(
      m.body.find(R"(http_requests_total{method="GET",route="/api/v1/content/{id}",code="200"} 3)"),
      std::string::npos)
      << m.body;
  for (const char* name :
       {"http_request_duration_seconds_bucket", "http_requests_in_flight", "streamgate_version{",
        "streamgate_build_info{", "streamgate_cache_requests_total{result=\"hit\"}",
        "streamgate_storage_query_duration_seconds_bucket", "process_cpu_seconds_total",
        "process_resident_memory_bytes", "process_start_time_seconds", "process_open_fds"}) {
    EXPECT_NE(m.body.find(name), std::string::npos) << name;
  }
  const auto file = dir_.path() / "metrics.txt";
  std::ofstream(file) << m.body;
  SpawnOptions check;
  check.argv = {"sh", "-c", "promtool check metrics < " + file.string()};
  check.log_file = dir_.path() / "promtool.log";
  Status st = run_command(check, std::chrono::seconds(30));
  EXPECT_TRUE(st) << tail_of(check.log_file);
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerTest, ::testing::Values("sqlite", "postgres_redis"),
                         [](const auto& info) { return info.param; });

// Redis going away must not take the service down: reads fall back to storage and
// readiness reports the cache as degraded, not failing.
TEST(ServerWithRedis, KeepsServingWhenRedisIsDown) {
  ASSERT_NE(g_postgres, nullptr);
  TempDir dir("sg-it-redis");
  RedisInstance redis;
  ASSERT_TRUE(redis.start());
  auto db = g_postgres->create_unique_database();
  ASSERT_TRUE(db);
  ServerSetup setup;
  setup.storage = *db;
  setup.cache = redis.url();
  auto server = ServerProcess::start(setup, dir.path());
  ASSERT_TRUE(server) << server.error().message;
  const auto port = (*server)->port();
  auto created = http_call(port, {verb::post, "/api/v1/content", R"({"title":"cached"})", auth()});
  ASSERT_EQ(created.status, 201);
  const std::string id(json::parse(created.body).at("id").as_string());
  ASSERT_EQ(http_get(port, "/api/v1/content/" + id).status, 200);  // now cached in Redis

  redis.stop();
  const auto t0 = std::chrono::steady_clock::now();
  auto r = http_get(port, "/api/v1/content/" + id);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_LT(ms, 1000) << "a read with Redis down took " << ms << " ms";
  EXPECT_EQ(http_get(port, "/ready").status, 200);
  auto health = http_get(port, "/api/v1/health");
  EXPECT_EQ(health.status, 200);
  auto h = json::parse(health.body);
  EXPECT_EQ(h.at("status").as_string(), "degraded") << health.body;
  EXPECT_EQ(h.at("checks").at("cache").at("status").as_string(), "degraded");
  auto write = http_call(
      port, {verb::patch, "/api/v1/content/" + id, R"({"title":"still writable"})", auth()});
  EXPECT_EQ(write.status, 200) << write.body;

  ASSERT_TRUE(redis.start());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past the reconnect backoff
  auto back = json::parse(http_get(port, "/api/v1/health").body);
  EXPECT_EQ(back.at("checks").at("cache").at("status").as_string(), "ok");
  EXPECT_EQ(json::parse(http_get(port, "/api/v1/content/" + id).body).at("title").as_string(),
            "still writable");
}

// Two servers (e.g. old and new version during a rollout) starting at once against one
// fresh database: migrations are applied once, both serve, each sees the other's writes.
TEST(ServerMigrations, TwoServersStartingAtOnceOnOneDatabaseBothServe) {
  ASSERT_NE(g_postgres, nullptr);
  for (const std::string backend : {"postgres", "sqlite"}) {
    TempDir dir("sg-it-mig");
    ServerSetup a, b;
    if (backend == "postgres") {
      auto db = g_postgres->create_unique_database();
      ASSERT_TRUE(db);
      a.storage = b.storage = *db;
    } else {
      a.storage = b.storage = "sqlite:" + (dir.path() / "shared.sqlite").string();
    }
    a.version_label = "v1";
    b.version_label = "v2";
    auto fa = std::async(std::launch::async, [&] { return ServerProcess::start(a, dir.path()); });
    auto fb = std::async(std::launch::async, [&] { return ServerProcess::start(b, dir.path()); });
    auto sa = fa.get();
    auto sb = fb.get();
    ASSERT_TRUE(sa) << backend << ": " << sa.error().message;
    ASSERT_TRUE(sb) << backend << ": " << sb.error().message;
    auto created =
        http_call((*sa)->port(), {verb::post, "/api/v1/content", R"({"title":"from v1"})", auth()});
    ASSERT_EQ(created.status, 201) << created.body;
    const std::string id(json::parse(created.body).at("id").as_string());
    auto seen = http_get((*sb)->port(), "/api/v1/content/" + id);
    EXPECT_EQ(seen.status, 200) << backend;
    EXPECT_EQ(seen.header("X-StreamGate-Version"), "v2");
  }
}

TEST(ServerConfig, InvalidFlagIsOneLineErrorAndExitTwo) {
  TempDir dir("sg-it-cfg");
  SpawnOptions o;
  o.argv = {SG_SERVER_BIN, "--chaos-error-rate", "7"};
  o.log_file = dir.path() / "out.log";
  auto child = ChildProcess::spawn(o);
  ASSERT_TRUE(child);
  auto status = child->wait_exit(std::chrono::seconds(10));
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 2);
  const std::string out = tail_of(o.log_file);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_NE(out.find("--chaos-error-rate"), std::string::npos) << out;
}

}  // namespace
}  // namespace sg::test
