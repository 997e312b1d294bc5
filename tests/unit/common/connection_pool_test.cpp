#include "common/connection_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace sg {
namespace {

struct Conn {
  int id;
};

TEST(ConnectionPool, OpensLazilyReusesAndCapsConnections) {
  std::atomic<int> opened{0};
  ConnectionPool<Conn> pool({.name = "test pool", .capacity = 2,
                             .acquire_timeout = std::chrono::milliseconds(50)},
                            [&]() -> Result<std::unique_ptr<Conn>> {
                              return std::make_unique<Conn>(Conn{++opened});
                            });
  EXPECT_EQ(pool.open(), 0);
  {
    auto a = pool.acquire();
    ASSERT_TRUE(a);
    EXPECT_EQ((*a)->id, 1);
  }
  auto a = pool.acquire();
  ASSERT_TRUE(a);
  EXPECT_EQ((*a)->id, 1) << "the idle connection is reused";
  auto b = pool.acquire();
  ASSERT_TRUE(b);
  EXPECT_EQ((*b)->id, 2);
  auto c = pool.acquire();
  ASSERT_FALSE(c) << "capacity 2";
  EXPECT_EQ(c.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(c.error().message, "test pool: no free connection within 50 ms (pool of 2)");
  EXPECT_EQ(opened.load(), 2);
}

TEST(ConnectionPool, BrokenConnectionsAreClosedAndFailedOpensFreeTheirSlot) {
  int opened = 0;
  bool fail = false;
  ConnectionPool<Conn> pool({.name = "p", .capacity = 1}, [&]() -> Result<std::unique_ptr<Conn>> {
    if (fail) return make_error(ErrorCode::kUnavailable, "p: cannot connect");
    return std::make_unique<Conn>(Conn{++opened});
  });
  {
    auto a = pool.acquire();
    ASSERT_TRUE(a);
    a->mark_broken();
  }
  EXPECT_EQ(pool.open(), 0);
  fail = true;
  auto refused = pool.acquire();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "p: cannot connect");
  EXPECT_EQ(pool.open(), 0);
  fail = false;
  auto again = pool.acquire();
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)->id, 2);
}

TEST(ConnectionPool, WaiterGetsTheConnectionReleasedByAnotherThread) {
  ConnectionPool<Conn> pool({.name = "p", .capacity = 1,
                             .acquire_timeout = std::chrono::milliseconds(5000)},
                            [] { return Result<std::unique_ptr<Conn>>(std::make_unique<Conn>()); });
  auto held = pool.acquire();
  ASSERT_TRUE(held);
  std::thread releaser([lease = std::move(*held)]() mutable {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    (void)lease;  // released when the thread's copy dies
  });
  auto got = pool.acquire();
  releaser.join();
  EXPECT_TRUE(got);
}

TEST(ConnectionPool, DropIdleClosesIdleConnectionsOnly) {
  int opened = 0;
  ConnectionPool<Conn> pool({.name = "p", .capacity = 3}, [&] {
    return Result<std::unique_ptr<Conn>>(std::make_unique<Conn>(Conn{++opened}));
  });
  {
    auto a = pool.acquire();
    auto b = pool.acquire();
  }
  auto leased = pool.acquire();
  EXPECT_EQ(pool.open(), 2);
  pool.drop_idle();
  EXPECT_EQ(pool.open(), 1) << "the leased one stays";
}

}  // namespace
}  // namespace sg
