// A bounded pool of connections to one server (SQLite file, PostgreSQL, Redis), opened lazily:
// at most `capacity` exist at once; a caller waits for a free one at most `acquire_timeout`,
// then gets kUnavailable naming the pool. A Lease returns its connection when destroyed,
// unless it was marked broken (then the connection is closed and a new one may be opened).
// drop_idle() closes every idle connection (after the server they point at failed).
//
// Thread-safety: acquire(), drop_idle() and Lease destruction may run on any thread.
// Invariant: open() == idle connections + leased connections + connections being opened.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace sg {

template <class Conn, class Deleter = std::default_delete<Conn>>
class ConnectionPool {
 public:
  using Handle = std::unique_ptr<Conn, Deleter>;
  using Opener = std::function<Result<Handle>()>;

  struct Options {
    std::string name;  // "sqlite 'content.db'": names the pool in errors
    int capacity = 8;
    std::chrono::milliseconds acquire_timeout{5000};
  };

  class Lease {
   public:
    Lease(ConnectionPool* pool, Handle conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept
        : pool_(other.pool_), conn_(std::move(other.conn_)), broken_(other.broken_) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_) pool_->release(std::move(conn_), broken_);
    }
    Conn& operator*() const { return *conn_; }
    Conn* operator->() const { return conn_.get(); }
    Conn* get() const { return conn_.get(); }
    // The connection is closed instead of being reused.
    void mark_broken() { broken_ = true; }

   private:
    ConnectionPool* pool_;
    Handle conn_;
    bool broken_ = false;
  };

  ConnectionPool(Options options, Opener open)
      : options_(std::move(options)), open_fn_(std::move(open)) {
    if (options_.capacity < 1) options_.capacity = 1;
  }
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  Result<Lease> acquire() {
    std::unique_lock lock(mu_);
    const bool ready = cv_.wait_for(lock, options_.acquire_timeout,
                                    [&] { return !idle_.empty() || open_ < options_.capacity; });
    if (!ready) {
      return make_error(ErrorCode::kUnavailable,
                        options_.name + ": no free connection within " +
                            std::to_string(options_.acquire_timeout.count()) + " ms (pool of " +
                            std::to_string(options_.capacity) + ")");
    }
    if (!idle_.empty()) {
      Handle conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_;
    lock.unlock();
    Result<Handle> conn = open_fn_();
    if (!conn || !*conn) {
      std::lock_guard relock(mu_);
      --open_;
      cv_.notify_one();
      if (!conn) return conn.error();
      return make_error(ErrorCode::kInternal, options_.name + ": opening gave no connection");
    }
    return Lease(this, std::move(*conn));
  }

  void drop_idle() {
    std::vector<Handle> stale;
    {
      std::lock_guard lock(mu_);
      stale.swap(idle_);
      open_ -= static_cast<int>(stale.size());
      cv_.notify_all();
    }
    // `stale` closes here, outside the lock.
  }

  int open() const {
    std::lock_guard lock(mu_);
    return open_;
  }
  const Options& options() const { return options_; }

 private:
  void release(Handle conn, bool broken) {
    std::lock_guard lock(mu_);
    if (broken) {
      --open_;
    } else {
      idle_.push_back(std::move(conn));
    }
    cv_.notify_one();
  }

  Options options_;
  Opener open_fn_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Handle> idle_;
  int open_ = 0;
};

}  // namespace sg
