// streamgate-gateway streaming, reload and upstream-failure behaviour with real processes:
// a large media object uploaded and downloaded through the gateway while its RSS is sampled,
// clients that pause or stall against the gateway's timeouts,
// SIGHUP reload of the YAML file (good and bad), and a track whose endpoint is a closed port.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include "common/cpu_affinity.hpp"
#include "integration/gateway_fixture.hpp"
#include "integration/http_client.hpp"
#include "integration/server_process.hpp"

namespace sg::test {
namespace {

namespace json = boost::json;
using boost::beast::http::verb;
using Clock = std::chrono::steady_clock;

// ---- SHA-256 (FIPS 180-4); the test binary does not link OpenSSL --------------------------

class Sha256 {
 public:
  void update(const char* p, std::size_t n) {
    total_ += n;
    if (fill_ > 0) {
      const std::size_t take = std::min(n, sizeof block_ - fill_);
      std::memcpy(block_ + fill_, p, take);
      fill_ += take;
      p += take;
      n -= take;
      if (fill_ < sizeof block_) return;
      compress(block_);
      fill_ = 0;
    }
    for (; n >= 64; p += 64, n -= 64) compress(reinterpret_cast<const unsigned char*>(p));
    std::memcpy(block_, p, n);
    fill_ = n;
  }
  std::string hex() {
    const std::uint64_t bits = total_ * 8;
    const unsigned char pad = 0x80;
    update(reinterpret_cast<const char*>(&pad), 1);
    const unsigned char zero = 0;
    while (fill_ != 56) update(reinterpret_cast<const char*>(&zero), 1);
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(bits >> (56 - 8 * i));
    update(reinterpret_cast<const char*>(len), 8);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (std::uint32_t v : h_) {
      for (int s = 28; s >= 0; s -= 4) out += digits[(v >> s) & 0xF];
    }
    return out;
  }

 private:
  static std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
  void compress(const unsigned char* b) {
    static constexpr std::uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    std::uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      w[i] = (std::uint32_t(b[4 * i]) << 24) | (std::uint32_t(b[4 * i + 1]) << 16) |
             (std::uint32_t(b[4 * i + 2]) << 8) | std::uint32_t(b[4 * i + 3]);
    }
    for (int i = 16; i < 64; ++i) {
      const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::uint32_t a = h_[0], b2 = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6],
                  h = h_[7];
    for (int i = 0; i < 64; ++i) {
      const std::uint32_t t1 =
          h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
      const std::uint32_t t2 =
          (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b2) ^ (a & c) ^ (b2 & c));
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b2;
      b2 = a;
      a = t1 + t2;
    }
    h_[0] += a;
    h_[1] += b2;
    h_[2] += c;
    h_[3] += d;
    h_[4] += e;
    h_[5] += f;
    h_[6] += g;
    h_[7] += h;
  }

  std::uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                         0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  unsigned char block_[64] = {};
  std::size_t fill_ = 0;
  std::uint64_t total_ = 0;
};

// ---- a blocking loopback socket that never buffers a body ------------------------------------

class RawConn {
 public:
  explicit RawConn(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{30, 0};  // a stuck gateway fails the test instead of hanging it
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawConn() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;
  bool ok() const { return fd_ >= 0; }

  bool write_all(const char* p, std::size_t n) {
    while (n > 0) {
      const ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    return true;
  }
  bool write_all(const std::string& s) { return write_all(s.data(), s.size()); }

  // Reads the response head (status line and fields, up to the blank line); body bytes read
  // past it stay in `leftover`. Returns false on EOF or timeout.
  bool read_head(int& status, std::map<std::string, std::string>& fields) {
    std::string buf;
    std::size_t end = std::string::npos;
    char tmp[4096];
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      const ssize_t r = ::recv(fd_, tmp, sizeof tmp, 0);
      if (r <= 0 || buf.size() > 65536) return false;
      buf.append(tmp, static_cast<std::size_t>(r));
    }
    leftover = buf.substr(end + 4);
    std::istringstream in(buf.substr(0, end));
    std::string line;
    std::getline(in, line);
    if (line.size() < 12 || line.compare(0, 5, "HTTP/") != 0) return false;
    status = std::atoi(line.c_str() + 9);
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      fields[name] = value;
    }
    return true;
  }

