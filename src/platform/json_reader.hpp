// Typed reads of a JSON object for the model's codecs: every getter names the field on
// failure, and the first failure is kept (later reads return defaults), so a decoder reads
// all fields and checks once.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "common/result.hpp"

namespace sg::platform {

class JsonReader {
 public:
  JsonReader(const boost::json::value& value, std::string what);

  std::string text(const char* key);
  double number(const char* key);
  std::int64_t integer(const char* key);
  bool boolean(const char* key);
  std::optional<std::string> optional_text(const char* key);
  std::optional<double> optional_number(const char* key);
  std::optional<std::int64_t> optional_integer(const char* key);
  // The value at `key` (null when absent; an error when `required`).
  const boost::json::value* field(const char* key, bool required = true);
  void fail(const std::string& key, const std::string& problem);

  const std::optional<Error>& error() const { return error_; }

 private:
  const boost::json::object* object_ = nullptr;
  std::string what_;
  std::optional<Error> error_;
};

}  // namespace sg::platform
