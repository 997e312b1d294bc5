// The YAML form of GatewayConfig, converted to a JSON value and read by the JSON reader.
#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <charconv>
#include <set>

#include "gateway/core/gateway_config.hpp"

namespace sg::gateway {
namespace json = boost::json;
namespace {

// Deeper documents are not configs; the limit keeps recursion bounded for any input.
constexpr int kMaxDepth = 32;

// A plain (unquoted) scalar as the YAML 1.2 core schema types it, restricted to what a
// config needs: decimal integers, booleans, null; anything else is a string.
json::value plain_scalar(const std::string& text) {
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return nullptr;
  }
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  if (*begin == '+') ++begin;
  std::int64_t number = 0;
  const auto [ptr, ec] = std::from_chars(begin, end, number);
  if (ec == std::errc() && ptr == end && begin != end) return number;
  return json::string(text);
}

std::string key_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

bool convert(const YAML::Node& node, const std::string& path, int depth, json::value& out,
             std::string& problem);

bool convert_map(const YAML::Node& node, const std::string& path, int depth, json::value& out,
                 std::string& problem) {
  json::object object;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) {
      problem = (path.empty() ? "config" : path) + ": keys must be plain names";
      return false;
    }
    const std::string key = kv.first.Scalar();
    const std::string child = key_path(path, key);
    if (object.contains(key)) {
      problem = child + ": the key is given twice";
      return false;
    }
    json::value value;
    if (!convert(kv.second, child, depth + 1, value, problem)) return false;
    object.emplace(key, std::move(value));
  }
  out = std::move(object);
  return true;
}

bool convert(const YAML::Node& node, const std::string& path, int depth, json::value& out,
             std::string& problem) {
  if (depth > kMaxDepth) {
    problem = path + ": nested deeper than " + std::to_string(kMaxDepth) + " levels";
    return false;
  }
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return convert_map(node, path, depth, out, problem);
    case YAML::NodeType::Sequence: {
      json::array array;
      for (std::size_t i = 0; i < node.size(); ++i) {
        json::value item;
        const std::string child = path + "[" + std::to_string(i) + "]";
        if (!convert(node[i], child, depth + 1, item, problem)) return false;
        array.push_back(std::move(item));
      }
      out = std::move(array);
      return true;
    }
    case YAML::NodeType::Scalar:
      // yaml-cpp tags quoted scalars "!" and plain ones "?".
      out = node.Tag() == "!" ? json::value(json::string(node.Scalar()))
                              : plain_scalar(node.Scalar());
      return true;
    default:
      out = nullptr;
      return true;
  }
}

}  // namespace

Result<GatewayConfig> parse_gateway_config_yaml(std::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return make_error(ErrorCode::kInvalidArgument,
                      "config: invalid YAML at line " + std::to_string(e.mark.line + 1) +
                          ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  json::value value;
  std::string problem;
  if (!convert(root, "", 0, value, problem)) {
    return make_error(ErrorCode::kInvalidArgument, std::move(problem));
  }
  return gateway_config_from_json(value);
}

}  // namespace sg::gateway
