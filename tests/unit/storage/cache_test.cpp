// The in-process LRU cache on a simulated clock, and the Redis cache against a real
// redis-server that the tests stop and restart.
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <thread>

#include "common/unique_fd.hpp"
#include "server/cache/cache.hpp"
#include "server/cache/memory_cache.hpp"
#include "server/cache/redis_cache.hpp"
#include "support/services.hpp"

namespace sg::server {
namespace {

using namespace std::chrono_literals;
using Outcome = CacheLookup::Outcome;

std::int64_t ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kHit:
      return "hit";
    case Outcome::kMiss:
      return "miss";
    case Outcome::kError:
      return "error";
  }
  return "?";
}

// A clock that only moves when the test says so.
struct FakeClock {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1)};
  MemoryCache::Clock fn() {
    return [this] { return now; };
  }
};

TEST(MemoryCache, EvictsTheLeastRecentlyUsedEntryWhenFull) {
  MemoryCache cache(3);
  cache.set("a", "1", 60s);
  cache.set("b", "2", 60s);
  cache.set("c", "3", 60s);
  EXPECT_EQ(cache.get("a").outcome, Outcome::kHit);  // a is now the most recent
  cache.set("d", "4", 60s);                          // evicts b
  EXPECT_EQ(cache.get("b").outcome, Outcome::kMiss);
  EXPECT_EQ(cache.get("a").value, "1");
  EXPECT_EQ(cache.get("c").value, "3");
  EXPECT_EQ(cache.get("d").value, "4");
  EXPECT_EQ(cache.size(), 3u);
  cache.set("e", "5", 60s);  // a was used before c and d were read: a goes
  EXPECT_EQ(cache.get("a").outcome, Outcome::kMiss);
}

TEST(MemoryCache, OverwritingAKeyReplacesTheValueWithoutGrowing) {
  MemoryCache cache(2);
  cache.set("k", "old", 60s);
  cache.set("k", "new", 60s);
  EXPECT_EQ(cache.get("k").value, "new");
  EXPECT_EQ(cache.size(), 1u);
}

TEST(MemoryCache, EntryExpiresExactlyWhenItsTtlHasPassed) {
  FakeClock clock;
  MemoryCache cache(10, clock.fn());
  cache.set("short", "s", 5s);
  cache.set("long", "l", 60s);
  clock.now += 4999ms;
  EXPECT_EQ(cache.get("short").outcome, Outcome::kHit) << "expired 1 ms before its 5 s TTL";
  clock.now += 1ms;
  EXPECT_EQ(cache.get("short").outcome, Outcome::kMiss) << "still served at its 5 s TTL";
  EXPECT_EQ(cache.get("long").outcome, Outcome::kHit);
  EXPECT_EQ(cache.size(), 1u) << "the expired entry was not dropped on lookup";
}

TEST(MemoryCache, EraseAndNonPositiveTtlRemoveTheEntry) {
  MemoryCache cache(10);
  cache.set("a", "1", 60s);
  cache.set("b", "2", 60s);
  EXPECT_TRUE(cache.erase("a"));
  EXPECT_EQ(cache.get("a").outcome, Outcome::kMiss);
  cache.set("b", "3", 0s);
  EXPECT_EQ(cache.get("b").outcome, Outcome::kMiss);
  EXPECT_TRUE(cache.erase("never-set"));
}

TEST(MemoryCache, ManyThreadsStayWithinCapacityAndNeverSeeAForeignValue) {
  constexpr std::size_t kCapacity = 64;
  MemoryCache cache(kCapacity);
  std::atomic<int> wrong{0};
  std::atomic<int> hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 4000; ++i) {
        const std::string key = "k" + std::to_string((i * 7 + t) % 200);
        if (i % 3 == 0) {
          cache.set(key, "v" + key, 60s);
        } else if (i % 17 == 0) {
          (void)cache.erase(key);
        } else {
          auto r = cache.get(key);
          if (r.outcome == Outcome::kHit) {
            ++hits;
            if (r.value != "v" + key) ++wrong;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(hits.load(), 0) << "no lookup ever hit: the smoke test exercised nothing";
  EXPECT_LE(cache.size(), kCapacity);
}

TEST(OpenCache, AcceptsMemoryAndRedisUrlsAndRejectsOthers) {
  CacheOptions o;
  auto memory = open_cache("memory", o);
  ASSERT_TRUE(memory) << memory.error().message;
  EXPECT_EQ((*memory)->backend(), "memory");
  auto redis = open_cache("redis://127.0.0.1:1/2", o);  // need not be up to open
  ASSERT_TRUE(redis) << redis.error().message;
  EXPECT_EQ((*redis)->backend(), "redis");
  for (const char* bad : {"memcached://x:1", "redis://:6379", "redis://h:99999", "redis://h:1/x"}) {
    auto r = open_cache(bad, o);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << bad;
  }
}

TEST(RedisUrl, ParsesHostPortAndDb) {
  auto ep = parse_redis_url("redis://cache.local:6380/3");
  ASSERT_TRUE(ep) << ep.error().message;
  EXPECT_EQ(ep->host, "cache.local");
  EXPECT_EQ(ep->port, 6380);
  EXPECT_EQ(ep->db, 3);
  auto defaults = parse_redis_url("redis://cache.local");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->port, 6379);
  EXPECT_EQ(defaults->db, 0);
}

class RedisCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = redis_.start();
    ASSERT_TRUE(s) << "redis-server could not be started: " << s.error().message;
  }
  std::unique_ptr<Cache> open_redis(CacheOptions o = {}) {
    auto c = open_cache(redis_.url(), o);
    EXPECT_TRUE(c) << c.error().message;
    return c ? std::move(*c) : nullptr;
  }
  test::RedisInstance redis_;
};

