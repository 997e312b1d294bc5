// Picking an endpoint inside a track: round robin and least outstanding requests, both
// skipping endpoints that are unhealthy, draining, ejected or the one a retry failed on.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gateway/gateway_state.hpp"

namespace sg::gateway {
namespace {

Track make_track(Balance balance, int endpoints) {
  Track t;
  t.name = "stable";
  t.balance = balance;
  t.rr = std::make_shared<std::atomic<std::uint64_t>>(0);
  for (int i = 0; i < endpoints; ++i) {
    const auto port = static_cast<unsigned short>(9101 + i);
    t.endpoints.push_back(std::make_shared<Endpoint>(
        "127.0.0.1:" + std::to_string(port),
        boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), 1));
  }
  return t;
}

// How many of `n` picks each endpoint got (by index), with nothing in flight changing.
std::vector<int> spread(const Track& t, int n, const Endpoint* exclude = nullptr) {
  std::vector<int> got(t.endpoints.size(), 0);
  const auto now = Endpoint::Clock::now();
  for (int i = 0; i < n; ++i) {
    const Endpoint* ep = choose_endpoint(t, exclude, now);
    if (ep == nullptr) continue;
    for (std::size_t k = 0; k < t.endpoints.size(); ++k) {
      if (t.endpoints[k].get() == ep) ++got[k];
    }
  }
  return got;
}

class ChooseEndpoint : public ::testing::TestWithParam<Balance> {};

TEST_P(ChooseEndpoint, EqualEndpointsShareTheLoadExactly) {
  const Track t = make_track(GetParam(), 3);
  EXPECT_EQ(spread(t, 300), (std::vector<int>{100, 100, 100}));
}

TEST_P(ChooseEndpoint, SkipsUnavailableEndpointsAndTheOneARetryFailedOn) {
  Track t = make_track(GetParam(), 4);
  t.endpoints[0]->set_healthy(false);
  t.endpoints[1]->start_drain();
  OutlierConfig eject_at_once;
  eject_at_once.consecutive_failures = 1;
  ASSERT_TRUE(t.endpoints[2]->record_failure(Endpoint::Clock::now(), eject_at_once));
  EXPECT_EQ(spread(t, 50), (std::vector<int>{0, 0, 0, 50}));
  EXPECT_EQ(spread(t, 10, t.endpoints[3].get()), (std::vector<int>{0, 0, 0, 0}))
      << "nothing left once the only available endpoint is excluded";
  EXPECT_EQ(choose_endpoint(t, t.endpoints[3].get(), Endpoint::Clock::now()), nullptr);
  t.endpoints[0]->set_healthy(true);
  EXPECT_EQ(spread(t, 10, t.endpoints[3].get()), (std::vector<int>{10, 0, 0, 0}));
}

TEST_P(ChooseEndpoint, AnEmptyTrackHasNoEndpoint) {
  const Track t = make_track(GetParam(), 0);
  EXPECT_EQ(choose_endpoint(t, nullptr, Endpoint::Clock::now()), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Balances, ChooseEndpoint,
                         ::testing::Values(Balance::kRoundRobin, Balance::kLeastOutstanding),
                         [](const auto& info) { return std::string(balance_name(info.param)); });

TEST(ChooseEndpointLeastOutstanding, PicksTheEndpointWithFewestRequestsInFlight) {
  const Track t = make_track(Balance::kLeastOutstanding, 3);
  for (int i = 0; i < 5; ++i) t.endpoints[0]->begin_request();
  for (int i = 0; i < 2; ++i) t.endpoints[2]->begin_request();
  EXPECT_EQ(spread(t, 20), (std::vector<int>{0, 20, 0}));
  // Without the least loaded one, the next least.
  EXPECT_EQ(spread(t, 20, t.endpoints[1].get()), (std::vector<int>{0, 0, 20}));
}

// A replica that answers slowly keeps its requests in flight; least outstanding sends it
// only what it can hold, round robin its full share.
TEST(ChooseEndpointLeastOutstanding, ASlowEndpointGetsOnlyWhatItCanHold) {
  for (const Balance balance : {Balance::kLeastOutstanding, Balance::kRoundRobin}) {
    const Track t = make_track(balance, 2);
    Endpoint& fast = *t.endpoints[0];
    Endpoint& slow = *t.endpoints[1];
    std::map<const Endpoint*, int> got;
    int slow_in_flight = 0;
    for (int i = 0; i < 1000; ++i) {
      Endpoint* ep = choose_endpoint(t, nullptr, Endpoint::Clock::now());
      ASSERT_NE(ep, nullptr);
      ++got[ep];
      ep->begin_request();
      if (ep == &fast) {
        fast.end_request();  // answered before the next request arrives
      } else if (++slow_in_flight == 4) {
        for (; slow_in_flight > 1; --slow_in_flight) slow.end_request();  // answers 3 of 4
      }
    }
    if (balance == Balance::kRoundRobin) {
      EXPECT_EQ(got[&slow], 500);
    } else {
      // Every request finds the fast endpoint empty; the slow one gets a request only
      // when it too has nothing in flight (the first), then never again.
      EXPECT_EQ(got[&slow], 1) << "least outstanding kept sending to the slow endpoint";
      EXPECT_EQ(got[&fast], 999);
    }
  }
}

}  // namespace
}  // namespace sg::gateway
