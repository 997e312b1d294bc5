// One behavioural suite run against every Storage backend: SQLite on a file, SQLite in
// memory, and a real PostgreSQL started once per binary (a fresh database per test).
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <latch>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "server/storage/migrations.hpp"
#include "server/storage/storage.hpp"
#include "support/services.hpp"

// libpqxx 6.4 leaks one PGresult (about 2 KiB) when a statement hits a connection the server
// has closed (PostgresConnectionKilledByTheServerIsReplacedOnNextUse); the allocation is made
// and dropped inside libpqxx, so LeakSanitizer is told to ignore leaks from that library only.
extern "C" const char* __lsan_default_suppressions() { return "leak:libpqxx-6.4.so\n"; }

namespace sg::server {
namespace {

enum class Backend { kSqliteFile, kSqliteMemory, kPostgres };

const char* to_name(Backend b) {
  switch (b) {
    case Backend::kSqliteFile:
      return "SqliteFile";
    case Backend::kSqliteMemory:
      return "SqliteMemory";
    case Backend::kPostgres:
      return "Postgres";
  }
  return "Unknown";
}
void PrintTo(Backend b, std::ostream* os) { *os << to_name(b); }
std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return to_name(info.param);
}

// One PostgreSQL per test binary; a failure to start it fails every Postgres test loudly.
class PostgresEnvironment : public ::testing::Environment {
 public:
  static test::PostgresInstance* instance() { return instance_.get(); }
  static const std::string& start_error() { return start_error_; }

  void SetUp() override {
    instance_ = std::make_unique<test::PostgresInstance>();
    if (Status s = instance_->start(); !s) {
      start_error_ = s.error().message;
      instance_.reset();
      ADD_FAILURE() << "PostgreSQL could not be started for the storage tests: " << start_error_;
    }
  }
  void TearDown() override { instance_.reset(); }

 private:
  static inline std::unique_ptr<test::PostgresInstance> instance_;
  static inline std::string start_error_;
};

[[maybe_unused]] const auto* const kPostgresEnv =
    ::testing::AddGlobalTestEnvironment(new PostgresEnvironment);

// A URL of a database nobody has opened yet.
Result<std::string> fresh_url(Backend backend, const test::TempDir& dir) {
  switch (backend) {
    case Backend::kSqliteFile:
      return "sqlite:" + (dir.path() / "content.db").string();
    case Backend::kSqliteMemory:
      return std::string("sqlite::memory:");
    case Backend::kPostgres:
      if (PostgresEnvironment::instance() == nullptr) {
        return make_error(ErrorCode::kUnavailable,
                          "PostgreSQL did not start: " + PostgresEnvironment::start_error());
      }
      return PostgresEnvironment::instance()->create_unique_database();
  }
  return make_error(ErrorCode::kInternal, "unknown backend");
}

StorageOptions test_options() {
  StorageOptions o;
  o.pool_size = 4;
  o.acquire_timeout = std::chrono::seconds(10);
  o.busy_timeout = std::chrono::seconds(10);
  return o;
}

Content make_item(const std::string& id, std::vector<std::string> tags = {}) {
  Content c;
  c.id = id;
  c.fields.title = "Title of " + id;
  c.fields.description = "About " + id;
  c.fields.tags = std::move(tags);
  c.fields.duration_seconds = 12.5;
  c.fields.metadata_json = R"({"lang":"en"})";
  c.created_at = "2026-01-02T03:04:05.000Z";
  c.updated_at = c.created_at;
  return c;
}

ListQuery page_of(int limit) {
  ListQuery q;
  q.limit = limit;
  return q;
}

std::string code_name(const Error& e) { return error_code_name(e.code); }

class StorageTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto url = fresh_url(GetParam(), dir_);
    ASSERT_TRUE(url) << url.error().message;
    auto opened = open_storage(*url, test_options());
    ASSERT_TRUE(opened) << "open_storage(" << *url << "): " << opened.error().message;
    storage_ = std::move(*opened);
  }

  Content create(const std::string& id, std::vector<std::string> tags = {}) {
    auto r = storage_->create(make_item(id, std::move(tags)));
    EXPECT_TRUE(r) << "create " << id << ": " << r.error().message;
    return r ? *r : Content{};
  }

  // Walks every page of `query` and returns the ids in the order seen.
  std::vector<std::string> all_ids(ListQuery query, int* pages = nullptr) {
    std::vector<std::string> ids;
    for (int page = 1; page < 1000; ++page) {
      auto r = storage_->list(query);
      EXPECT_TRUE(r) << r.error().message;
      if (!r) break;
      for (const auto& c : r->items) ids.push_back(c.id);
      if (pages != nullptr) *pages = page;
      if (!r->next_after_seq) break;
      query.after_seq = r->next_after_seq;
    }
    return ids;
  }

  test::TempDir dir_;
  std::unique_ptr<Storage> storage_;
};

