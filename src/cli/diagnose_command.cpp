// `sgctl diagnose [--apply]`: the incident runbook, automated (control/diagnosis.hpp).
// Exit status: 0 healthy, 1 an incident was found (also when --apply carried out its safe
// action), 2 the control plane is not reachable or the state cannot be read.
#include <boost/json.hpp>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/control_client.hpp"
#include "cli/diagnosis_input.hpp"
#include "common/json_text.hpp"
#include "platform/store/state_store.hpp"

namespace sg::cli {
namespace json = boost::json;

namespace {

struct Applied {
  std::string action;
  bool ok = false;
  std::string result;
};

// Carries out the diagnosis' safe action through the control API and records it as an event.
Applied apply(const Common& c, const control::Diagnosis& d) {
  Applied a{control::safe_action_name(d.action), false, ""};
  auto client = ControlClient::connect(c.state_dir);
  if (!client) return {a.action, false, client.error().message};
  Result<json::value> r = make_error(ErrorCode::kInternal, "no action");
  switch (d.action) {
    case control::SafeAction::kRollback:
      r = client->post("/control/v1/rollback", json::object{});
      break;
    case control::SafeAction::kAbort:
      r = client->post("/control/v1/abort", json::object{});
      break;
    case control::SafeAction::kScale:
      r = client->post("/control/v1/scale", json::object{{"replicas", d.scale_to}});
      a.action += " to " + std::to_string(d.scale_to);
      break;
    case control::SafeAction::kNone:
      return a;
  }
  a.ok = static_cast<bool>(r);
  a.result = r ? "done" : r.error().message;
  if (auto store = platform::StateStore::open(c.state_dir)) {
    (void)(*store)->add_event("diagnose", std::string("applied ") + a.action + " (" +
                                              (a.ok ? "done" : "failed: " + a.result) + ") for " +
                                              control::incident_name(d.incident) + ": " +
                                              d.summary);
  }
  return a;
}

json::value to_json(const control::Diagnosis& d, const std::optional<Applied>& applied) {
  json::array evidence;
  for (const auto& e : d.evidence) evidence.push_back(json::value(e));
  json::value applied_json = nullptr;
  if (applied) {
    applied_json =
        json::object{{"action", applied->action}, {"ok", applied->ok}, {"result", applied->result}};
  }
  json::value scale_to = nullptr;
  if (d.action == control::SafeAction::kScale) scale_to = d.scale_to;
  return json::object{{"incident", control::incident_name(d.incident)},
                      {"healthy", d.incident == control::Incident::kHealthy},
                      {"summary", d.summary},
                      {"evidence", std::move(evidence)},
                      {"recommendation", d.recommendation},
                      {"safe_action", control::safe_action_name(d.action)},
                      {"scale_to", scale_to},
                      {"applied", applied_json}};
}

void print_text(const control::Diagnosis& d, const std::optional<Applied>& applied) {
  std::cout << "incident: " << control::incident_name(d.incident) << "\n"
            << "summary:  " << d.summary << "\n"
            << "evidence:\n";
  for (const auto& e : d.evidence) std::cout << "  - " << e << "\n";
  std::cout << "action:   " << d.recommendation << "\n";
  if (d.action != control::SafeAction::kNone) {
    if (!applied) {
      std::cout << "safe action: " << control::safe_action_name(d.action)
                << " (run sgctl diagnose --apply to carry it out)\n";
    } else {
      std::cout << "applied:  " << applied->action << ": " << applied->result << "\n";
    }
  }
}

}  // namespace

int run_diagnose(const Common& c, bool do_apply) {
  const control::DiagnosisLimits limits;
  auto observed = observe_platform(c, limits.recent_s);
  if (!observed) return usage_error(observed.error().message);
  const control::Diagnosis d = control::diagnose(observed->input, limits);
  std::optional<Applied> applied;
  if (do_apply && d.action != control::SafeAction::kNone) applied = apply(c, d);
  if (c.output == "json") {
    std::cout << json_text(to_json(d, applied)) << "\n";
  } else {
    print_text(d, applied);
  }
  if (applied && !applied->ok) return kExitUsage;
  return d.incident == control::Incident::kHealthy ? kExitOk : kExitRolledBack;
}

}  // namespace sg::cli
