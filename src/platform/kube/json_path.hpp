// Lenient reads of Kubernetes objects as kubectl prints them (-o json): a missing field, or
// one of another type, reads as empty (nullptr, "", 0), since the API server omits empty
// fields. Shared by the Kubernetes backend, its cluster state and its Lease.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace sg::platform {

// The value at `path` (object keys from `v`), or nullptr.
const boost::json::value* json_at(const boost::json::value& v, std::initializer_list<std::string_view> path);
std::string text_at(const boost::json::value& v, std::initializer_list<std::string_view> path);
std::int64_t int_at(const boost::json::value& v, std::initializer_list<std::string_view> path);
const boost::json::array* array_at(const boost::json::value& v, std::initializer_list<std::string_view> path);
// One key of an object.
std::string text_of(const boost::json::object& o, std::string_view key);
std::int64_t int_of(const boost::json::object& o, std::string_view key);

}  // namespace sg::platform
