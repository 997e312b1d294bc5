// HttpServer's worker threads: named "<thread_name>-<i>", and with pin_workers each pinned to
// one CPU of the process's affinity mask, round robin when there are more workers than CPUs.
#include <gtest/gtest.h>
#include <pthread.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/cpu_affinity.hpp"
#include "common/http/blocking_client.hpp"
#include "common/http/http_server.hpp"

namespace sg::http {
namespace {

// Answers with the worker index, the thread's name and the CPUs it may run on.
class ThreadReport final : public Handler {
 public:
  Response handle(Request&, const RequestContext&) override {
    char name[16] = {};
    ::pthread_getname_np(::pthread_self(), name, sizeof name);
    std::ostringstream out;
    out << current_worker() << ' ' << name;
    for (int cpu : this_thread_cpus()) out << ' ' << cpu;
    Response r;
    r.msg.body() = out.str();
    return r;
  }
};

struct WorkerView {
  std::string name;
  std::vector<int> cpus;
};

// Asks on fresh connections (handed to the workers in turn) until every worker answered.
std::map<unsigned, WorkerView> ask_every_worker(const HttpServer& server) {
  std::map<unsigned, WorkerView> seen;
  for (unsigned i = 0; i < 4 * server.threads() && seen.size() < server.threads(); ++i) {
    auto reply = blocking_call("127.0.0.1", server.port(), {bhttp::verb::get, "/", {}, {}});
    EXPECT_EQ(reply.status, 200) << reply.error;
    std::istringstream in(reply.body);
    unsigned worker = 0;
    WorkerView v;
    in >> worker >> v.name;
    for (int cpu; in >> cpu;) v.cpus.push_back(cpu);
    seen[worker] = v;
  }
  return seen;
}

ServerOptions options_with(unsigned threads, bool pin) {
  ServerOptions o;
  o.port = 0;
  o.threads = threads;
  o.pin_workers = pin;
  o.thread_name = "sg-test";
  return o;
}

TEST(HttpServerThreads, PinnedWorkersEachRunOnOneCpuInTurn) {
  const std::vector<int> cpus = allowed_cpus();
  ASSERT_FALSE(cpus.empty());
  // One more worker than CPUs, so the round robin wraps around.
  const unsigned threads = static_cast<unsigned>(cpus.size()) + 1;
  ThreadReport handler;
  HttpServer server(options_with(threads, true), handler);
  ASSERT_TRUE(server.start().is_ok());
  const auto seen = ask_every_worker(server);
  server.stop();
  ASSERT_EQ(seen.size(), threads);
  for (const auto& [worker, view] : seen) {
    EXPECT_EQ(view.name, "sg-test-" + std::to_string(worker));
    EXPECT_EQ(view.cpus, std::vector<int>{cpus[worker % cpus.size()]}) << "worker " << worker;
  }
}

TEST(HttpServerThreads, UnpinnedWorkersMayRunOnEveryAllowedCpu) {
  ThreadReport handler;
  HttpServer server(options_with(2, false), handler);
  ASSERT_TRUE(server.start().is_ok());
  const auto seen = ask_every_worker(server);
  server.stop();
  ASSERT_EQ(seen.size(), 2u);
  for (const auto& [worker, view] : seen) {
    EXPECT_EQ(view.name, "sg-test-" + std::to_string(worker));
    EXPECT_EQ(view.cpus, allowed_cpus()) << "worker " << worker;
  }
}

TEST(HttpServerThreads, DefaultIsOneWorkerPerUsableCpu) {
  ThreadReport handler;
  HttpServer server(options_with(0, false), handler);
  ASSERT_TRUE(server.start().is_ok());
  EXPECT_EQ(server.threads(), usable_cpu_count());
  EXPECT_EQ(usable_cpu_count(), allowed_cpus().size());
  server.stop();
}

}  // namespace
}  // namespace sg::http