  // Reads exactly `n` body bytes (after read_head), in chunks of at most `chunk` bytes handed
  // to `sink` and then dropped. Returns the number of bytes read.
  template <class Sink>
  std::uint64_t read_body(std::uint64_t n, std::size_t chunk, Sink sink) {
    std::uint64_t got = std::min<std::uint64_t>(n, leftover.size());
    sink(leftover.data(), static_cast<std::size_t>(got));
    leftover.clear();
    std::vector<char> buf(chunk);
    while (got < n) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, n - got));
      const ssize_t r = ::recv(fd_, buf.data(), want, 0);
      if (r <= 0) break;
      sink(buf.data(), static_cast<std::size_t>(r));
      got += static_cast<std::uint64_t>(r);
    }
    return got;
  }

  std::string leftover;

 private:
  int fd_ = -1;
};

// VmRSS of `pid` in bytes (0 when unreadable).
std::uint64_t rss_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  }
  return 0;
}

// Samples a process's RSS every 100 ms on a thread of its own; max() is the highest sample.
class RssSampler {
 public:
  explicit RssSampler(pid_t pid) : pid_(pid), baseline_(rss_bytes(pid)), max_(baseline_) {
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        const std::uint64_t v = rss_bytes(pid_);
        std::uint64_t m = max_.load();
        while (v > m && !max_.compare_exchange_weak(m, v)) {
        }
        ++samples_;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  ~RssSampler() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::uint64_t baseline() const { return baseline_; }
  std::uint64_t max() const { return max_.load(); }
  std::int64_t growth() const {
    return static_cast<std::int64_t>(max()) - static_cast<std::int64_t>(baseline_);
  }
  int samples() const { return samples_.load(); }

 private:
  pid_t pid_;
  std::uint64_t baseline_;
  std::atomic<std::uint64_t> max_;
  std::atomic<int> samples_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Deterministic random-ish media: block `i` of 1 MiB filled by xorshift64 seeded with i.
void fill_block(std::vector<char>& block, std::uint64_t i) {
  std::uint64_t x = 0x9E3779B97F4A7C15ULL * (i + 1);
  for (std::size_t off = 0; off + 8 <= block.size(); off += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(block.data() + off, &x, 8);
  }
}

double mib(std::int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

// ---- fixture -----------------------------------------------------------------------------------

class GatewayStreamTest : public GatewayFixture {
 protected:
  void start_replica(const std::string& label) { start_replicas(label, 1); }
  std::string endpoint(const std::string& label) { return endpoints(label); }

  // Tracks of 100 consecutive GETs through the gateway.
  std::map<std::string, int> split_of_100() {
    std::map<std::string, int> n;
    for (int i = 0; i < 100; ++i) {
      auto r = http_get(port_, "/health");
      EXPECT_EQ(r.status, 200) << r.body << r.error;
      ++n[r.header("X-StreamGate-Track")];
    }
    return n;
  }
};

// The issue's 2 GiB: on a quiet 2-core machine it moves at ~190 MiB/s up and ~115 MiB/s
// down (this test's own SHA-256 included), about 30 s in all. SG_GW_STREAM_MIB overrides
// the size for quicker local runs.
TEST_F(GatewayStreamTest, LargeMediaStreamsThroughWithBoundedRss) {
  std::uint64_t size_mib = 2048;
  if (const char* e = std::getenv("SG_GW_STREAM_MIB"); e && std::atoi(e) > 0)
    size_mib = static_cast<std::uint64_t>(std::atoi(e));
  const std::uint64_t size = size_mib << 20;
  constexpr std::int64_t kMaxGrowth = 64LL << 20;

  ASSERT_NO_FATAL_FAILURE(start_replica("v-stable"));
  ASSERT_NO_FATAL_FAILURE(start_gateway("tracks:\n  stable: { endpoints: [" + endpoint("v-stable") +
                                        "] }\nroute: { weights: { stable: 100 } }\n"));
  const std::pair<std::string, std::string> auth{"Authorization", std::string("Bearer ") + kToken};
  auto created = http_call(port_, {verb::post,
                                   "/api/v1/content",
                                   R"({"title":"big media"})",
                                   {auth, {"Content-Type", "application/json"}}});
  ASSERT_EQ(created.status, 201) << created.body << created.error;
  const std::string id(json::parse(created.body).at("id").as_string());
  const std::string media = "/api/v1/content/" + id + "/media";

  // Upload: streamed from a generator, never held in memory.
  std::string sent_sha;
  {
    RssSampler rss(gateway_->pid());
    const auto t0 = Clock::now();
    RawConn c(port_);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.write_all(
        "PUT " + media + " HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer " + kToken +
        "\r\nContent-Type: video/mp4\r\nContent-Length: " + std::to_string(size) + "\r\n\r\n"));
    Sha256 sha;
    std::vector<char> block(1 << 20);
    for (std::uint64_t i = 0; i < size_mib; ++i) {
      fill_block(block, i);
      sha.update(block.data(), block.size());
      ASSERT_TRUE(c.write_all(block.data(), block.size())) << "upload broke at MiB " << i;
    }
    sent_sha = sha.hex();
    int status = 0;
    std::map<std::string, std::string> fields;
    ASSERT_TRUE(c.read_head(status, fields)) << "no answer to the upload";
    std::string body;
    c.read_body(std::strtoull(fields["content-length"].c_str(), nullptr, 10), 65536,
                [&](const char* p, std::size_t n) { body.append(p, n); });
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    rss.stop();
    ASSERT_EQ(status, 200) << body;
    EXPECT_EQ(fields["x-streamgate-track"], "stable");
    EXPECT_EQ(json::parse(body).at("media").at("sha256").as_string(), sent_sha)
        << "the server stored other bytes than were sent";
    std::cout << "[ upload   ] " << size_mib << " MiB in " << secs << " s ("
              << static_cast<double>(size_mib) / secs << " MiB/s); gateway RSS "
              << mib(static_cast<std::int64_t>(rss.baseline())) << " MiB -> max "
              << mib(static_cast<std::int64_t>(rss.max())) << " MiB (growth " << mib(rss.growth())
              << " MiB, " << rss.samples() << " samples)\n";
    EXPECT_LT(rss.growth(), kMaxGrowth) << "gateway RSS grew during the upload";
  }

  // Download: read in 256 KiB chunks, hashed and dropped.
  {
    RssSampler rss(gateway_->pid());
    const auto t0 = Clock::now();
    RawConn c(port_);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.write_all("GET " + media + " HTTP/1.1\r\nHost: gw\r\n\r\n"));
    int status = 0;
    std::map<std::string, std::string> fields;
    ASSERT_TRUE(c.read_head(status, fields)) << "no answer to the download";
    ASSERT_EQ(status, 200);
    EXPECT_EQ(fields["x-streamgate-track"], "stable");
    ASSERT_EQ(fields["content-length"], std::to_string(size));
    Sha256 sha;
    const std::uint64_t got =
        c.read_body(size, 256 * 1024, [&](const char* p, std::size_t n) { sha.update(p, n); });
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    rss.stop();
    ASSERT_EQ(got, size) << "download ended early";
    EXPECT_EQ(sha.hex(), sent_sha) << "downloaded bytes differ from the upload";
    std::cout << "[ download ] " << size_mib << " MiB in " << secs << " s ("
              << static_cast<double>(size_mib) / secs << " MiB/s); gateway RSS "
              << mib(static_cast<std::int64_t>(rss.baseline())) << " MiB -> max "
              << mib(static_cast<std::int64_t>(rss.max())) << " MiB (growth " << mib(rss.growth())
              << " MiB, " << rss.samples() << " samples)\n";
    EXPECT_GT(rss.samples(), 1);
    EXPECT_LT(rss.growth(), kMaxGrowth) << "gateway RSS grew during the download";
  }
}

// Client-side timeouts (timeouts.idle_ms) cut off a client that stops reading its download or
// stops sending its upload, and only those: a reader pausing for longer than first_byte_ms
// (but less than idle_ms) gets every byte. (Removing the write timeout fails the stalled
// reader part; the stalled upload would be held for the socket's 30 s without its deadline.)
TEST_F(GatewayStreamTest, StalledClientsAreCutOffAtTheIdleTimeoutAndAPausingOneIsServed) {
  constexpr std::uint64_t kMib = 32;  // far more than the loopback buffers hold
  constexpr std::uint64_t kSize = kMib << 20;
  ASSERT_NO_FATAL_FAILURE(start_replica("v-stable"));
  ASSERT_NO_FATAL_FAILURE(start_gateway(
      "tracks:\n  stable: { endpoints: [" + endpoint("v-stable") +
      "] }\nroute: { weights: { stable: 100 } }\n"
      "timeouts: { connect_ms: 1000, first_byte_ms: 1000, idle_ms: 2000, header_ms: 10000 }\n"));
  auto created = http_call(port_, {verb::post,
                                   "/api/v1/content",
                                   R"({"title":"stalls"})",
                                   {{"Authorization", std::string("Bearer ") + kToken},
                                    {"Content-Type", "application/json"}}});
  ASSERT_EQ(created.status, 201) << created.body << created.error;
  const std::string media =
      "/api/v1/content/" + std::string(json::parse(created.body).at("id").as_string()) + "/media";
  const std::string put_head =
      "PUT " + media + " HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer " + kToken +
      "\r\nContent-Type: video/mp4\r\nContent-Length: " + std::to_string(kSize) + "\r\n\r\n";
  std::vector<char> block(1 << 20);
  std::string sent_sha;
  {
    RawConn c(port_);
    ASSERT_TRUE(c.write_all(put_head));
    Sha256 sha;
    for (std::uint64_t i = 0; i < kMib; ++i) {
      fill_block(block, i);
      sha.update(block.data(), block.size());
      ASSERT_TRUE(c.write_all(block.data(), block.size()));
    }
    sent_sha = sha.hex();
    int status = 0;
    std::map<std::string, std::string> fields;
    ASSERT_TRUE(c.read_head(status, fields));
    ASSERT_EQ(status, 200);
  }
  const std::string get = "GET " + media + " HTTP/1.1\r\nHost: gw\r\n\r\n";
  auto start_download = [&get](RawConn& c) {
    int status = 0;
    std::map<std::string, std::string> fields;
    return c.write_all(get) && c.read_head(status, fields) && status == 200;
  };

  // Pausing reader: 1.5 s without reading, after the first MiB.
  {
    RawConn c(port_);
    ASSERT_TRUE(start_download(c)) << "no 200 head for the download";
    Sha256 sha;
    auto sink = [&](const char* p, std::size_t n) { sha.update(p, n); };
    std::uint64_t got = c.read_body(1 << 20, 65536, sink);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    got += c.read_body(kSize - got, 256 * 1024, sink);
    EXPECT_EQ(got, kSize) << "a reader that paused for less than idle_ms was cut off";
    EXPECT_EQ(sha.hex(), sent_sha);
  }

  // Stalled reader: reads the head, then nothing for 4 s. The gateway gives up after 2 s;
  // what it had handed to the kernel still arrives, then the end of the stream.
  {
    RawConn c(port_);
    ASSERT_TRUE(start_download(c)) << "no 200 head for the download";
    std::this_thread::sleep_for(std::chrono::seconds(4));
    const std::uint64_t got = c.read_body(kSize, 256 * 1024, [](const char*, std::size_t) {});
    EXPECT_LT(got, kSize) << "a client that stopped reading was never cut off";
  }

  // Stalled upload: 1 MiB of the announced 32, then nothing. The gateway closes the
  // connection after idle_ms, without an answer (there is nothing sensible to answer).
  {
    RawConn c(port_);
    ASSERT_TRUE(c.write_all(put_head));
    fill_block(block, 0);
    ASSERT_TRUE(c.write_all(block.data(), block.size()));
    const auto t0 = Clock::now();
    int status = 0;
    std::map<std::string, std::string> fields;
    EXPECT_FALSE(c.read_head(status, fields)) << "answered " << status;
    const double waited = std::chrono::duration<double>(Clock::now() - t0).count();
    EXPECT_GE(waited, 1.5) << "cut off before idle_ms";
    EXPECT_LT(waited, 10.0) << "a client that stopped sending was held for " << waited << " s";
  }

  // The gateway and the stored media are unharmed.
  auto h = http_get(port_, "/health");
  EXPECT_EQ(h.status, 200) << h.error;
}

// An upstream may answer a streamed upload before reading its body (here streamgate-server
// refusing a wrong token with 403) and then stop reading. The client gets that answer
// through the gateway as it gets it straight from the server, not a 502 for the upload the
// upstream stopped taking. The body is far larger than what the server drains before it
// closes and than the loopback buffers, so the gateway's upstream writes do fail.
TEST_F(GatewayStreamTest, AnUpstreamsEarlyAnswerToAStreamedUploadReachesTheClient) {
  constexpr std::uint64_t kMib = 64;
  ASSERT_NO_FATAL_FAILURE(start_replica("v-stable"));
  ASSERT_NO_FATAL_FAILURE(start_gateway("tracks:\n  stable: { endpoints: [" + endpoint("v-stable") +
                                        "] }\nroute: { weights: { stable: 100 } }\n"));
  auto created = http_call(port_, {verb::post,
                                   "/api/v1/content",
                                   R"({"title":"early answer"})",
                                   {{"Authorization", std::string("Bearer ") + kToken},
                                    {"Content-Type", "application/json"}}});
  ASSERT_EQ(created.status, 201) << created.body << created.error;
  const std::string put_head =
      "PUT /api/v1/content/" + std::string(json::parse(created.body).at("id").as_string()) +
      "/media HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer wrong-token\r\n"
      "Content-Type: video/mp4\r\nContent-Length: " +
      std::to_string(kMib << 20) + "\r\n\r\n";
  // Sends the upload until the peer stops taking it, then reads the answer.
  auto upload = [&](std::uint16_t port, std::map<std::string, std::string>& fields,
                    std::string& body) {
    RawConn c(port);
    EXPECT_TRUE(c.write_all(put_head));
    std::vector<char> block(1 << 20, 'm');
    std::uint64_t sent = 0;
    while (sent < kMib && c.write_all(block.data(), block.size())) ++sent;
    EXPECT_LT(sent, kMib) << "the whole refused upload was taken";
    int status = 0;
    if (!c.read_head(status, fields)) return 0;
    c.read_body(std::strtoull(fields["content-length"].c_str(), nullptr, 10), 65536,
                [&](const char* p, std::size_t n) { body.append(p, n); });
    return status;
  };
  std::map<std::string, std::string> direct_fields;
  std::string direct_body;
  ASSERT_EQ(upload(replicas_["v-stable"][0]->port(), direct_fields, direct_body), 403)
      << "the server itself does not answer early: " << direct_body;

  std::map<std::string, std::string> fields;
  std::string body;
  EXPECT_EQ(upload(port_, fields, body), 403) << body;
  EXPECT_EQ(fields["x-streamgate-track"], "stable");
  EXPECT_EQ(fields["connection"], "close") << "the rest of the upload is not read any more";
  EXPECT_EQ(body, direct_body);
  // Counted as the upstream's answer, not as a gateway error.
  const std::string metrics = http_get(admin_port_, "/metrics").body;
  EXPECT_NE(metrics.find("streamgate_gateway_requests_total{route=\"default\",track=\"stable\","
                         "code=\"403\"} 1"),
            std::string::npos)
      << metrics.substr(0, 4000);
  // Nothing else was harmed: the next request is served.
  auto h = http_get(port_, "/health");
  EXPECT_EQ(h.status, 200) << h.error;
}

TEST_F(GatewayStreamTest, SighupReloadsGoodConfigAndKeepsOldOnBadOne) {
  ASSERT_NO_FATAL_FAILURE(start_replica("v-stable"));
  ASSERT_NO_FATAL_FAILURE(start_replica("v-canary"));
  const std::string tracks = "tracks:\n  stable: { endpoints: [" + endpoint("v-stable") +
                             "] }\n  canary: { endpoints: [" + endpoint("v-canary") + "] }\n";
  ASSERT_NO_FATAL_FAILURE(
      start_gateway(tracks + "route: { weights: { stable: 100, canary: 0 } }\n"));
  auto before = split_of_100();
  EXPECT_EQ(before["stable"], 100);
  const std::int64_t gen0 = generation();
  ASSERT_GT(gen0, 0);

  // A good file: the new weights apply after SIGHUP.
  write_config(tracks + "route: { weights: { stable: 20, canary: 80 } }\n");
  ASSERT_TRUE(gateway_->signal(SIGHUP));
  std::int64_t gen1 = gen0;
  for (int i = 0; i < 200 && gen1 <= gen0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    gen1 = generation();
  }
  ASSERT_GT(gen1, gen0) << "no reload after SIGHUP: " << tail_of(log_file());
  auto cfg = admin(verb::get, "/admin/v1/config");
  ASSERT_EQ(cfg.status, 200) << cfg.body;
  const auto weights = json::parse(cfg.body).at("route").at("weights");
  EXPECT_EQ(weights.at("stable").to_number<int>(), 20) << cfg.body;
  EXPECT_EQ(weights.at("canary").to_number<int>(), 80) << cfg.body;
  auto after = split_of_100();
  EXPECT_EQ(after["canary"], 80) << "stable " << after["stable"];
  EXPECT_EQ(after["stable"], 20);

  // A bad file: rejected with a log line, the previous configuration keeps serving.
  write_config(tracks + "route: { weights: { stable: 60, canary: 45 } }\n");
  ASSERT_TRUE(gateway_->signal(SIGHUP));
  bool logged = false;
  for (int i = 0; i < 200 && !logged; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    std::ifstream in(log_file());
    std::stringstream ss;
    ss << in.rdbuf();
    logged = ss.str().find("configuration reload rejected") != std::string::npos;
  }
  EXPECT_TRUE(logged) << tail_of(log_file());
  EXPECT_NE(tail_of(log_file()).find("sum to 100"), std::string::npos) << tail_of(log_file());
  EXPECT_TRUE(gateway_->running());
  EXPECT_EQ(generation(), gen1) << "a rejected file changed the generation";
  auto kept = split_of_100();
  EXPECT_EQ(kept["canary"], 80) << "stable " << kept["stable"];
  EXPECT_EQ(kept["stable"], 20);

  // A file that is not YAML at all is rejected the same way.
  write_config("tracks: [unclosed\n");
  ASSERT_TRUE(gateway_->signal(SIGHUP));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(gateway_->running());
  EXPECT_EQ(generation(), gen1);
  EXPECT_EQ(split_of_100()["canary"], 80);
}

// cpu_affinity: auto pins the data plane's workers (named sg-proxy-<i>) one per CPU the
// process may use, leaves the admin thread free, and cannot be switched off by a reload.
TEST_F(GatewayStreamTest, CpuAffinityAutoPinsTheProxyWorkers) {
  ASSERT_NO_FATAL_FAILURE(start_replica("v-stable"));
  const std::string tail = "tracks:\n  stable: { endpoints: [" + endpoint("v-stable") +
                           "] }\nroute: { weights: { stable: 100 } }\n";
  ASSERT_NO_FATAL_FAILURE(start_gateway("cpu_affinity: auto\n" + tail));
  // Each thread's name and allowed CPUs, from /proc.
  std::map<std::string, std::string> cpus_of;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(gateway_->pid()) + "/task")) {
    std::string name;
    std::getline(std::ifstream(task.path() / "comm"), name);
    std::ifstream status(task.path() / "status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("Cpus_allowed_list:", 0) == 0) {
        cpus_of[name] = line.substr(line.find_first_not_of(" \t", 18));
      }
    }
  }
  const std::vector<int> cpus = allowed_cpus();  // this test's, which the gateway inherited
  std::string all;
  for (int c : cpus) all += (all.empty() ? "" : ",") + std::to_string(c);
  ASSERT_TRUE(cpus_of.count("sg-proxy-0") && cpus_of.count("sg-proxy-1") &&
              cpus_of.count("sg-admin-0"))
      << cpus_of.size() << " threads";
  EXPECT_EQ(cpus_of["sg-proxy-0"], std::to_string(cpus[0]));
  EXPECT_EQ(cpus_of["sg-proxy-1"], std::to_string(cpus[1 % cpus.size()]));
  // Unpinned: the kernel's list form ("0-1") of every CPU the test may use.
  if (cpus.size() > 1) {
    EXPECT_NE(cpus_of["sg-admin-0"], std::to_string(cpus[0])) << all;
  }
  EXPECT_EQ(http_get(port_, "/health").status, 200);

  // A reload cannot unpin running threads: rejected, the old configuration keeps serving.
  write_config(tail);
  ASSERT_TRUE(gateway_->signal(SIGHUP));
  bool logged = false;
  for (int i = 0; i < 200 && !logged; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    logged = tail_of(log_file()).find("cpu_affinity cannot change") != std::string::npos;
  }
  EXPECT_TRUE(logged) << tail_of(log_file());
  EXPECT_EQ(http_get(port_, "/health").status, 200);
}

