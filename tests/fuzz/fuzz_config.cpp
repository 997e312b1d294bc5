// libFuzzer target: the configuration parsers, which read files and admin API bodies that an
// operator (or a compromised control plane) writes.
//
// The first input byte picks the parser, the rest is its text:
//   0  streamgate-server's YAML file (--config FILE; the text is written to a scratch file
//      and parse_server_config reads it, as the binary does)
//   1  streamgate-gateway's YAML file (parse_gateway_config_yaml)
//   2  the gateway admin API's JSON config (parse_gateway_config_json; PUT /admin/v1/config,
//      and through gateway_config_from_json the route and track edits)
//
// Invariants (a violation prints what failed and traps):
//   - no exception escapes a parser (bad input is an error value);
//   - a refusal is one line naming the problem (server: exit status 2, "streamgate-server: "
//     prefix; gateway: kInvalidArgument, a non-empty message);
//   - an accepted gateway config validates, and its JSON form parses back to an equal config;
//   - an accepted server config satisfies the rules --help states (a few checked here).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>
#include <string_view>

#include "gateway/core/gateway_config.hpp"
#include "server/config.hpp"

namespace {

namespace gw = sg::gateway;

[[noreturn]] void violation(const std::string& what, std::string_view input) {
  std::fprintf(stderr, "\n*** fuzz_config invariant violated: %s\ninput: %.*s\n", what.c_str(),
               static_cast<int>(std::min<std::size_t>(input.size(), 400)), input.data());
  std::fflush(stderr);
  __builtin_trap();
}

const std::string& scratch_file() {
  static const std::string path = [] {
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp ? tmp : "/tmp") + "/sg-fuzz-config-" + std::to_string(::getpid()) +
           ".yaml";
  }();
  return path;
}

struct RemoveScratch {
  ~RemoveScratch() { std::remove(scratch_file().c_str()); }
} remove_scratch;

void server_yaml(std::string_view text) {
  {
    std::ofstream out(scratch_file(), std::ios::trunc | std::ios::binary);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  }
  const char* argv[] = {"streamgate-server", "--config", scratch_file().c_str()};
  sg::server::ConfigOutcome outcome;
  try {
    outcome = sg::server::parse_server_config(3, argv);
  } catch (const std::exception& e) {
    violation(std::string("exception escaped parse_server_config: ") + e.what(), text);
  }
  if (!outcome.run) {
    if (outcome.exit_code != 2) violation("a refusal did not exit with status 2", text);
    const std::string& m = outcome.message;
    if (!m.starts_with("streamgate-server: ") || m.back() != '\n' || m.find('\n') != m.size() - 1) {
      violation("a refusal is not one line naming the problem: " + m, text);
    }
    return;
  }
  const auto& c = outcome.config;
  if (c.max_buffered_body_bytes < c.max_body_bytes) violation("budget below the body limit", text);
  if (c.blocking_threads < 1 || c.db_pool_size < 1) violation("accepted a zero pool", text);
  if (c.storage.empty() || c.media_dir.empty()) violation("accepted an empty path", text);
}

void gateway(std::string_view text, bool json) {
  sg::Result<gw::GatewayConfig> parsed = sg::make_error(sg::ErrorCode::kInternal, "unset");
  try {
    parsed = json ? gw::parse_gateway_config_json(text) : gw::parse_gateway_config_yaml(text);
  } catch (const std::exception& e) {
    violation(std::string("exception escaped the gateway config parser: ") + e.what(), text);
  }
  if (!parsed) {
    if (parsed.error().code != sg::ErrorCode::kInvalidArgument || parsed.error().message.empty())
      violation("a refusal without kInvalidArgument and a message", text);
    return;
  }
  if (!gw::validate_gateway_config(*parsed))
    violation("accepted a config that fails validation", text);
  auto again = gw::parse_gateway_config_json(gw::gateway_config_to_json_text(*parsed));
  if (!again) violation("its JSON form does not parse back: " + again.error().message, text);
  if (!(*again == *parsed)) violation("its JSON form parses back to another config", text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      server_yaml(text);
      break;
    case 1:
      gateway(text, false);
      break;
    default:
      gateway(text, true);
      break;
  }
  return 0;
}
