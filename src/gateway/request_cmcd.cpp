#include "gateway/request_cmcd.hpp"

#include <boost/beast/core/string.hpp>

namespace sg::gateway {
namespace {

// The slot of CMCD-Request/-Object/-Status/-Session in `s` for a field name, or null.
std::optional<std::string_view>* slot_for(CmcdSources& s, std::string_view name) {
  // Every name is "CMCD-" plus 6 or 7 letters; most fields are rejected on length alone.
  if (name.size() != 11 && name.size() != 12) return nullptr;
  if (!boost::beast::iequals(name.substr(0, 5), "cmcd-")) return nullptr;
  const std::string_view rest = name.substr(5);
  if (boost::beast::iequals(rest, "request")) return &s.request;
  if (boost::beast::iequals(rest, "object")) return &s.object;
  if (boost::beast::iequals(rest, "status")) return &s.status;
  if (boost::beast::iequals(rest, "session")) return &s.session;
  return nullptr;
}

}  // namespace

CmcdSources request_cmcd_sources(const http::RequestHeader& head) {
  CmcdSources s;
  const CmcdQueryParam param = find_cmcd_query(head.target());
  if (param.count > 0) s.query = param.value;
  s.repeated = param.count > 1;
  for (const auto& f : head) {
    if (f.name() != http::bhttp::field::unknown) continue;
    std::optional<std::string_view>* slot = slot_for(s, f.name_string());
    if (!slot) continue;
    if (*slot) {
      s.repeated = true;
    } else {
      *slot = f.value();
    }
  }
  return s;
}

std::optional<CmcdReport> read_request_cmcd(const http::RequestHeader& head) {
  const CmcdSources s = request_cmcd_sources(head);
  if (!s.any()) return std::nullopt;
  return parse_cmcd(s);
}

}  // namespace sg::gateway
