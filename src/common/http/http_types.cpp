#include "common/http/http_types.hpp"

#include "common/json_text.hpp"
#include "common/log.hpp"
#include "common/random_hex.hpp"

namespace sg::http {

std::variant<std::unique_ptr<BodySink>, Response> Handler::open_sink(const RequestHeader&,
                                                                     const RequestContext&) {
  return json_error(bhttp::status::internal_server_error, "internal",
                    "this route does not accept a streamed body");
}

Response json_response(const boost::json::value& value, bhttp::status status) {
  Response r;
  r.msg.result(status);
  r.msg.set(bhttp::field::content_type, "application/json");
  r.msg.body() = json_text(value) + "\n";
  return r;
}

Response json_error(bhttp::status status, std::string_view code, std::string_view message) {
  Response r;
  r.msg.result(status);
  r.msg.set(bhttp::field::content_type, "application/json");
  std::string body = "{\"error\":{\"code\":\"";
  log::append_json_escaped(body, code);
  body += "\",\"message\":\"";
  log::append_json_escaped(body, message);
  body += "\"}}\n";
  r.msg.body() = std::move(body);
  return r;
}

bhttp::status status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return bhttp::status::bad_request;
    case ErrorCode::kUnauthenticated:
      return bhttp::status::unauthorized;
    case ErrorCode::kPermissionDenied:
      return bhttp::status::forbidden;
    case ErrorCode::kNotFound:
      return bhttp::status::not_found;
    case ErrorCode::kConflict:
      return bhttp::status::conflict;
    case ErrorCode::kPreconditionFailed:
      return bhttp::status::precondition_failed;
    case ErrorCode::kTooLarge:
      return bhttp::status::payload_too_large;
    case ErrorCode::kRangeNotSatisfiable:
      return bhttp::status::range_not_satisfiable;
    case ErrorCode::kUnavailable:
      return bhttp::status::service_unavailable;
    case ErrorCode::kTimeout:
      return bhttp::status::gateway_timeout;
    case ErrorCode::kInternal:
      return bhttp::status::internal_server_error;
  }
  return bhttp::status::internal_server_error;
}

Response error_response(const Error& error) {
  return json_error(status_for(error.code), error_code_name(error.code), error.message);
}

std::string request_id_for(std::string_view incoming) {
  bool ok = !incoming.empty() && incoming.size() <= 128;
  for (char c : incoming) {
    if (!ok) break;
    ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
  }
  if (ok) return std::string(incoming);
  return random_hex(16);
}

}  // namespace sg::http