TEST_P(StorageTest, CreateThenGetReturnsAllFieldsWithTagsInOrderAndRevisionOne) {
  auto created = storage_->create(make_item("a1", {"zeta", "alpha", "mid"}));
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->revision, 1);
  EXPECT_GT(created->seq, 0);
  auto got = storage_->get("a1");
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->id, "a1");
  EXPECT_EQ(got->seq, created->seq);
  EXPECT_EQ(got->revision, 1);
  EXPECT_EQ(got->fields.title, "Title of a1");
  EXPECT_EQ(got->fields.description, "About a1");
  EXPECT_EQ(got->fields.tags, (std::vector<std::string>{"zeta", "alpha", "mid"}));
  EXPECT_DOUBLE_EQ(got->fields.duration_seconds, 12.5);
  EXPECT_EQ(got->fields.metadata_json, R"({"lang":"en"})");
  EXPECT_EQ(got->created_at, "2026-01-02T03:04:05.000Z");
  EXPECT_FALSE(got->media.has_value());
}

TEST_P(StorageTest, GetOfMissingIdIsNotFound) {
  auto got = storage_->get("nope");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kNotFound) << code_name(got.error());
}

TEST_P(StorageTest, ListReturnsItemsInCreationOrderWithIncreasingSeq) {
  for (const char* id : {"c", "a", "b"}) create(id);
  auto page = storage_->list(page_of(10));
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->items.size(), 3u);
  EXPECT_EQ(page->items[0].id, "c");
  EXPECT_EQ(page->items[1].id, "a");
  EXPECT_EQ(page->items[2].id, "b");
  EXPECT_LT(page->items[0].seq, page->items[1].seq);
  EXPECT_LT(page->items[1].seq, page->items[2].seq);
  EXPECT_FALSE(page->next_after_seq.has_value()) << "cursor " << *page->next_after_seq;
}

TEST_P(StorageTest, PaginationVisitsEveryItemExactlyOnceInOrder) {
  std::vector<std::string> expected;
  for (int i = 0; i < 25; ++i) expected.push_back(create("item" + std::to_string(i)).id);
  int pages = 0;
  EXPECT_EQ(all_ids(page_of(7), &pages), expected);
  EXPECT_EQ(pages, 4) << "25 items in pages of 7";
}

TEST_P(StorageTest, LastFullPageCarriesNoCursor) {
  for (int i = 0; i < 14; ++i) create("item" + std::to_string(i));
  int pages = 0;
  EXPECT_EQ(all_ids(page_of(7), &pages).size(), 14u);
  EXPECT_EQ(pages, 2) << "14 items in pages of 7 must not need an empty third page";
}

TEST_P(StorageTest, DeletedItemsLeaveNoGapInPagination) {
  for (int i = 0; i < 10; ++i) create("item" + std::to_string(i));
  for (int i : {2, 3, 4, 8}) ASSERT_TRUE(storage_->remove("item" + std::to_string(i), {}));
  EXPECT_EQ(all_ids(page_of(2)),
            (std::vector<std::string>{"item0", "item1", "item5", "item6", "item7", "item9"}));
}

TEST_P(StorageTest, TagFilterReturnsOnlyTaggedItemsInSeqOrderAcrossPages) {
  create("x1", {"news", "sport"});
  create("x2", {"music"});
  create("x3", {"sport", "sport"});  // a repeated tag must not repeat the item
  create("x4", {"sport"});
  create("x5", {"music", "news"});
  create("x6", {"sport"});
  ListQuery q = page_of(2);
  q.tag = "sport";
  EXPECT_EQ(all_ids(q), (std::vector<std::string>{"x1", "x3", "x4", "x6"}));
  q.tag = "news";
  EXPECT_EQ(all_ids(q), (std::vector<std::string>{"x1", "x5"}));
  q.tag = "absent";
  EXPECT_TRUE(all_ids(q).empty());
}

