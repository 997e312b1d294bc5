// Durability of Storage writes (storage.hpp): what is acknowledged is on disk, what may have
// committed is reported as such, and the media names the sweep must keep are listed.
//
// SQLite: a VFS that forwards to the default one and counts xSync calls on the WAL file shows
// whether a commit reached the disk before the call returned (synchronous=NORMAL never syncs
// the WAL at commit; FULL does). PostgreSQL: a real server whose COMMIT is made slow by a
// deferred trigger, and whose backend is terminated during it, shows what set_media reports
// when the commit's answer is lost.
#include <sqlite3.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "server/storage/storage.hpp"
#include "support/pg_faults.hpp"
#include "support/services.hpp"

// libpqxx 6.4 leaks one PGresult when a statement hits a connection the server has closed
// (as storage_test.cpp explains); the lost COMMIT below is such a statement.
extern "C" const char* __lsan_default_suppressions() { return "leak:libpqxx-6.4.so\n"; }

namespace sg::server {
namespace {

using namespace std::chrono_literals;

// --- a counting SQLite VFS ----------------------------------------------------------------

std::atomic<int> g_wal_syncs{0};
sqlite3_vfs* g_base = nullptr;

struct CountingFile {
  sqlite3_file base;   // must come first: SQLite sees this
  sqlite3_file* real;  // the default VFS's file, allocated right behind this struct
  bool wal;
};

sqlite3_file* real(sqlite3_file* f) { return reinterpret_cast<CountingFile*>(f)->real; }

int c_close(sqlite3_file* f) { return real(f)->pMethods->xClose(real(f)); }
int c_read(sqlite3_file* f, void* b, int n, sqlite3_int64 o) {
  return real(f)->pMethods->xRead(real(f), b, n, o);
}
int c_write(sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
  return real(f)->pMethods->xWrite(real(f), b, n, o);
}
int c_truncate(sqlite3_file* f, sqlite3_int64 n) {
  return real(f)->pMethods->xTruncate(real(f), n);
}
int c_sync(sqlite3_file* f, int flags) {
  if (reinterpret_cast<CountingFile*>(f)->wal) ++g_wal_syncs;
  return real(f)->pMethods->xSync(real(f), flags);
}
int c_size(sqlite3_file* f, sqlite3_int64* n) { return real(f)->pMethods->xFileSize(real(f), n); }
int c_lock(sqlite3_file* f, int l) { return real(f)->pMethods->xLock(real(f), l); }
int c_unlock(sqlite3_file* f, int l) { return real(f)->pMethods->xUnlock(real(f), l); }
int c_reserved(sqlite3_file* f, int* r) {
  return real(f)->pMethods->xCheckReservedLock(real(f), r);
}
int c_control(sqlite3_file* f, int op, void* arg) {
  return real(f)->pMethods->xFileControl(real(f), op, arg);
}
int c_sector(sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); }
int c_device(sqlite3_file* f) { return real(f)->pMethods->xDeviceCharacteristics(real(f)); }
int c_shm_map(sqlite3_file* f, int i, int n, int w, void volatile** p) {
  return real(f)->pMethods->xShmMap(real(f), i, n, w, p);
}
int c_shm_lock(sqlite3_file* f, int o, int n, int fl) {
  return real(f)->pMethods->xShmLock(real(f), o, n, fl);
}
void c_shm_barrier(sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); }
int c_shm_unmap(sqlite3_file* f, int d) { return real(f)->pMethods->xShmUnmap(real(f), d); }
int c_fetch(sqlite3_file* f, sqlite3_int64 o, int n, void** p) {
  return real(f)->pMethods->xFetch(real(f), o, n, p);
}
int c_unfetch(sqlite3_file* f, sqlite3_int64 o, void* p) {
  return real(f)->pMethods->xUnfetch(real(f), o, p);
}

const sqlite3_io_methods kCountingMethods = {
    3,          c_close,       c_read,      c_write,   c_truncate, c_sync,   c_size,
    c_lock,     c_unlock,      c_reserved,  c_control, c_sector,   c_device, c_shm_map,
    c_shm_lock, c_shm_barrier, c_shm_unmap, c_fetch,   c_unfetch};

int c_open(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  auto* cf = reinterpret_cast<CountingFile*>(f);
  cf->real = reinterpret_cast<sqlite3_file*>(cf + 1);
  cf->wal = (flags & SQLITE_OPEN_WAL) != 0;
  cf->base.pMethods = nullptr;
  (void)vfs;
  const int rc = g_base->xOpen(g_base, name, cf->real, flags, out_flags);
  if (rc == SQLITE_OK && cf->real->pMethods != nullptr) cf->base.pMethods = &kCountingMethods;
  return rc;
}

sqlite3_vfs g_counting{};

