#include "common/log_rotation.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/unique_fd.hpp"
#include "support/services.hpp"

namespace sg {
namespace {

namespace fs = std::filesystem;

std::string read_all(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(LogRotation, AFileUnderTheCapIsLeftAlone) {
  test::TempDir dir("sg-logrot");
  const fs::path log = dir.path() / "r.log";
  std::ofstream(log) << "short\n";
  auto r = rotate_log_if_large(log, {.max_bytes = 100, .keep = 2});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(*r);
  EXPECT_EQ(read_all(log), "short\n");
  EXPECT_FALSE(fs::exists(dir.path() / "r.log.1"));
  auto missing = rotate_log_if_large(dir.path() / "none.log", {});
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
}

TEST(LogRotation, AnAppendingWriterKeepsWritingToTheCappedFileAndOldTextShifts) {
  test::TempDir dir("sg-logrot");
  const fs::path log = dir.path() / "r.log";
  // The writer: a descriptor opened O_APPEND, as a child's stdout is.
  UniqueFd writer(::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  ASSERT_TRUE(writer.valid());
  const LogRotation rule{.max_bytes = 10, .keep = 2};
  for (const std::string text : {"first-line-1\n", "second-line\n", "third-line-\n"}) {
    ASSERT_EQ(::write(writer.get(), text.data(), text.size()), static_cast<ssize_t>(text.size()));
    auto r = rotate_log_if_large(log, rule);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(*r) << text;
  }
  const std::string after = "after\n";
  ASSERT_EQ(::write(writer.get(), after.data(), after.size()), 6);
  EXPECT_EQ(read_all(log), "after\n") << "the writer continues at the start of the emptied file";
  EXPECT_EQ(read_all(dir.path() / "r.log.1"), "third-line-\n");
  EXPECT_EQ(read_all(dir.path() / "r.log.2"), "second-line\n");
  EXPECT_FALSE(fs::exists(dir.path() / "r.log.3")) << "only `keep` rotated files are kept";
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "r.log.1").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << std::oct << (st.st_mode & 0777);
}

TEST(LogRotation, ASymlinkIsNotFollowed) {
  test::TempDir dir("sg-logrot");
  const fs::path target = dir.path() / "elsewhere";
  std::ofstream(target) << std::string(100, 'x');
  fs::create_symlink(target, dir.path() / "r.log");
  auto r = rotate_log_if_large(dir.path() / "r.log", {.max_bytes = 10, .keep = 1});
  EXPECT_FALSE(r);
  EXPECT_EQ(fs::file_size(target), 100u) << "the link's target was truncated";
}

}  // namespace
}  // namespace sg
