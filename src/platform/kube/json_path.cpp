#include "platform/kube/json_path.hpp"

#include <boost/json.hpp>

namespace sg::platform {
namespace json = boost::json;

namespace {

std::int64_t integer(const json::value* x) {
  if (x == nullptr) return 0;
  if (x->is_int64()) return x->as_int64();
  if (x->is_uint64()) return static_cast<std::int64_t>(x->as_uint64());
  return 0;
}

std::string text(const json::value* x) {
  return x != nullptr && x->is_string() ? std::string(x->as_string()) : std::string();
}

}  // namespace

const json::value* json_at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (std::string_view key : path) {
    const auto* obj = cur->if_object();
    if (obj == nullptr) return nullptr;
    cur = obj->if_contains(key);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

std::string text_at(const json::value& v, std::initializer_list<std::string_view> path) {
  return text(json_at(v, path));
}

std::int64_t int_at(const json::value& v, std::initializer_list<std::string_view> path) {
  return integer(json_at(v, path));
}

const json::array* array_at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* x = json_at(v, path);
  return x != nullptr ? x->if_array() : nullptr;
}

std::string text_of(const json::object& o, std::string_view key) { return text(o.if_contains(key)); }

std::int64_t int_of(const json::object& o, std::string_view key) { return integer(o.if_contains(key)); }

}  // namespace sg::platform