TEST_P(StorageTest, UpdateWithCurrentRevisionReplacesFieldsAndTagsAndBumpsRevision) {
  const Content c = create("u1", {"old", "tags"});
  ContentFields f = c.fields;
  f.title = "New title";
  f.tags = {"new"};
  auto updated = storage_->update("u1", 1, f, "2026-02-02T00:00:00.000Z");
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(updated->revision, 2);
  EXPECT_EQ(updated->seq, c.seq);
  EXPECT_EQ(updated->fields.title, "New title");
  EXPECT_EQ(updated->fields.tags, std::vector<std::string>{"new"});
  EXPECT_EQ(updated->updated_at, "2026-02-02T00:00:00.000Z");
  EXPECT_EQ(updated->created_at, c.created_at);
  auto got = storage_->get("u1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->revision, 2);
  EXPECT_EQ(got->fields.tags, std::vector<std::string>{"new"});
  ListQuery q = page_of(10);
  q.tag = "old";
  EXPECT_TRUE(all_ids(q).empty()) << "the replaced tag still lists the item";
}

TEST_P(StorageTest, UpdateWithStaleRevisionIsPreconditionFailedAndChangesNothing) {
  const Content c = create("u2");
  ASSERT_TRUE(storage_->update("u2", 1, c.fields, "2026-02-02T00:00:00.000Z"));
  ContentFields f = c.fields;
  f.title = "lost update";
  auto stale = storage_->update("u2", 1, f, "2026-03-03T00:00:00.000Z");
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::kPreconditionFailed) << code_name(stale.error());
  auto got = storage_->get("u2");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->revision, 2);
  EXPECT_EQ(got->fields.title, c.fields.title);
}

TEST_P(StorageTest, UpdateOfMissingIdIsNotFound) {
  auto r = storage_->update("ghost", 1, make_item("ghost").fields, "2026-02-02T00:00:00.000Z");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound) << code_name(r.error());
}

TEST_P(StorageTest, RemoveWithoutRevisionDeletesAndReturnsTheItemWithItsTags) {
  create("r1", {"keep", "me"});
  auto removed = storage_->remove("r1", std::nullopt);
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_EQ(removed->id, "r1");
  EXPECT_EQ(removed->fields.tags, (std::vector<std::string>{"keep", "me"}));
  auto got = storage_->get("r1");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kNotFound);
  ListQuery q = page_of(10);
  q.tag = "keep";
  EXPECT_TRUE(all_ids(q).empty());
  auto again = storage_->remove("r1", std::nullopt);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound) << code_name(again.error());
}

TEST_P(StorageTest, RemoveChecksTheRevisionWhenGiven) {
  create("r2");
  auto stale = storage_->remove("r2", 7);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::kPreconditionFailed) << code_name(stale.error());
  ASSERT_TRUE(storage_->get("r2")) << "a failed conditional delete removed the item";
  auto removed = storage_->remove("r2", 1);
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_FALSE(storage_->get("r2"));
}

TEST_P(StorageTest, SetMediaRecordsTheFileAndBumpsRevision) {
  create("m1", {"t"});
  const MediaInfo media{1234, std::string(64, 'a'), "video/mp4", "m1.mp4",
                        R"({"probe":null,"hls":{"available":true}})", "m1.mp4.hls.mp4",
                        R"({"segments":[]})"};
  auto r = storage_->set_media("m1", media, "2026-04-04T00:00:00.000Z");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->item.revision, 2);
  ASSERT_TRUE(r->item.media.has_value());
  EXPECT_FALSE(r->previous.has_value()) << "the item had no media before";
  auto got = storage_->get("m1");
  ASSERT_TRUE(got && got->media);
  EXPECT_EQ(got->media->size, 1234u);
  EXPECT_EQ(got->media->sha256, std::string(64, 'a'));
  EXPECT_EQ(got->media->content_type, "video/mp4");
  EXPECT_EQ(got->media->file, "m1.mp4");
  EXPECT_EQ(got->media->stream_json, media.stream_json);
  EXPECT_EQ(got->media->hls_file, "m1.mp4.hls.mp4");
  EXPECT_EQ(got->media->hls_index_json, media.hls_index_json);
  EXPECT_EQ(got->updated_at, "2026-04-04T00:00:00.000Z");
  EXPECT_EQ(got->fields.tags, std::vector<std::string>{"t"});
  auto missing = storage_->set_media("ghost", media, "2026-04-04T00:00:00.000Z");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound) << code_name(missing.error());
}

