#include "platform/store/state_store.hpp"

#include "platform/model.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "support/services.hpp"

namespace sg::platform {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<StateStore> open_store(const fs::path& dir) {
  auto store = StateStore::open(dir);
  if (!store) {
    ADD_FAILURE() << "StateStore::open(" << dir << "): " << store.error().message;
    return nullptr;
  }
  return std::move(*store);
}

DeploymentRecord deployment_of(const std::string& to, const std::string& result) {
  DeploymentRecord d;
  d.strategy = "canary";
  d.from_release = "v1";
  d.to_release = to;
  d.result = result;
  d.started_ms = 1'700'000'000'000;
  d.options = R"({"strategy":"canary"})";
  d.state = R"({"phase":"step"})";
  d.evidence = "{}";
  return d;
}

std::vector<std::int64_t> ids_of(const std::vector<DeploymentRecord>& records) {
  std::vector<std::int64_t> out;
  for (const auto& r : records) out.push_back(r.id);
  return out;
}

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_store(dir_.path() / "state");
    ASSERT_NE(store_, nullptr);
  }

  test::TempDir dir_{"sg-state-store"};
  std::unique_ptr<StateStore> store_;
};

TEST_F(StateStoreTest, PutReleaseAddsThenReplacesInPlace) {
  ASSERT_TRUE(store_->put_release({"v1", "/bin/a", {"--x"}, {{"A", "1"}}}));
  ASSERT_TRUE(store_->put_release({"v2", "/bin/b", {}, {}}));
  ASSERT_TRUE(store_->put_release(
      {"v1", "/opt/v1/server", {"--port", "0", "--quiet"}, {{"Z", "last"}, {"A", "first"}}}));

  auto all = store_->releases();
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "v1");
  EXPECT_EQ((*all)[1].name, "v2");

  auto v1 = store_->release("v1");
  ASSERT_TRUE(v1) << v1.error().message;
  ASSERT_TRUE(v1->has_value());
  const ReleaseSpec& r = **v1;
  EXPECT_EQ(r.exec, "/opt/v1/server");
  EXPECT_EQ(r.args, (std::vector<std::string>{"--port", "0", "--quiet"}));
  // The environment keeps the order the operator gave, not sorted.
  const std::vector<std::pair<std::string, std::string>> env{{"Z", "last"}, {"A", "first"}};
  EXPECT_EQ(r.env, env);

  auto missing = store_->release("v9");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
}

TEST_F(StateStoreTest, SettingsReadBackLatestValue) {
  auto none = store_->setting("active_colour");
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_FALSE(none->has_value());

  ASSERT_TRUE(store_->set_setting("active_colour", "blue"));
  ASSERT_TRUE(store_->set_setting("active_colour", "green"));
  ASSERT_TRUE(store_->set_setting("weights", R"({"green":100})"));

  auto colour = store_->setting("active_colour");
  ASSERT_TRUE(colour && colour->has_value());
  EXPECT_EQ(**colour, "green");
  auto weights = store_->setting("weights");
  ASSERT_TRUE(weights && weights->has_value());
  EXPECT_EQ(**weights, R"({"green":100})");
}

TEST_F(StateStoreTest, DeploymentsAreListedNewestFirstUpToTheLimit) {
  std::vector<std::int64_t> ids;
  for (const char* to : {"v2", "v3", "v4"}) {
    auto id = store_->insert_deployment(deployment_of(to, "promoted"));
    ASSERT_TRUE(id) << id.error().message;
    ids.push_back(*id);
  }
  EXPECT_LT(ids[0], ids[1]);
  EXPECT_LT(ids[1], ids[2]);

  auto two = store_->deployments(2);
  ASSERT_TRUE(two) << two.error().message;
  EXPECT_EQ(ids_of(*two), (std::vector<std::int64_t>{ids[2], ids[1]}));
  EXPECT_EQ((*two)[0].to_release, "v4");

  auto all = store_->deployments(100);
  ASSERT_TRUE(all);
  EXPECT_EQ(ids_of(*all), (std::vector<std::int64_t>{ids[2], ids[1], ids[0]}));
  // An empty journal is stored as an empty JSON array, so history can always parse it.
  EXPECT_EQ((*all)[0].journal, "[]");
  EXPECT_EQ((*all)[0].options, R"({"strategy":"canary"})");
  EXPECT_EQ((*all)[0].started_ms, 1'700'000'000'000);
}

