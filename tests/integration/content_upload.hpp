// Uploading a media file through the content API, as several integration tests do: create a
// content item, then PUT its media (the server probes it and remuxes it to HLS).
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "integration/http_client.hpp"
#include "support/media_clips.hpp"

namespace sg::test {

// Creates a content item on 127.0.0.1:port with bearer `token` and uploads the file `media`
// (video/mp4) as its media; the content id, or an error naming the step and the answer.
inline Result<std::string> upload_content(std::uint16_t port, const std::string& token,
                                          const std::filesystem::path& media) {
  using boost::beast::http::verb;
  auto answer = [](const HttpReply& r) {
    return std::to_string(r.status) + " " + r.body.substr(0, 300) + r.error;
  };
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Authorization", "Bearer " + token}};
  const HttpReply created =
      http_call(port, {verb::post, "/api/v1/content", R"({"title":"clip"})", headers});
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(created.body, ec);
  const boost::json::value* id =
      created.status == 201 && !ec && v.is_object() ? v.as_object().if_contains("id") : nullptr;
  if (id == nullptr || !id->is_string()) {
    return make_error(ErrorCode::kInternal, "POST /api/v1/content: " + answer(created));
  }
  const std::string content(id->as_string());
  headers.emplace_back("Content-Type", "video/mp4");
  const HttpReply put = http_call(
      port, {verb::put, "/api/v1/content/" + content + "/media", read_file(media), headers});
  if (put.status != 200) {
    return make_error(ErrorCode::kInternal,
                      "PUT /api/v1/content/" + content + "/media: " + answer(put));
  }
  return content;
}

// The API token `sgctl up` wrote to STATE/api-token ("" when it is missing).
inline std::string read_api_token(const std::filesystem::path& state_dir) {
  std::string token;
  std::ifstream(state_dir / "api-token") >> token;
  return token;
}

}  // namespace sg::test
