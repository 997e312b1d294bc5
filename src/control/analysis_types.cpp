#include "control/analysis_types.hpp"

namespace sg::control {

const char* outcome_name(Verdict::Outcome outcome) {
  switch (outcome) {
    case Verdict::Outcome::kPass:
      return "pass";
    case Verdict::Outcome::kFail:
      return "fail";
    case Verdict::Outcome::kInconclusive:
      return "inconclusive";
  }
  return "inconclusive";
}

}  // namespace sg::control
