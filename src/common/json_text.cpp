#include "common/json_text.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>

#include "common/log.hpp"

namespace sg {
namespace {

template <class T>
void append_number(std::string& out, T v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, ec == std::errc() ? end : buf);
}

}  // namespace

void append_json_text(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: out += "null"; return;
    case boost::json::kind::bool_: out += v.get_bool() ? "true" : "false"; return;
    case boost::json::kind::int64: append_number(out, v.get_int64()); return;
    case boost::json::kind::uint64: append_number(out, v.get_uint64()); return;
    case boost::json::kind::double_: {
      const double d = v.get_double();
      if (!std::isfinite(d)) {
        out += "null";  // JSON has no NaN or infinity
        return;
      }
      const std::size_t start = out.size();
      append_number(out, d);
      // Keep a double recognisable as one ("10.0", not "10"), so typed readers round-trip.
      if (out.find_first_of(".e", start) == std::string::npos) out += ".0";
      return;
    }
    case boost::json::kind::string:
      out += '"';
      log::append_json_escaped(out, v.get_string());
      out += '"';
      return;
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& item : v.get_array()) {
        if (!first) out += ',';
        first = false;
        append_json_text(out, item);
      }
      out += ']';
      return;
    }
    case boost::json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += '"';
        log::append_json_escaped(out, kv.key());
        out += "\":";
        append_json_text(out, kv.value());
      }
      out += '}';
      return;
    }
  }
}

std::string json_text(const boost::json::value& value) {
  std::string out;
  append_json_text(out, value);
  return out;
}

}  // namespace sg
