// MediaStore::sweep: what crashed or failed uploads leave behind goes at start-up; what is
// referenced, recent or not ours stays.
#include <fcntl.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "server/media_store.hpp"
#include "support/services.hpp"

namespace sg::server {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class MediaSweepTest : public ::testing::Test {
 protected:
  void write(const std::string& name, std::chrono::seconds age = 0s) {
    std::ofstream(dir_ / name) << "bytes";
    if (age.count() > 0) {
      timespec times[2];
      times[0].tv_sec = times[1].tv_sec = ::time(nullptr) - age.count();
      times[0].tv_nsec = times[1].tv_nsec = 0;
      ASSERT_EQ(::utimensat(AT_FDCWD, (dir_ / name).c_str(), times, 0), 0);
    }
  }
  bool exists(const std::string& name) const { return fs::exists(dir_ / name); }

  test::TempDir tmp_{"sg-sweep-test"};
  const fs::path& dir_ = tmp_.path();
};

TEST_F(MediaSweepTest, AbandonedUploadsGoOnceOlderThanTheAgeFreshOnesStay) {
  write(".upload-a-1111.tmp", 2h);
  write(".upload-b-2222.tmp");
  MediaStore store(dir_);
  auto swept = store.sweep({}, 1h);
  ASSERT_TRUE(swept) << swept.error().message;
  EXPECT_EQ(swept->temp_files, 1u);
  EXPECT_FALSE(exists(".upload-a-1111.tmp"));
  EXPECT_TRUE(exists(".upload-b-2222.tmp")) << "an upload in progress elsewhere was taken";
}

TEST_F(MediaSweepTest, UnreferencedMediaGoesReferencedAndForeignFilesStay) {
  write("item1.aaaa.0001.media");
  write("item2.bbbb.0002.media");
  write("notes.txt");
  MediaStore store(dir_);
  auto recent = store.sweep({"item1.aaaa.0001.media"}, 1h);
  ASSERT_TRUE(recent);
  EXPECT_EQ(recent->orphan_files, 0u) << "a file renamed just now may be recorded any moment";
  auto swept = store.sweep({"item1.aaaa.0001.media"}, 0s);
  ASSERT_TRUE(swept);
  EXPECT_EQ(swept->orphan_files, 1u);
  EXPECT_EQ(swept->bytes, 5u);
  EXPECT_TRUE(exists("item1.aaaa.0001.media"));
  EXPECT_FALSE(exists("item2.bbbb.0002.media"));
  EXPECT_TRUE(exists("notes.txt"));
}

TEST_F(MediaSweepTest, HlsRenditionsFollowTheirRecordsAndAbandonedRemuxesGo) {
  write("item1.aaaa.0001.media");
  write("item1.aaaa.0001.media.hls.mp4");  // recorded rendition: stays
  write("item2.bbbb.0002.media.hls.mp4");  // rendition of replaced media: orphan
  write(".derive-3333.tmp", 2h);           // a remux a crash interrupted
  MediaStore store(dir_);
  auto swept = store.sweep({"item1.aaaa.0001.media", "item1.aaaa.0001.media.hls.mp4"}, 0s);
  ASSERT_TRUE(swept) << swept.error().message;
  EXPECT_EQ(swept->orphan_files, 1u);
  EXPECT_EQ(swept->temp_files, 1u);
  EXPECT_TRUE(exists("item1.aaaa.0001.media.hls.mp4"));
  EXPECT_FALSE(exists("item2.bbbb.0002.media.hls.mp4"));
  EXPECT_FALSE(exists(".derive-3333.tmp"));
}

}  // namespace
}  // namespace sg::server
