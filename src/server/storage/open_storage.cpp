// Chooses the Storage implementation from the URL scheme.
#include "server/storage/postgres_storage.hpp"
#include "server/storage/sqlite_storage.hpp"
#include "server/storage/storage.hpp"

namespace sg::server {

Result<std::unique_ptr<Storage>> open_storage(const std::string& url,
                                              const StorageOptions& options) {
  constexpr std::string_view kSqlite = "sqlite:";
  if (url.starts_with(kSqlite)) {
    const std::string path = url.substr(kSqlite.size());
    if (path.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "storage URL 'sqlite:' has no path; expected sqlite:PATH or "
                        "sqlite::memory:");
    }
    return SqliteStorage::open(path, options);
  }
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    return PostgresStorage::open(url, options);
  }
  const auto colon = url.find(':');
  const std::string scheme = colon == std::string::npos ? url : url.substr(0, colon);
  return make_error(ErrorCode::kInvalidArgument,
                    "unsupported storage URL scheme '" + scheme +
                        "'; expected sqlite:PATH or postgresql://USER@HOST:PORT/DB");
}

}  // namespace sg::server
