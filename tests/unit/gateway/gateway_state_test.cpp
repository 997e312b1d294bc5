#include "gateway/gateway_state.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace sg::gateway {
namespace {

GatewayConfig two_tracks(const std::string& stable, const std::string& canary) {
  GatewayConfig c;
  c.tracks["stable"].endpoints = {stable};
  c.tracks["canary"].endpoints = {canary};
  c.route.weights = {{"stable", 90}, {"canary", 10}};
  return c;
}

TEST(GatewayState, OneEndpointPerAddressEvenWhenTwoTracksListIt) {
  GatewayState state(2);
  ASSERT_TRUE(state.apply(two_tracks("127.0.0.1:9101", "127.0.0.1:9101")));
  auto t = state.table();
  ASSERT_EQ(t->tracks.size(), 2u);
  EXPECT_EQ(t->tracks[0].endpoints[0].get(), t->tracks[1].endpoints[0].get())
      << "draining or health must reach the replica whichever track routes to it";
  state.find_endpoint("127.0.0.1:9101")->start_drain();
  EXPECT_TRUE(t->tracks[0].endpoints[0]->draining());
  EXPECT_TRUE(t->tracks[1].endpoints[0]->draining());
}

TEST(GatewayState, EndpointStateSurvivesAConfigChangeThatKeepsItsAddress) {
  GatewayState state(1);
  ASSERT_TRUE(state.apply(two_tracks("127.0.0.1:9101", "127.0.0.1:9201")));
  auto before = state.find_endpoint("127.0.0.1:9101");
  before->set_healthy(false);
  auto next = two_tracks("127.0.0.1:9101", "127.0.0.1:9202");
  next.route.weights = {{"stable", 50}, {"canary", 50}};
  ASSERT_TRUE(state.apply(next));
  EXPECT_EQ(state.table()->generation, 2u);
  EXPECT_EQ(state.find_endpoint("127.0.0.1:9101").get(), before.get());
  EXPECT_FALSE(state.find_endpoint("127.0.0.1:9101")->healthy());
  EXPECT_EQ(state.find_endpoint("127.0.0.1:9201"), nullptr);
}

TEST(GatewayState, InvalidConfigChangesNothing) {
  GatewayState state(1);
  ASSERT_TRUE(state.apply(two_tracks("127.0.0.1:9101", "127.0.0.1:9201")));
  auto bad = two_tracks("127.0.0.1:9101", "127.0.0.1:9201");
  bad.route.weights = {{"stable", 90}, {"canary", 20}};
  Status st = state.apply(bad);
  EXPECT_FALSE(st);
  EXPECT_NE(st.error().message.find("100"), std::string::npos) << st.error().message;
  EXPECT_EQ(state.table()->generation, 1u);
}

TEST(GatewayState, TableIsTheNewOneRightAfterApplyAndEachStateKeepsItsOwn) {
  GatewayState a(1);
  GatewayState b(1);
  ASSERT_TRUE(a.apply(two_tracks("127.0.0.1:9101", "127.0.0.1:9201")));
  ASSERT_TRUE(b.apply(two_tracks("127.0.0.1:9301", "127.0.0.1:9401")));
  auto held = a.table();  // an exchange in flight keeps the table it started with
  ASSERT_TRUE(a.apply(two_tracks("127.0.0.1:9102", "127.0.0.1:9201")));
  EXPECT_EQ(a.table()->generation, 2u);
  EXPECT_EQ(a.table()->tracks[1].endpoints[0]->address(), "127.0.0.1:9102");
  EXPECT_EQ(held->generation, 1u);
  EXPECT_EQ(held->tracks[1].endpoints[0]->address(), "127.0.0.1:9101");
  EXPECT_EQ(b.table()->tracks[1].endpoints[0]->address(), "127.0.0.1:9301");
  EXPECT_EQ(a.table()->tracks[1].endpoints[0]->address(), "127.0.0.1:9102");
}

TEST(GatewayState, ReferencesTakenOnAnotherThreadDoNotCountOnThisThreadsHandle) {
  GatewayState state(2);
  ASSERT_TRUE(state.apply(two_tracks("127.0.0.1:9101", "127.0.0.1:9201")));
  auto mine = state.table();
  const long before = mine.use_count();
  std::shared_ptr<const RouteTable> theirs;
  std::thread([&] { theirs = state.table(); }).join();
  ASSERT_EQ(theirs.get(), mine.get());
  EXPECT_EQ(mine.use_count(), before)
      << "a worker's per-request copies would write a counter every worker writes";
  EXPECT_EQ(theirs.use_count(), 1) << "the other thread's handle went with the thread";
}

}  // namespace
}  // namespace sg::gateway
