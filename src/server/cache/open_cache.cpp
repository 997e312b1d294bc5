// Chooses the Cache implementation from the URL.
#include "server/cache/cache.hpp"
#include "server/cache/memory_cache.hpp"
#include "server/cache/redis_cache.hpp"

namespace sg::server {

Result<std::unique_ptr<Cache>> open_cache(const std::string& url, const CacheOptions& options) {
  if (url == "memory") return std::unique_ptr<Cache>(new MemoryCache(options.max_entries));
  if (url.starts_with("redis://")) {
    auto endpoint = parse_redis_url(url);
    if (!endpoint) return endpoint.error();
    if (options.pool_size < 1) {
      return make_error(ErrorCode::kInvalidArgument, "redis pool size must be at least 1, got " +
                                                         std::to_string(options.pool_size));
    }
    return std::unique_ptr<Cache>(new RedisCache(std::move(*endpoint), options));
  }
  return make_error(
      ErrorCode::kInvalidArgument,
      "unsupported cache URL '" + url + "'; expected memory or redis://HOST:PORT[/DB]");
}

}  // namespace sg::server