TEST_F(StateStoreTest, UpdateDeploymentRecordsTheOutcome) {
  auto id = store_->insert_deployment(deployment_of("v2", "in_progress"));
  ASSERT_TRUE(id) << id.error().message;

  auto rec = store_->deployment(*id);
  ASSERT_TRUE(rec && rec->has_value());
  DeploymentRecord d = **rec;
  d.result = "rolled_back";
  d.reason = "error rate 4.8% > 1%";
  d.finished_ms = 1'700'000'060'000;
  d.state = R"({"phase":"rolled_back"})";
  d.evidence = R"({"error_rate":0.048})";
  d.journal = R"([{"phase":"step"}])";
  d.strategy = "blue-green";  // not an updatable field
  ASSERT_TRUE(store_->update_deployment(d));

  auto after = store_->deployment(*id);
  ASSERT_TRUE(after && after->has_value());
  EXPECT_EQ((*after)->result, "rolled_back");
  EXPECT_EQ((*after)->reason, "error rate 4.8% > 1%");
  EXPECT_EQ((*after)->finished_ms, 1'700'000'060'000);
  EXPECT_EQ((*after)->state, R"({"phase":"rolled_back"})");
  EXPECT_EQ((*after)->evidence, R"({"error_rate":0.048})");
  EXPECT_EQ((*after)->journal, R"([{"phase":"step"}])");
  EXPECT_EQ((*after)->strategy, "canary");
  EXPECT_EQ((*after)->started_ms, 1'700'000'000'000);

  auto unknown = store_->deployment(*id + 100);
  ASSERT_TRUE(unknown);
  EXPECT_FALSE(unknown->has_value());
}

TEST_F(StateStoreTest, OpenDeploymentIsOnlyTheOneInProgress) {
  auto none = store_->open_deployment();
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_FALSE(none->has_value());

  ASSERT_TRUE(store_->insert_deployment(deployment_of("v2", "promoted")));
  ASSERT_TRUE(store_->insert_deployment(deployment_of("v3", "failed")));
  auto still_none = store_->open_deployment();
  ASSERT_TRUE(still_none);
  EXPECT_FALSE(still_none->has_value());

  auto id = store_->insert_deployment(deployment_of("v4", "in_progress"));
  ASSERT_TRUE(id);
  ASSERT_TRUE(store_->insert_deployment(deployment_of("v5", "rolled_back")));
  auto open = store_->open_deployment();
  ASSERT_TRUE(open && open->has_value());
  EXPECT_EQ((*open)->id, *id);
  EXPECT_EQ((*open)->to_release, "v4");

  DeploymentRecord done = **open;
  done.result = "promoted";
  ASSERT_TRUE(store_->update_deployment(done));
  auto closed = store_->open_deployment();
  ASSERT_TRUE(closed);
  EXPECT_FALSE(closed->has_value());
}

TEST_F(StateStoreTest, ResumesOpenDeploymentAfterReopen) {
  const fs::path state = dir_.path() / "state";
  ASSERT_TRUE(store_->put_release({"v2", "/bin/v2", {"-q"}, {}}));
  ASSERT_TRUE(store_->set_setting("active_colour", "green"));
  ASSERT_TRUE(store_->add_event("rollout", "canary of v2 started"));
  DeploymentRecord open = deployment_of("v2", "in_progress");
  open.state = R"({"phase":"step","step_index":"2"})";
  auto id = store_->insert_deployment(open);
  ASSERT_TRUE(id);
  store_.reset();  // the control plane dies

  auto reopened = open_store(state);
  ASSERT_NE(reopened, nullptr);
  auto resumed = reopened->open_deployment();
  ASSERT_TRUE(resumed && resumed->has_value());
  EXPECT_EQ((*resumed)->id, *id);
  EXPECT_EQ((*resumed)->state, R"({"phase":"step","step_index":"2"})");
  auto colour = reopened->setting("active_colour");
  ASSERT_TRUE(colour && colour->has_value());
  EXPECT_EQ(**colour, "green");
  auto release = reopened->release("v2");
  ASSERT_TRUE(release && release->has_value());
  EXPECT_EQ((*release)->args, std::vector<std::string>{"-q"});
  auto events = reopened->events(10);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].message, "canary of v2 started");
}

