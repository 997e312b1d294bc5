#include "platform/local/process_records.hpp"

#include <gtest/gtest.h>

#include "support/services.hpp"

namespace sg::platform {
namespace {

TEST(ProcessRecords, ReplicasRoundTripAndReplaceTheWholeSet) {
  test::TempDir dir("sg-process-records");
  auto records = ProcessRecords::open(dir.path());
  ASSERT_TRUE(records) << records.error().message;
  const std::vector<ReplicaRecord> two{
      {"blue", "v1", 65535, 4242, 18'446'744'073'709'551'000ull, "/tmp/logs/blue-v1-1.log", 0, 0,
       ""},
      {"canary", "v2", 40001, 77, 123456, "/tmp/logs/canary-v2-2.log", 3, 2, "signal 9 (Killed)"}};
  ASSERT_TRUE((*records)->replace_replicas(two));
  auto got = (*records)->replicas();
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_EQ(got->size(), 2u);
  for (std::size_t i = 0; i < two.size(); ++i) {
    EXPECT_EQ((*got)[i].track, two[i].track);
    EXPECT_EQ((*got)[i].release, two[i].release);
    EXPECT_EQ((*got)[i].port, two[i].port);
    EXPECT_EQ((*got)[i].pid, two[i].pid);
    EXPECT_EQ((*got)[i].start_ticks, two[i].start_ticks) << "start time must survive uint64";
    EXPECT_EQ((*got)[i].log_file, two[i].log_file);
    EXPECT_EQ((*got)[i].restarts, two[i].restarts);
    EXPECT_EQ((*got)[i].readiness_flaps, two[i].readiness_flaps);
    EXPECT_EQ((*got)[i].last_exit, two[i].last_exit);
  }
  ASSERT_TRUE((*records)->replace_replicas({two[1]}));
  got = (*records)->replicas();
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].track, "canary");
  ASSERT_TRUE((*records)->replace_replicas({}));
  got = (*records)->replicas();
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->empty());
}

TEST(ProcessRecords, GatewayRecordSurvivesReopenAndCanBeForgotten) {
  test::TempDir dir("sg-process-records");
  {
    auto records = ProcessRecords::open(dir.path());
    ASSERT_TRUE(records);
    auto none = (*records)->gateway();
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value());
    ASSERT_TRUE((*records)->set_gateway(GatewayRecord{4242, 987654321}));
  }
  auto reopened = ProcessRecords::open(dir.path());
  ASSERT_TRUE(reopened);
  auto gateway = (*reopened)->gateway();
  ASSERT_TRUE(gateway && gateway->has_value());
  EXPECT_EQ((*gateway)->pid, 4242);
  EXPECT_EQ((*gateway)->start_ticks, 987654321u);
  ASSERT_TRUE((*reopened)->set_gateway(std::nullopt));
  gateway = (*reopened)->gateway();
  ASSERT_TRUE(gateway);
  EXPECT_FALSE(gateway->has_value());
}

}  // namespace
}  // namespace sg::platform
