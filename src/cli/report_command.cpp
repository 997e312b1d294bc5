// `sgctl report daily|weekly|monthly`: the runbook's periodic checks from the state store
// alone (deployment history + the control plane's rollups), in text, Markdown or JSON.
// Reads only; works with or without a running control plane.
#include <iostream>

#include "cli/commands.hpp"
#include "common/json_text.hpp"
#include "platform/report.hpp"
#include "platform/store/rollup_store.hpp"
#include "platform/store/state_store.hpp"

namespace sg::cli {

int run_report(const Common& c, const std::string& kind_text) {
  auto kind = platform::parse_report_kind(kind_text);
  if (!kind) return usage_error(kind.error().message);
  if (!std::filesystem::exists(c.state_dir / "state.db")) {
    return usage_error("no state in " + c.state_dir.string() +
                       " (run sgctl up first, or pass --state-dir)");
  }
  auto store = platform::StateStore::open(c.state_dir);
  if (!store) return usage_error(store.error().message);
  auto rollups = platform::RollupStore::open(c.state_dir);
  if (!rollups) return usage_error(rollups.error().message);
  platform::ReportInput in;
  in.kind = *kind;
  in.end_ms = platform::unix_ms_now();
  const std::int64_t from = in.end_ms - platform::report_span_ms(*kind);
  auto deployments = (*store)->deployments(10000);
  if (!deployments) return usage_error(deployments.error().message);
  in.deployments = std::move(*deployments);
  auto tracks = (*rollups)->tracks(from, in.end_ms);
  if (!tracks) return usage_error(tracks.error().message);
  in.tracks = std::move(*tracks);
  auto replicas = (*rollups)->replicas(from, in.end_ms);
  if (!replicas) return usage_error(replicas.error().message);
  in.replicas = std::move(*replicas);
  const platform::Report report = platform::build_report(in);
  if (c.output == "json") {
    std::cout << json_text(platform::to_json(report)) << "\n";
  } else if (c.output == "markdown") {
    std::cout << platform::to_markdown(report);
  } else {
    std::cout << platform::to_text(report);
  }
  return kExitOk;
}

}  // namespace sg::cli