TEST_F(GatewayStreamTest, TrackOnAClosedPortAnswersJsonErrorNamingTheTrackAndIsEjectedAtOnce) {
  // The checker probes a new endpoint at once; fall: 100 keeps one failed probe from marking
  // it down, so the proxy itself tries the closed port.
  health_ = "{ interval_ms: 60000, timeout_ms: 500, rise: 1, fall: 100 }";
  const std::uint16_t closed = free_port();
  ASSERT_NO_FATAL_FAILURE(
      start_gateway("tracks:\n  dead: { endpoints: [127.0.0.1:" + std::to_string(closed) +
                    "] }\nroute: { weights: { dead: 100 } }\n"
                    "outlier: { consecutive_failures: 3 }\n"));
  auto first = http_get(port_, "/api/v1/health");
  ASSERT_EQ(first.status, 502) << first.body << first.error;
  EXPECT_EQ(first.header("X-StreamGate-Track"), "dead") << first.body;
  EXPECT_NE(first.header("X-Request-Id"), "");
  const auto err = json::parse(first.body).at("error");
  EXPECT_EQ(err.at("code").as_string(), "connect_failed") << first.body;
  // The message names the endpoint that failed ("... from 127.0.0.1:PORT").
  EXPECT_NE(std::string(err.at("message").as_string()).find(std::to_string(closed)),
            std::string::npos)
      << first.body;
  // A refused connect ejects at once (nothing listens there), not after three failures: the
  // route has no available track now. No track was chosen, so the 503 names none (printed,
  // not asserted).
  auto r = http_get(port_, "/api/v1/health");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(json::parse(r.body).at("error").at("code").as_string(), "no_healthy_upstream")
      << r.body;
  std::cout << "[ ejected  ] 503 " << r.body << " X-StreamGate-Track='"
            << r.header("X-StreamGate-Track") << "'\n";
  auto m = http_get(admin_port_, "/metrics");
  EXPECT_NE(m.body.find("streamgate_gateway_ejections_total"), std::string::npos);
}

}  // namespace
}  // namespace sg::test
