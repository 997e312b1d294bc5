#include "server/cache/redis_cache.hpp"

#include <hiredis/hiredis.h>

#include <charconv>

#include "common/host_port.hpp"
#include "common/http/url.hpp"
#include "common/log.hpp"

namespace sg::server {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

std::string context_error(const redisContext* c) {
  if (c == nullptr) return "cannot allocate a redis context";
  return c->errstr[0] != '\0' ? std::string(c->errstr) : "connection closed";
}

bool parse_int(std::string_view text, int& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

Result<RedisEndpoint> parse_redis_url(const std::string& url) {
  constexpr std::string_view kScheme = "redis://";
  const auto invalid = [&](const std::string& why) {
    return make_error(ErrorCode::kInvalidArgument, "cache URL '" + http::redact_url(url) + "' " +
                                                       why + "; expected redis://HOST:PORT[/DB]");
  };
  if (!url.starts_with(kScheme)) return invalid("is not a redis:// URL");
  std::string_view rest(url);
  rest.remove_prefix(kScheme.size());
  RedisEndpoint ep;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    const auto db = rest.substr(slash + 1);
    if (!db.empty() && (!parse_int(db, ep.db) || ep.db < 0)) return invalid("has a bad DB number");
    rest = rest.substr(0, slash);
  }
  if (rest.empty()) return invalid("has no host");
  if (rest.find(':') == std::string_view::npos) {
    ep.host = std::string(rest);
    return ep;
  }
  auto hp = parse_host_port(rest);
  if (!hp) return invalid("has a bad HOST:PORT (" + hp.error().message + ")");
  ep.host = hp->host;
  ep.port = hp->port;
  return ep;
}

void RedisCache::ContextFree::operator()(redisContext* c) const { redisFree(c); }
void RedisCache::ReplyFree::operator()(redisReply* r) const { freeReplyObject(r); }

RedisCache::RedisCache(RedisEndpoint endpoint, const CacheOptions& options)
    : endpoint_(std::move(endpoint)),
      options_(options),
      pool_({.name = "redis " + endpoint_.host + ":" + std::to_string(endpoint_.port),
             .capacity = std::max(1, options.pool_size),
             .acquire_timeout = options.command_timeout},
            [this]() -> Result<ContextPtr> {
              auto c = connect();
              if (!c) mark_down(c.error().message);
              return c;
            }) {}

RedisCache::~RedisCache() = default;

std::string RedisCache::describe() const {
  return "redis " + endpoint_.host + ":" + std::to_string(endpoint_.port);
}

Result<RedisCache::ContextPtr> RedisCache::connect() {
  const timeval connect_tv = to_timeval(options_.connect_timeout);
  ContextPtr c(redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, connect_tv));
  if (!c || c->err != 0) {
    return make_error(ErrorCode::kUnavailable,
                      "cannot connect to " + describe() + ": " + context_error(c.get()));
  }
  if (redisSetTimeout(c.get(), to_timeval(options_.command_timeout)) != REDIS_OK) {
    return make_error(ErrorCode::kUnavailable, "cannot set the command timeout on " + describe());
  }
  if (endpoint_.db != 0) {
    ReplyPtr r(static_cast<redisReply*>(redisCommand(c.get(), "SELECT %d", endpoint_.db)));
    if (!r || r->type == REDIS_REPLY_ERROR) {
      return make_error(ErrorCode::kUnavailable,
                        "cannot select DB " + std::to_string(endpoint_.db) + " on " + describe());
    }
  }
  return c;
}

Result<RedisCache::Pool::Lease> RedisCache::acquire() {
  {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (now < down_until_) {
      const auto wait =
          std::chrono::duration_cast<std::chrono::milliseconds>(down_until_ - now).count();
      return make_error(ErrorCode::kUnavailable, describe() + " is down (" + last_failure_ +
                                                     "); next connection attempt in " +
                                                     std::to_string(wait) + " ms");
    }
  }
  return pool_.acquire();
}