TEST_P(StorageTest, SetMediaReturnsTheMediaItReplaced) {
  create("m2");
  const MediaInfo first{10, std::string(64, 'b'), "video/mp4", "m2-first.mp4", {}, {}, {}};
  const MediaInfo second{20, std::string(64, 'c'), "video/webm", "m2-second.webm", {}, {}, {}};
  ASSERT_TRUE(storage_->set_media("m2", first, "2026-04-04T00:00:00.000Z"));
  auto r = storage_->set_media("m2", second, "2026-04-04T00:00:01.000Z");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->previous.has_value());
  EXPECT_EQ(r->previous->file, "m2-first.mp4");
  EXPECT_EQ(r->previous->size, 10u);
  EXPECT_EQ(r->previous->content_type, "video/mp4");
  ASSERT_TRUE(r->item.media.has_value());
  EXPECT_EQ(r->item.media->file, "m2-second.webm");
  EXPECT_EQ(r->item.revision, 3);
}

// Uploads racing on one item: each learns the file it replaced, so every file but the one
// left on the item is reported replaced exactly once (none orphaned, none removed twice).
TEST_P(StorageTest, ConcurrentSetMediaOnOneItemReportsEveryReplacedFileOnce) {
  create("race");
  constexpr int kThreads = 6;
  constexpr int kPerThread = 15;
  std::mutex mu;
  std::vector<std::string> replaced;
  std::vector<std::string> errors;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const MediaInfo m{static_cast<std::uint64_t>(i), std::string(64, 'd'), "video/mp4",
                          "race-" + std::to_string(t) + "-" + std::to_string(i) + ".mp4",
                          {}, {}, {}};
        auto r = storage_->set_media("race", m, "2026-04-04T00:00:00.000Z");
        std::lock_guard lock(mu);
        if (!r) {
          errors.push_back(r.error().message);
        } else if (r->previous) {
          replaced.push_back(r->previous->file);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(errors.empty()) << errors.size() << " failed, first: " << errors.front();
  auto now = storage_->get("race");
  ASSERT_TRUE(now && now->media);
  std::set<std::string> seen(replaced.begin(), replaced.end());
  EXPECT_EQ(seen.size(), replaced.size()) << "a file was reported replaced twice";
  EXPECT_EQ(seen.count(now->media->file), 0u) << "the current file was reported replaced";
  seen.insert(now->media->file);
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kThreads * kPerThread))
      << "a file was replaced without being reported: it would be orphaned on disk";
  EXPECT_EQ(now->revision, 1 + kThreads * kPerThread);
}

TEST_P(StorageTest, DuplicateIdIsConflictAndKeepsTheFirstItem) {
  create("dup");
  Content second = make_item("dup");
  second.fields.title = "second";
  auto r = storage_->create(second);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kConflict)
      << code_name(r.error()) << ": " << r.error().message;
  EXPECT_NE(r.error().message.find("dup"), std::string::npos) << r.error().message;
  EXPECT_EQ(storage_->get("dup")->fields.title, "Title of dup");
}

TEST_P(StorageTest, ConcurrentCreatesUpdatesAndRemovesFromManyThreadsAllSucceed) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::atomic<int> failures{0};
  std::string first_failure;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto r = storage_->create(make_item("gone-" + id));
        if (r) r = storage_->create(make_item(id, {"load"}));
        if (r) r = storage_->update(id, 1, r->fields, "2026-05-05T00:00:00.000Z");
        // remove() reads before it writes: the case a deferred transaction gets wrong.
        if (r) r = storage_->remove("gone-" + id, 1);
        if (!r && failures.fetch_add(1) == 0) {
          std::lock_guard lock(mu);
          first_failure = r.error().message;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0) << "first failure: " << first_failure;
  ListQuery q = page_of(100);
  q.tag = "load";
  const auto ids = all_ids(q);
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
  EXPECT_EQ(all_ids(page_of(100)).size(), ids.size()) << "removed items are still listed";
}

TEST_P(StorageTest, PingAnswersAndBackendIsNamed) {
  EXPECT_TRUE(storage_->ping());
  EXPECT_EQ(storage_->backend(), GetParam() == Backend::kPostgres ? "postgresql" : "sqlite");
}

INSTANTIATE_TEST_SUITE_P(AllBackends, StorageTest,
                         ::testing::Values(Backend::kSqliteFile, Backend::kSqliteMemory,
                                           Backend::kPostgres),
                         backend_name);

