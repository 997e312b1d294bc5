#include "common/http/allow.hpp"

namespace sg::http {

bool method_in(boost::beast::http::verb method, std::string_view allow) {
  const std::string_view name = boost::beast::http::to_string(method);
  while (!allow.empty()) {
    const auto comma = allow.find(',');
    std::string_view m = allow.substr(0, comma);
    allow = comma == std::string_view::npos ? std::string_view{} : allow.substr(comma + 1);
    while (!m.empty() && m.front() == ' ') m.remove_prefix(1);
    if (m == name) return true;
  }
  return false;
}

}  // namespace sg::http
