#include "platform/json_reader.hpp"

#include <cmath>

#include "common/json_text.hpp"

namespace sg::platform {
namespace json = boost::json;

JsonReader::JsonReader(const json::value& value, std::string what) : what_(std::move(what)) {
  object_ = value.if_object();
  if (object_ == nullptr) {
    error_ = make_error(ErrorCode::kInvalidArgument, what_ + ": expected a JSON object");
  }
}

void JsonReader::fail(const std::string& key, const std::string& problem) {
  if (!error_) {
    error_ = make_error(ErrorCode::kInvalidArgument, what_ + ": '" + key + "' " + problem);
  }
}

const json::value* JsonReader::field(const char* key, bool required) {
  if (object_ == nullptr) return nullptr;
  const json::value* v = object_->if_contains(key);
  if (v == nullptr && required) fail(key, "is missing");
  return v;
}

std::string JsonReader::text(const char* key) {
  const json::value* v = field(key);
  if (v == nullptr) return {};
  if (!v->is_string()) {
    fail(key, "must be a string, got " + json_text(*v));
    return {};
  }
  return std::string(v->as_string());
}

double JsonReader::number(const char* key) {
  const json::value* v = field(key);
  if (v == nullptr) return 0;
  if (!v->is_number()) {
    fail(key, "must be a number, got " + json_text(*v));
    return 0;
  }
  return v->to_number<double>();
}

std::int64_t JsonReader::integer(const char* key) {
  const json::value* v = field(key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v->as_uint64());
  }
  if (v->is_double() && std::trunc(v->as_double()) == v->as_double() &&
      std::abs(v->as_double()) < 9e15) {
    return static_cast<std::int64_t>(v->as_double());
  }
  fail(key, "must be an integer, got " + json_text(*v));
  return 0;
}

bool JsonReader::boolean(const char* key) {
  const json::value* v = field(key);
  if (v == nullptr) return false;
  if (!v->is_bool()) {
    fail(key, "must be true or false, got " + json_text(*v));
    return false;
  }
  return v->as_bool();
}

std::optional<std::string> JsonReader::optional_text(const char* key) {
  const json::value* v = field(key, false);
  if (v == nullptr || v->is_null()) return std::nullopt;
  return text(key);
}

std::optional<double> JsonReader::optional_number(const char* key) {
  const json::value* v = field(key, false);
  if (v == nullptr || v->is_null()) return std::nullopt;
  return number(key);
}

std::optional<std::int64_t> JsonReader::optional_integer(const char* key) {
  const json::value* v = field(key, false);
  if (v == nullptr || v->is_null()) return std::nullopt;
  return integer(key);
}

}  // namespace sg::platform
