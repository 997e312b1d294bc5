#include "common/sqlite.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "support/services.hpp"

namespace sg::sqlite {
namespace {

TEST(Sqlite, StatementsBindStepAndReadTypedColumns) {
  auto db = Database::open(":memory:", {});
  ASSERT_TRUE(db) << db.error().message;
  ASSERT_TRUE(db->exec("CREATE TABLE t(a TEXT, b INTEGER, c REAL, d TEXT)", "schema"));
  auto ins = db->prepare("INSERT INTO t VALUES (?, ?, ?, ?)");
  ASSERT_TRUE(ins) << ins.error().message;
  ASSERT_TRUE(ins->bind("x\0y").bind(std::int64_t{1} << 40).bind(2.5).bind_null().run("insert"));
  ins->reset();
  ASSERT_TRUE(ins->bind(std::string("second")).bind(7).bind(0.0).bind("d").run("insert"));
  EXPECT_EQ(db->last_insert_rowid(), 2);
  auto sel = db->prepare("SELECT a, b, c, d FROM t ORDER BY rowid");
  ASSERT_TRUE(sel);
  auto row = sel->step("select");
  ASSERT_TRUE(row && *row);
  EXPECT_EQ(sel->text(0), "x");
  EXPECT_EQ(sel->integer(1), std::int64_t{1} << 40);
  EXPECT_DOUBLE_EQ(sel->real(2), 2.5);
  EXPECT_TRUE(sel->is_null(3));
  row = sel->step("select");
  ASSERT_TRUE(row && *row);
  EXPECT_EQ(sel->text(0), "second");
  row = sel->step("select");
  ASSERT_TRUE(row);
  EXPECT_FALSE(*row);
}

TEST(Sqlite, ErrorsNameTheComponentAndWhatFailed) {
  auto db = Database::open(":memory:", {.component = "state store"});
  ASSERT_TRUE(db);
  auto bad = db->prepare("SELECT nope FROM nowhere");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("state store: preparing a statement failed"),
            std::string::npos)
      << bad.error().message;
  ASSERT_TRUE(db->exec("CREATE TABLE u(k TEXT PRIMARY KEY)", "schema"));
  ASSERT_TRUE(db->exec("INSERT INTO u VALUES ('a')", "first"));
  Status dup = db->exec("INSERT INTO u VALUES ('a')", "second insert");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict) << dup.error().message;
}

TEST(Sqlite, TransactionRollsBackUnlessCommitted) {
  test::TempDir dir("sqlite-test");
  const std::string path = (dir.path() / "t.db").string();
  auto db = Database::open(path, {});
  ASSERT_TRUE(db) << db.error().message;
  ASSERT_TRUE(db->exec("CREATE TABLE t(v INTEGER)", "schema"));
  {
    auto txn = Transaction::begin(*db);
    ASSERT_TRUE(txn);
    ASSERT_TRUE(db->exec("INSERT INTO t VALUES (1)", "insert"));
  }  // rolled back
  {
    auto txn = Transaction::begin(*db);
    ASSERT_TRUE(txn);
    ASSERT_TRUE(db->exec("INSERT INTO t VALUES (2)", "insert"));
    ASSERT_TRUE(txn->commit());
  }
  auto sel = db->prepare("SELECT group_concat(v) FROM t");
  ASSERT_TRUE(sel);
  ASSERT_TRUE(sel->step("select"));
  EXPECT_EQ(sel->text(0), "2");
}

TEST(Sqlite, NewDatabaseFileGetsTheRequestedMode) {
  test::TempDir dir("sqlite-test");
  const std::string path = (dir.path() / "private.db").string();
  auto db = Database::open(path, {.create_mode = 0600});
  ASSERT_TRUE(db) << db.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

}  // namespace
}  // namespace sg::sqlite