// --- Migrations: racing openers, separate processes, newer schemas ---

// Runs `sql` directly on the database behind `url` and returns the first two integer columns
// of every row.
Result<std::vector<std::pair<std::int64_t, std::int64_t>>> raw_pairs(const std::string& url,
                                                                     const std::string& sql) {
  std::vector<std::pair<std::int64_t, std::int64_t>> rows;
  if (url.starts_with("sqlite:")) {
    sqlite3* db = nullptr;
    const std::string path = url.substr(7);
    const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
    std::unique_ptr<sqlite3, int (*)(sqlite3*)> guard(db, &sqlite3_close_v2);
    if (rc != SQLITE_OK) return make_error(ErrorCode::kInternal, "cannot open " + path);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      return make_error(ErrorCode::kInternal, sqlite3_errmsg(db));
    }
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> st_guard(st, &sqlite3_finalize);
    while (sqlite3_step(st) == SQLITE_ROW) {
      rows.emplace_back(sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1));
    }
    return rows;
  }
  try {
    pqxx::connection conn(url);
    pqxx::work w(conn);
    for (const auto& r : w.exec(sql)) {
      rows.emplace_back(r[0].as<std::int64_t>(), r.size() > 1 ? r[1].as<std::int64_t>() : 0);
    }
    w.commit();
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInternal, e.what());
  }
  return rows;
}

// Every known version recorded exactly once, and nothing else.
void expect_each_version_once(const std::string& url) {
  auto rows = raw_pairs(url,
                        "SELECT version, COUNT(*) FROM schema_migrations GROUP BY version "
                        "ORDER BY version");
  ASSERT_TRUE(rows) << rows.error().message;
  const auto dialect =
      url.starts_with("sqlite:") ? migrations::Dialect::kSqlite : migrations::Dialect::kPostgres;
  std::vector<std::pair<std::int64_t, std::int64_t>> expected;
  for (const auto& m : migrations::all(dialect)) expected.emplace_back(m.version, 1);
  EXPECT_EQ(*rows, expected) << "schema_migrations must hold each of versions 1.."
                             << migrations::latest_version(dialect) << " exactly once";
}

class MigrationTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto url = fresh_url(GetParam(), dir_);
    ASSERT_TRUE(url) << url.error().message;
    url_ = *url;
  }
  test::TempDir dir_;
  std::string url_;
};

TEST_P(MigrationTest, OpeningTwiceAppliesEachVersionOnce) {
  for (int i = 0; i < 2; ++i) {
    auto s = open_storage(url_, test_options());
    ASSERT_TRUE(s) << "open #" << i + 1 << ": " << s.error().message;
  }
  expect_each_version_once(url_);
}

TEST_P(MigrationTest, FourThreadsOpeningAFreshDatabaseAtOnceAllSucceed) {
  constexpr int kOpeners = 4;
  std::latch start(kOpeners);
  std::vector<std::string> errors(kOpeners);
  std::vector<std::thread> threads;
  for (int i = 0; i < kOpeners; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto s = open_storage(url_, test_options());
      if (!s) errors[i] = s.error().message;
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kOpeners; ++i) EXPECT_EQ(errors[i], "") << "opener " << i;
  expect_each_version_once(url_);
}

TEST_P(MigrationTest, TwoProcessesOpeningAFreshDatabaseAtOnceBothSucceed) {
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  std::vector<pid_t> children;
  for (int i = 0; i < 2; ++i) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(go[1]);
      char byte;
      (void)!::read(go[0], &byte, 1);  // returns at EOF: the parent's signal to start
      auto s = open_storage(url_, test_options());
      if (!s) std::fprintf(stderr, "child %d: %s\n", ::getpid(), s.error().message.c_str());
      ::_exit(s ? 0 : 1);
    }
    children.push_back(pid);
  }
  ::close(go[0]);
  ::close(go[1]);  // both children start now
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "child " << pid << " failed to open " << url_ << " (wait status " << status << ")";
  }
  expect_each_version_once(url_);
}