void RedisCache::mark_down(const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    down_until_ = std::chrono::steady_clock::now() + options_.reconnect_backoff;
    last_failure_ = reason;
  }
  pool_.drop_idle();  // they point at the server that failed
  log::warn("cache unavailable",
            {{"backend", "redis"},
             {"error", reason},
             {"retry_in_ms", std::int64_t{options_.reconnect_backoff.count()}}});
}

Result<RedisCache::ReplyPtr> RedisCache::command(std::string_view what,
                                                 const std::vector<std::string_view>& args) {
  auto context = acquire();
  if (!context) {
    failures_.fetch_add(1);
    return context.error();
  }
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (std::string_view a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  ReplyPtr reply(static_cast<redisReply*>(redisCommandArgv(
      context->get(), static_cast<int>(argv.size()), argv.data(), lengths.data())));
  if (!reply) {
    failures_.fetch_add(1);
    const std::string reason =
        std::string(what) + " on " + describe() + " failed: " + context_error(context->get());
    context->mark_broken();
    mark_down(reason);
    return make_error(ErrorCode::kUnavailable, reason);
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    failures_.fetch_add(1);
    return make_error(ErrorCode::kInternal,
                      std::string(what) + " on " + describe() +
                          " returned an error: " + std::string(reply->str, reply->len));
  }
  return reply;
}

CacheLookup RedisCache::get(std::string_view key) {
  const std::string full = options_.key_prefix + std::string(key);
  auto reply = command("GET", {"GET", full});
  if (!reply) return {CacheLookup::Outcome::kError, {}};
  if ((*reply)->type == REDIS_REPLY_STRING) {
    return {CacheLookup::Outcome::kHit, std::string((*reply)->str, (*reply)->len)};
  }
  return {CacheLookup::Outcome::kMiss, {}};
}

void RedisCache::set(std::string_view key, std::string_view value, std::chrono::seconds ttl) {
  const std::string full = options_.key_prefix + std::string(key);
  if (ttl <= std::chrono::seconds::zero()) {
    (void)command("DEL", {"DEL", full});
    return;
  }
  const std::string seconds = std::to_string(ttl.count());
  (void)command("SET", {"SET", full, value, "EX", seconds});
}

Status RedisCache::erase(std::string_view key) {
  const std::string full = options_.key_prefix + std::string(key);
  return command("DEL", {"DEL", full}).status();
}

Result<std::vector<std::int64_t>> RedisCache::eval_integers(std::string_view script,
                                                            const std::vector<std::string>& keys,
                                                            const std::vector<std::string>& args) {
  std::vector<std::string> prefixed;
  for (const auto& k : keys) prefixed.push_back(options_.key_prefix + k);
  const std::string nkeys = std::to_string(keys.size());
  std::vector<std::string_view> argv{"EVAL", script, nkeys};
  for (const auto& k : prefixed) argv.push_back(k);
  for (const auto& a : args) argv.push_back(a);
  auto reply = command("EVAL", argv);
  if (!reply) return reply.error();
  std::vector<std::int64_t> out;
  const redisReply* r = reply->get();
  if (r->type == REDIS_REPLY_INTEGER) {
    out.push_back(r->integer);
    return out;
  }
  if (r->type != REDIS_REPLY_ARRAY) {
    return make_error(ErrorCode::kInternal, "EVAL on " + describe() + " returned no integers");
  }
  for (std::size_t i = 0; i < r->elements; ++i) {
    if (r->element[i]->type != REDIS_REPLY_INTEGER) {
      return make_error(ErrorCode::kInternal, "EVAL on " + describe() + " returned a non-integer");
    }
    out.push_back(r->element[i]->integer);
  }
  return out;
}

Status RedisCache::ping() {
  auto reply = command("PING", {"PING"});
  if (!reply) return reply.error();
  if ((*reply)->type != REDIS_REPLY_STATUS || std::string_view((*reply)->str) != "PONG") {
    return make_error(ErrorCode::kUnavailable, "PING to " + describe() + " got no PONG");
  }
  return Status::ok();
}

}  // namespace sg::server
