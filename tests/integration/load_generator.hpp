// A bounded loopback load generator for integration tests: N client threads, each on one
// keep-alive connection (reconnecting after a close), sending GET requests until a deadline
// or a request budget is reached. Counts statuses, connection errors and the value of a
// response header (e.g. X-StreamGate-Version) per response.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sg::test {

struct LoadResult {
  std::uint64_t requests = 0;
  std::uint64_t ok_2xx = 0;
  std::uint64_t non_2xx = 0;
  std::uint64_t connection_errors = 0;  // connect/read/write failures seen by the client
  std::map<int, std::uint64_t> by_status;
  std::map<std::string, std::uint64_t> by_header;  // value of `count_header`
  std::vector<std::string> errors;                 // first few error descriptions
  // First and last time a response carried each value of `count_header`.
  std::map<std::string,
           std::pair<std::chrono::steady_clock::time_point, std::chrono::steady_clock::time_point>>
      header_span;
};

// "requests 1200, non-2xx 0, connection errors 0; versions: v1=1200; <first errors>".
std::string describe(const LoadResult& r);

class LoadGenerator {
 public:
  struct Options {
    std::uint16_t port = 0;
    std::string target = "/api/v1/health";
    int connections = 4;
    std::chrono::milliseconds duration{5000};
    std::uint64_t max_requests = 1000000;  // across all connections
    std::string count_header = "X-StreamGate-Version";
    std::string host = "127.0.0.1";  // a loopback address
    bool keep_alive = true;  // false: one request per connection (Connection: close)
  };
  explicit LoadGenerator(Options options);
  ~LoadGenerator();  // stops and joins
  void start();
  // Ends the load before its deadline (finish() then returns at once).
  void stop() { stop_ = true; }
  // Waits for the deadline (or budget) and returns the totals.
  LoadResult finish();
  // Requests completed so far (any status).
  std::uint64_t completed() const { return completed_.load(); }
  // Responses seen since the last call carrying `value` in count_header, for "all traffic
  // now goes to X" checks: resets the window.
  LoadResult window();

 private:
  void run_connection();
  Options opts_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> budget_{0};
  std::atomic<std::uint64_t> completed_{0};
  std::chrono::steady_clock::time_point deadline_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  LoadResult total_;
  LoadResult window_;
};

}  // namespace sg::test
