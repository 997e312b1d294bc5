#include "platform/kube/kubectl.hpp"

#include <boost/json.hpp>

#include "common/run_command.hpp"

namespace sg::platform {
namespace json = boost::json;

namespace {

std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > 400) line = line.substr(0, 400) + "...";
  return line;
}

ErrorCode code_of(const std::string& err) {
  const auto reason = [&](const char* r) {
    return err.find(std::string("Error from server (") + r + ")") != std::string::npos;
  };
  if (reason("NotFound")) return ErrorCode::kNotFound;
  if (reason("Conflict") || reason("AlreadyExists")) return ErrorCode::kConflict;
  if (reason("Forbidden")) return ErrorCode::kPermissionDenied;
  if (reason("Unauthorized")) return ErrorCode::kUnauthenticated;
  if (reason("Invalid") || reason("BadRequest")) return ErrorCode::kInvalidArgument;
  if (err.find(" not found") != std::string::npos && err.find("Error from server") != std::string::npos) {
    return ErrorCode::kNotFound;
  }
  return ErrorCode::kUnavailable;
}

}  // namespace

Result<std::string> Kubectl::run(const std::vector<std::string>& args, const std::string& input) const {
  CommandSpec spec;
  spec.argv.push_back(opts_.kubectl);
  if (!opts_.context.empty()) spec.argv.push_back("--context=" + opts_.context);
  spec.argv.push_back("--namespace=" + opts_.ns);
  spec.argv.push_back("--request-timeout=" + std::to_string(std::max<long long>(1, opts_.timeout.count() / 1000)) + "s");
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.input = input;
  spec.timeout = opts_.timeout + std::chrono::seconds(2);  // kubectl's own start-up
  auto done = run_command(spec);
  const std::string what = "kubectl " + (args.empty() ? std::string() : args.front()) +
                           (args.size() > 1 ? " " + args[1] : std::string());
  if (!done) return make_error(done.error().code, what + ": " + done.error().message);
  if (done->exit_code != 0) {
    const std::string err = done->err.empty() ? done->out : done->err;
    return make_error(code_of(err), what + ": " + first_line(err));
  }
  return std::move(done->out);
}

Result<json::value> Kubectl::get_json(const std::vector<std::string>& args) const {
  std::vector<std::string> all = args;
  all.insert(all.end(), {"-o", "json"});
  auto out = run(all);
  if (!out) return out.error();
  boost::system::error_code ec;
  json::value v = json::parse(*out, ec);
  if (ec) return make_error(ErrorCode::kUnavailable, "kubectl " + args.front() + ": not JSON: " + ec.message());
  return v;
}

Status Kubectl::merge_patch(const std::string& object, const json::value& patch) const {
  return run({"patch", object, "--type=merge", "-p", json::serialize(patch)}).status();
}

Status Kubectl::replace(const json::value& object) const {
  return run({"replace", "-f", "-"}, json::serialize(object)).status();
}

Status Kubectl::create(const json::value& object) const {
  return run({"create", "-f", "-"}, json::serialize(object)).status();
}

}  // namespace sg::platform
