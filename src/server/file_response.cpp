#include "server/file_response.hpp"

#include <string>

#include "server/range.hpp"

namespace sg::server {
namespace bhttp = http::bhttp;

http::Response ranged_file_response(const http::Request& req, UniqueFd fd, std::uint64_t size,
                                    std::string_view etag, std::string_view content_type) {
  http::Response r;
  r.msg.set(bhttp::field::accept_ranges, "bytes");
  r.msg.set(bhttp::field::etag, etag);
  r.msg.set(bhttp::field::content_type, content_type);
  if (auto inm = req.find(bhttp::field::if_none_match); inm != req.end() && inm->value() == etag) {
    r.msg.result(bhttp::status::not_modified);
    return r;
  }
  RangeDecision d;
  if (auto range = req.find(bhttp::field::range); range != req.end()) {
    auto if_range = req.find(bhttp::field::if_range);
    // If-Range with another validator means the client's partial copy is stale: send all.
    if (if_range == req.end() || if_range->value() == etag) d = decide_range(range->value(), size);
  }
  switch (d.kind) {
    case RangeDecision::Kind::kUnsatisfiable: {
      http::Response e = http::json_error(
          bhttp::status::range_not_satisfiable, "range_not_satisfiable",
          "requested range is outside the media of " + std::to_string(size) + " bytes");
      e.msg.set(bhttp::field::content_range, "bytes */" + std::to_string(size));
      return e;
    }
    case RangeDecision::Kind::kPartial:
      r.msg.result(bhttp::status::partial_content);
      r.msg.set(bhttp::field::content_range, "bytes " + std::to_string(d.range.first) + "-" +
                                                 std::to_string(d.range.last) + "/" +
                                                 std::to_string(size));
      r.file = http::FileSlice{std::move(fd), d.range.first, d.range.length()};
      return r;
    case RangeDecision::Kind::kFull:
      r.file = http::FileSlice{std::move(fd), 0, size};
      return r;
  }
  return r;
}

}  // namespace sg::server