TEST_F(RedisCacheTest, SetGetEraseRoundTripWithBinaryValues) {
  auto cache = open_redis();
  ASSERT_TRUE(cache);
  const std::string value("a\0b\r\nc", 6);
  EXPECT_EQ(cache->get("k").outcome, Outcome::kMiss);
  cache->set("k", value, 60s);
  auto hit = cache->get("k");
  ASSERT_EQ(hit.outcome, Outcome::kHit) << outcome_name(hit.outcome);
  EXPECT_EQ(hit.value, value);
  EXPECT_TRUE(cache->erase("k"));
  EXPECT_EQ(cache->get("k").outcome, Outcome::kMiss);
  EXPECT_TRUE(cache->ping());
}

TEST_F(RedisCacheTest, KeysOfDifferentPrefixesDoNotMeet) {
  CacheOptions a;
  a.key_prefix = "a:";
  CacheOptions b;
  b.key_prefix = "b:";
  auto ca = open_redis(a);
  auto cb = open_redis(b);
  ASSERT_TRUE(ca && cb);
  ca->set("k", "from a", 60s);
  EXPECT_EQ(cb->get("k").outcome, Outcome::kMiss);
  EXPECT_EQ(ca->get("k").value, "from a");
}

TEST_F(RedisCacheTest, ValueExpiresAfterItsTtl) {
  auto cache = open_redis();
  ASSERT_TRUE(cache);
  cache->set("ttl", "v", 1s);
  EXPECT_EQ(cache->get("ttl").outcome, Outcome::kHit);
  std::this_thread::sleep_for(2100ms);
  auto later = cache->get("ttl");
  EXPECT_EQ(later.outcome, Outcome::kMiss)
      << outcome_name(later.outcome) << " 2.1 s after a 1 s TTL";
}

TEST_F(RedisCacheTest, StoppedRedisFailsFastAndPingFails) {
  CacheOptions o;
  o.reconnect_backoff = 1000ms;
  auto cache = open_redis(o);
  ASSERT_TRUE(cache);
  cache->set("k", "v", 60s);
  ASSERT_EQ(cache->get("k").outcome, Outcome::kHit);
  redis_.stop();
  auto started = std::chrono::steady_clock::now();
  auto first = cache->get("k");
  const auto first_ms = ms_since(started);
  EXPECT_EQ(first.outcome, Outcome::kError) << outcome_name(first.outcome);
  EXPECT_LT(first_ms, 500) << "the first get after Redis stopped took " << first_ms << " ms";
  started = std::chrono::steady_clock::now();
  for (int i = 0; i < 50; ++i) EXPECT_EQ(cache->get("k").outcome, Outcome::kError);
  const auto fifty_ms = ms_since(started);
  EXPECT_LT(fifty_ms, 100) << "50 gets inside the backoff took " << fifty_ms << " ms";
  EXPECT_FALSE(cache->ping());
  EXPECT_FALSE(cache->erase("k"));
}

TEST_F(RedisCacheTest, RestartedRedisServesAgainAfterTheBackoff) {
  CacheOptions o;
  o.reconnect_backoff = 300ms;
  auto cache = open_redis(o);
  ASSERT_TRUE(cache);
  ASSERT_TRUE(cache->ping());
  redis_.stop();
  EXPECT_EQ(cache->get("k").outcome, Outcome::kError);
  const auto down_at = std::chrono::steady_clock::now();
  Status restarted = redis_.start();
  ASSERT_TRUE(restarted) << restarted.error().message;
  Outcome last = Outcome::kError;
  while (ms_since(down_at) < 3000) {
    last = cache->get("k").outcome;
    if (last != Outcome::kError) break;
    std::this_thread::sleep_for(20ms);
  }
  const auto recovered_ms = ms_since(down_at);
  EXPECT_EQ(last, Outcome::kMiss) << "still failing " << recovered_ms << " ms after the outage";
  EXPECT_GE(recovered_ms, 290) << "reconnected after " << recovered_ms
                               << " ms, inside the 300 ms backoff";
  cache->set("k", "back", 60s);
  EXPECT_EQ(cache->get("k").value, "back");
  EXPECT_TRUE(cache->ping());
}

// A server that accepts connections but never answers: every command would hang without the
// command timeout, and every call would pay it without the backoff.
TEST(RedisCache, HungServerCostsOneCommandTimeoutPerBackoffWindow) {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener.get(), 16), 0);
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  CacheOptions o;
  o.command_timeout = 200ms;
  o.reconnect_backoff = 5000ms;
  auto cache = open_cache("redis://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), o);
  ASSERT_TRUE(cache) << cache.error().message;
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ((*cache)->get("k").outcome, Outcome::kError);
  const auto first_ms = ms_since(started);
  EXPECT_GE(first_ms, 150) << "the hung server answered in " << first_ms << " ms?";
  EXPECT_LT(first_ms, 500) << "a 200 ms command timeout took " << first_ms << " ms";
  started = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) EXPECT_EQ((*cache)->get("k").outcome, Outcome::kError);
  const auto rest_ms = ms_since(started);
  EXPECT_LT(rest_ms, 100) << "20 gets inside the backoff took " << rest_ms << " ms";
}

}  // namespace
}  // namespace sg::server