TEST_F(StateStoreTest, SecondStoreOnTheSameDirSeesWritesOfTheFirst) {
  // `sgctl release add` runs while `sgctl up` holds the database open.
  auto cli = open_store(dir_.path() / "state");
  ASSERT_NE(cli, nullptr);
  ASSERT_TRUE(cli->put_release({"v7", "/bin/v7", {}, {}}));
  ASSERT_TRUE(cli->add_event("release", "v7 added"));
  auto seen = store_->release("v7");
  ASSERT_TRUE(seen && seen->has_value());
  EXPECT_EQ((*seen)->exec, "/bin/v7");

  ASSERT_TRUE(store_->set_setting("active_colour", "blue"));
  auto colour = cli->setting("active_colour");
  ASSERT_TRUE(colour && colour->has_value());
  EXPECT_EQ(**colour, "blue");
}

TEST_F(StateStoreTest, EventsTailIsNewestLastWithTimestamps) {
  const std::int64_t before = unix_ms_now();
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(store_->add_event("route", "event " + std::to_string(i)));
  }
  const std::int64_t after = unix_ms_now();

  auto tail = store_->events(3);
  ASSERT_TRUE(tail) << tail.error().message;
  ASSERT_EQ(tail->size(), 3u);
  EXPECT_EQ((*tail)[0].message, "event 3");
  EXPECT_EQ((*tail)[1].message, "event 4");
  EXPECT_EQ((*tail)[2].message, "event 5");
  EXPECT_EQ((*tail)[2].kind, "route");
  EXPECT_LT((*tail)[0].id, (*tail)[2].id);
  for (const auto& e : *tail) {
    EXPECT_GE(e.ts_ms, before);
    EXPECT_LE(e.ts_ms, after);
  }
  auto all = store_->events(100);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 5u);
}

TEST_F(StateStoreTest, EventsKeepOnlyTheNewestTenThousand) {
  // Fill the table to the cap in one transaction (adding 10,000 events one by one through
  // the store would cost a commit each), then add through the store.
  {
    sqlite3* db = nullptr;
    const fs::path file = dir_.path() / "state" / "state.db";
    ASSERT_EQ(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close_v2)> guard(db, &sqlite3_close_v2);
    ASSERT_EQ(sqlite3_exec(db,
                           "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                           "WHERE i < 10000) INSERT INTO events(ts_ms, kind, message) "
                           "SELECT 1, 'old', 'old ' || i FROM n",
                           nullptr, nullptr, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
  }
  auto full = store_->events(20000);
  ASSERT_TRUE(full) << full.error().message;
  ASSERT_EQ(full->size(), 10000u);

  ASSERT_TRUE(store_->add_event("rollout", "newest"));
  auto capped = store_->events(20000);
  ASSERT_TRUE(capped);
  ASSERT_EQ(capped->size(), 10000u) << "the oldest event should have been dropped";
  EXPECT_EQ(capped->front().message, "old 2");
  EXPECT_EQ(capped->back().message, "newest");

  ASSERT_TRUE(store_->add_event("rollout", "newer still"));
  capped = store_->events(20000);
  ASSERT_TRUE(capped);
  EXPECT_EQ(capped->size(), 10000u);
  EXPECT_EQ(capped->front().message, "old 3");
}

TEST(StateStore, DatabaseIsCreatedPrivate) {
  test::TempDir dir("sg-state-store");
  auto store = StateStore::open(dir.path() / "state");
  ASSERT_TRUE(store) << store.error().message;
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "state" / "state.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << std::oct << (st.st_mode & 0777);
}

TEST(StateStore, SecretFilesOthersCanReadAreRefusedWithTheFix) {
  test::TempDir dir("sg-state-store");
  const fs::path file = dir.path() / "api-token";
  auto created = read_or_create_secret(file);
  ASSERT_TRUE(created) << created.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = read_or_create_secret(file);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *created) << "an existing secret is kept";
  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  auto wide = read_or_create_secret(file);
  ASSERT_FALSE(wide) << "a world-readable token was used";
  EXPECT_NE(wide.error().message.find("mode 0644"), std::string::npos) << wide.error().message;
  EXPECT_NE(wide.error().message.find("chmod 600 " + file.string()), std::string::npos);
  ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
  const fs::path link = dir.path() / "control-token";
  fs::create_symlink(file, link);
  auto linked = read_secret_file(link);
  ASSERT_FALSE(linked) << "a symlink could point anywhere";
  EXPECT_NE(linked.error().message.find("symlink"), std::string::npos) << linked.error().message;
  auto missing = read_secret_file(dir.path() / "none");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
}

