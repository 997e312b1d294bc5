// Structured logs: one JSON object per line on stdout
// ({"ts":"2026-11-24T19:00:00.123Z","level":"info","msg":"...", ...fields}).
// Errors are logged at level "error" so `grep -i error` over the logs finds them.
//
// Thread-safety: every function may be called from any thread; each line is written with a
// single write so lines from different threads never interleave.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace sg::log {

enum class Level { kDebug, kInfo, kWarn, kError };

struct Field {
  using Value = std::variant<std::string_view, std::int64_t, double, bool>;
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, std::int64_t v) : key(k), value(v) {}
  Field(std::string_view k, int v) : key(k), value(std::int64_t{v}) {}
  Field(std::string_view k, unsigned v) : key(k), value(std::int64_t{v}) {}
  Field(std::string_view k, std::uint64_t v) : key(k), value(static_cast<std::int64_t>(v)) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  std::string_view key;
  Value value;
};

// Lines below `level` are dropped. Default: kInfo.
void set_level(Level level);
Level level();
// Parses "debug" | "info" | "warn" | "error".
bool parse_level(std::string_view text, Level& out);

void write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

inline void debug(std::string_view msg, std::initializer_list<Field> f = {}) {
  write(Level::kDebug, msg, f);
}
inline void info(std::string_view msg, std::initializer_list<Field> f = {}) {
  write(Level::kInfo, msg, f);
}
inline void warn(std::string_view msg, std::initializer_list<Field> f = {}) {
  write(Level::kWarn, msg, f);
}
inline void error(std::string_view msg, std::initializer_list<Field> f = {}) {
  write(Level::kError, msg, f);
}

// Appends `s` to `out` as the inside of a JSON string (quotes, backslashes, control
// characters and invalid UTF-8 bytes escaped so the line stays valid JSON).
void append_json_escaped(std::string& out, std::string_view s);

// RFC 3339 UTC timestamp with milliseconds for "now".
std::string now_rfc3339();

}  // namespace sg::log