// Installs the counting VFS as the default while alive.
class CountingVfs {
 public:
  CountingVfs() {
    g_base = sqlite3_vfs_find(nullptr);
    g_counting = *g_base;
    g_counting.zName = "sg-counting";
    g_counting.szOsFile = static_cast<int>(sizeof(CountingFile)) + g_base->szOsFile;
    g_counting.xOpen = c_open;
    g_counting.pNext = nullptr;
    sqlite3_vfs_register(&g_counting, 1);
  }
  ~CountingVfs() {
    sqlite3_vfs_register(g_base, 1);
    sqlite3_vfs_unregister(&g_counting);
  }
};

Content item(const std::string& id) {
  Content c;
  c.id = id;
  c.fields.title = id;
  c.created_at = c.updated_at = "2026-01-01T00:00:00.000Z";
  return c;
}

MediaInfo media(const std::string& file) {
  MediaInfo m;
  m.size = 10;
  m.sha256 = std::string(64, 'a');
  m.content_type = "video/mp4";
  m.file = file;
  return m;
}

TEST(SqliteDurability, EveryAcknowledgedWriteSyncedTheWalBeforeReturning) {
  CountingVfs vfs;
  test::TempDir dir;
  auto storage = open_storage("sqlite:" + (dir.path() / "db.sqlite").string(), StorageOptions{});
  ASSERT_TRUE(storage) << storage.error().message;
  auto& s = **storage;
  auto synced_by = [](auto&& write) {
    const int before = g_wal_syncs.load();
    const bool ok = static_cast<bool>(write());
    return ok ? g_wal_syncs.load() - before : -1;
  };
  EXPECT_GE(synced_by([&] { return s.create(item("a")); }), 1) << "create";
  EXPECT_GE(synced_by([&] { return s.set_media("a", media("a.1.media"), "t"); }), 1)
      << "set_media: the replaced file is deleted right after it returns";
  EXPECT_GE(synced_by([&] { return s.update("a", 2, item("a").fields, "t"); }), 1) << "update";
  EXPECT_GE(synced_by([&] { return s.remove("a", std::nullopt); }), 1) << "remove";
}

// --- the media names, on both backends ---------------------------------------------------------

void expect_media_files_listed(Storage& s) {
  ASSERT_TRUE(s.create(item("m1")));
  ASSERT_TRUE(s.create(item("m2")));
  ASSERT_TRUE(s.create(item("bare")));
  ASSERT_TRUE(s.set_media("m1", media("m1.x.media"), "t"));
  ASSERT_TRUE(s.set_media("m2", media("m2.x.media"), "t"));
  MediaInfo with_hls = media("m2.y.media");
  with_hls.hls_file = "m2.y.media.hls.mp4";  // its rendition is listed too (the sweep keeps it)
  ASSERT_TRUE(s.set_media("m2", with_hls, "t"));
  auto files = s.media_files();
  ASSERT_TRUE(files) << files.error().message;
  std::sort(files->begin(), files->end());
  EXPECT_EQ(*files,
            (std::vector<std::string>{"m1.x.media", "m2.y.media", "m2.y.media.hls.mp4"}));
}

TEST(MediaFiles, SqliteListsWhatItemsRecord) {
  test::TempDir dir;
  auto storage = open_storage("sqlite:" + (dir.path() / "db.sqlite").string(), StorageOptions{});
  ASSERT_TRUE(storage) << storage.error().message;
  expect_media_files_listed(**storage);
}

class PostgresDurability : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pg_ = new test::PostgresInstance();
    start_ = pg_->start();
  }
  static void TearDownTestSuite() {
    delete pg_;
    pg_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(start_) << start_.error().message; }
  static inline test::PostgresInstance* pg_ = nullptr;
  static inline Status start_;
};

TEST_F(PostgresDurability, ListsWhatItemsRecord) {
  auto url = pg_->create_unique_database();
  ASSERT_TRUE(url);
  auto storage = open_storage(*url, StorageOptions{});
  ASSERT_TRUE(storage) << storage.error().message;
  expect_media_files_listed(**storage);
}

TEST_F(PostgresDurability, ACommitWhoseAnswerIsLostIsReportedAsOutcomeUnknown) {
  auto url = pg_->create_unique_database();
  ASSERT_TRUE(url);
  StorageOptions opts;
  opts.busy_timeout = 20s;
  auto storage = open_storage(*url, opts);
  ASSERT_TRUE(storage) << storage.error().message;
  ASSERT_TRUE((*storage)->create(item("v")));
  ASSERT_TRUE((*storage)->set_media("v", media("v.old.media"), "t"));
  test::slow_content_commits(*url);  // COMMIT of any change to content now takes 5 s
  auto changing = std::async(
      std::launch::async, [&] { return (*storage)->set_media("v", media("v.new.media"), "t2"); });
  // Wait for the COMMIT to be running, then end that backend: its answer is lost.
  ASSERT_TRUE(test::terminate_running_commit(*url)) << "no COMMIT was seen running";
  auto changed = changing.get();
  ASSERT_FALSE(changed) << "the commit was cut off";
  EXPECT_TRUE(changed.error().outcome_unknown) << changed.error().message;
  EXPECT_EQ(changed.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace sg::server
