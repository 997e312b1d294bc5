// BlockingPool: a few threads for handler work that may block (a database round trip, a
// remote cache, writing and fsync'ing a file), so the HTTP server's I/O threads never wait
// on them and a stalled dependency cannot delay health probes or streams in flight.
//
// run() hands a function to a pool thread and resumes the calling coroutine on its own
// executor with the result. The pool is bounded twice: `threads` run at once, and at most
// `queue_limit` calls may be queued or running; a call made with `bounded` beyond that is
// refused without running (the server answers 503), so a stall shows as fast refusals, not as
// an ever longer queue. Steps of a request already admitted (the chunks of an upload) pass
// `bounded = false` and always run.
//
// Lifecycle: start() spawns the threads; join() lets queued work finish and ends them (the
// destructor joins). run() may be called from any thread; the pool's own threads are named
// "<thread_name>-<i>".
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace sg::http {

class BlockingPool {
 public:
  BlockingPool(unsigned threads, std::size_t queue_limit, std::string thread_name);
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  void start();
  void join();

  unsigned threads() const { return threads_; }
  std::size_t queue_limit() const { return queue_limit_; }
  // Calls queued or running now.
  std::size_t pending() const { return pending_.load(std::memory_order_relaxed); }
  // Calls refused because the queue was full, since start.
  std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

  // Runs fn() on a pool thread; the caller resumes on its own executor. nullopt when
  // `bounded` and the queue is full. An exception thrown by fn() is rethrown to the caller.
  // The result type must be default-constructible and movable.
  template <class F>
  boost::asio::awaitable<std::optional<std::invoke_result_t<F&>>> run(F fn, bool bounded);

 private:
  bool enter(bool bounded);
  void leave() { pending_.fetch_sub(1, std::memory_order_relaxed); }

  const unsigned threads_;
  const std::size_t queue_limit_;
  const std::string thread_name_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
  std::vector<std::thread> workers_;
  std::atomic<std::size_t> pending_{0};
  std::atomic<std::uint64_t> refused_{0};
};

template <class F>
boost::asio::awaitable<std::optional<std::invoke_result_t<F&>>> BlockingPool::run(F fn,
                                                                                  bool bounded) {
  using R = std::invoke_result_t<F&>;
  if (!enter(bounded)) co_return std::nullopt;
  struct Leave {
    BlockingPool* pool;
    ~Leave() { pool->leave(); }
  } leave{this};
  // The lambda lives in the spawned coroutine's frame; `fn` in this (suspended) one.
  R result = co_await boost::asio::co_spawn(
      io_.get_executor(), [&fn]() -> boost::asio::awaitable<R> { co_return fn(); },
      boost::asio::use_awaitable);
  co_return std::optional<R>(std::move(result));
}

}  // namespace sg::http