TEST(StateStore, OpenFailsWithThePathWhenTheStateDirIsAFile) {
  test::TempDir dir("sg-state-store");
  const fs::path file = dir.path() / "not-a-dir";
  std::ofstream(file) << "x";
  auto store = StateStore::open(file / "state");
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find(file.string()), std::string::npos) << store.error().message;
}

TEST(StateStore, ReleaseNamesAreShortAndFilesystemSafe) {
  const std::vector<std::string> good_names{"v1.3.0", "a", "Release_2-rc.1", std::string(64, 'x')};
  for (const auto& good : good_names) {
    EXPECT_TRUE(validate_release_name(good)) << good;
  }
  const std::vector<std::string> bad_names{"",     std::string(65, 'x'), "v1/2", "../etc", "v 1",
                                           "v1:2", "caf\xc3\xa9"};
  for (const auto& bad : bad_names) {
    const Status st = validate_release_name(bad);
    ASSERT_FALSE(st) << "'" << bad << "' should be refused";
    EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(st.error().message.find("'" + bad + "'"), std::string::npos) << st.error().message;
  }
}

TEST(StateStore, ReleaseFromImageAcceptsOnlyStreamgateImages) {
  auto tagged = release_from_image("streamgate:v1.3.0");
  ASSERT_TRUE(tagged) << tagged.error().message;
  EXPECT_EQ(*tagged, "v1.3.0");
  auto bare = release_from_image("v1.3.0");
  ASSERT_TRUE(bare) << bare.error().message;
  EXPECT_EQ(*bare, "v1.3.0");

  auto other = release_from_image("other:v1");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(other.error().message.find("other:v1"), std::string::npos) << other.error().message;

  for (const char* bad : {"streamgate:", "streamgate:bad name", "streamgate:v1:extra",
                          "registry.example/streamgate:v1", "", "v1/../../x"}) {
    auto r = release_from_image(bad);
    EXPECT_FALSE(r) << "'" << bad << "' resolved to '" << (r ? *r : "") << "'";
  }
}

TEST(StateStore, Iso8601UtcHasMillisecondsAndZ) {
  EXPECT_EQ(iso8601_utc(1795558503120), "2026-11-24T22:15:03.120Z");
  EXPECT_EQ(iso8601_utc(951868799007), "2000-02-29T23:59:59.007Z");
  EXPECT_EQ(iso8601_utc(0), "1970-01-01T00:00:00.000Z");
}

TEST(StateStore, SecretIsCreatedPrivateAndThenReused) {
  test::TempDir dir("sg-secret");
  const fs::path file = dir.path() / "gateway.token";
  auto first = read_or_create_secret(file);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->size(), 48u);
  EXPECT_EQ(first->find_first_not_of("0123456789abcdef"), std::string::npos) << *first;

  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << std::oct << (st.st_mode & 0777);

  auto second = read_or_create_secret(file);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(*second, *first);

  auto elsewhere = read_or_create_secret(dir.path() / "other.token");
  ASSERT_TRUE(elsewhere);
  EXPECT_NE(*elsewhere, *first) << "two secrets should not be equal";
}

TEST(StateStore, SecretInAMissingDirectoryNamesTheFile) {
  test::TempDir dir("sg-secret");
  const fs::path file = dir.path() / "no-such-dir" / "gateway.token";
  auto secret = read_or_create_secret(file);
  ASSERT_FALSE(secret);
  EXPECT_NE(secret.error().message.find(file.string()), std::string::npos)
      << secret.error().message;
}

}  // namespace
}  // namespace sg::platform