TEST_P(MigrationTest, DatabaseMigratedByANewerBinaryStillOpens) {
  ASSERT_TRUE(open_storage(url_, test_options()));
  ASSERT_TRUE(raw_pairs(url_,
                        "INSERT INTO schema_migrations (version, applied_at) "
                        "VALUES (9999, '2030-01-01T00:00:00Z')"));
  auto reopened = open_storage(url_, test_options());
  ASSERT_TRUE(reopened) << reopened.error().message;
  auto rows = raw_pairs(url_, "SELECT COUNT(*), MAX(version) FROM schema_migrations");
  ASSERT_TRUE(rows) << rows.error().message;
  const auto dialect = GetParam() == Backend::kPostgres ? migrations::Dialect::kPostgres
                                                        : migrations::Dialect::kSqlite;
  const auto known = static_cast<std::int64_t>(migrations::all(dialect).size());
  EXPECT_EQ(rows->at(0), std::make_pair(known + 1, std::int64_t{9999}))
      << "the newer version must be kept and nothing re-applied";
}

INSTANTIATE_TEST_SUITE_P(SharedDatabases, MigrationTest,
                         ::testing::Values(Backend::kSqliteFile, Backend::kPostgres), backend_name);

TEST(OpenStorage, UnknownSchemeIsInvalidArgumentNamingTheExpectedForms) {
  auto r = open_storage("mysql://localhost/db", test_options());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("'mysql'"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("postgresql://"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("sqlite:"), std::string::npos) << r.error().message;
}

TEST(OpenStorage, UnreachablePostgresIsUnavailable) {
  const std::uint16_t port = test::free_port();  // nothing listens there
  const auto started = std::chrono::steady_clock::now();
  auto r = open_storage("postgresql://postgres@127.0.0.1:" + std::to_string(port) + "/x",
                        test_options());
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable) << r.error().message;
  EXPECT_LT(ms, 5000) << "a refused connection took " << ms << " ms to report";
}

TEST(OpenStorage, PostgresConnectionKilledByTheServerIsReplacedOnNextUse) {
  ASSERT_NE(PostgresEnvironment::instance(), nullptr) << PostgresEnvironment::start_error();
  auto url = PostgresEnvironment::instance()->create_unique_database();
  ASSERT_TRUE(url) << url.error().message;
  StorageOptions o = test_options();
  o.pool_size = 1;
  auto s = open_storage(*url, o);
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_TRUE((*s)->create(make_item("k1")));
  auto killed = raw_pairs(*url,
                          "SELECT COUNT(*), COUNT(*) FROM (SELECT pg_terminate_backend(pid) "
                          "FROM pg_stat_activity WHERE datname = current_database() "
                          "AND pid <> pg_backend_pid()) t");
  ASSERT_TRUE(killed) << killed.error().message;
  ASSERT_EQ(killed->at(0).first, 1) << "expected to terminate the pool's one connection";
  auto first = (*s)->get("k1");
  if (!first) {
    EXPECT_EQ(first.error().code, ErrorCode::kUnavailable) << first.error().message;
  }
  auto second = (*s)->get("k1");
  ASSERT_TRUE(second) << "still failing after the broken connection was dropped: "
                      << second.error().message;
  EXPECT_EQ(second->id, "k1");
}

TEST(OpenStorage, PostgresPoolExhaustionIsUnavailableAfterTheAcquireTimeout) {
  ASSERT_NE(PostgresEnvironment::instance(), nullptr) << PostgresEnvironment::start_error();
  auto url = PostgresEnvironment::instance()->create_unique_database();
  ASSERT_TRUE(url) << url.error().message;
  StorageOptions o = test_options();
  o.pool_size = 1;
  o.acquire_timeout = std::chrono::milliseconds(300);
  o.busy_timeout = std::chrono::milliseconds(5000);
  auto s = open_storage(*url, o);
  ASSERT_TRUE(s) << s.error().message;
  Storage& storage = **s;
  ASSERT_TRUE(storage.create(make_item("p1")));
  // Keep the pool's only connection busy: remove() waits on a row lock held by `blocker`.
  pqxx::connection blocker(*url);
  pqxx::work hold(blocker);
  hold.exec("SELECT 1 FROM content WHERE id = 'p1' FOR UPDATE");
  std::thread updater([&] { (void)storage.remove("p1", std::nullopt); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto started = std::chrono::steady_clock::now();
  auto r = storage.get("p1");
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  hold.abort();
  updater.join();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable) << r.error().message;
  EXPECT_NE(r.error().message.find("no free connection"), std::string::npos) << r.error().message;
  EXPECT_GE(ms, 250) << "gave up after " << ms << " ms, before the 300 ms acquire timeout";
  EXPECT_LT(ms, 2000) << "waited " << ms << " ms for a 300 ms acquire timeout";
}

}  // namespace
}  // namespace sg::server
