#include "gateway/gateway_state.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace sg::gateway
