// The answer to a GET of a stored file: 200 with the whole file, or 206 with one byte range
// (HTTP Range, RFC 9110 14), 416 for a range outside it, 304 for a matching If-None-Match.
// If-Range with another validator sends the whole file. The body goes out with sendfile.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/http/http_types.hpp"
#include "common/unique_fd.hpp"

namespace sg::server {

http::Response ranged_file_response(const http::Request& req, UniqueFd fd, std::uint64_t size,
                                    std::string_view etag, std::string_view content_type);

}  // namespace sg::server
