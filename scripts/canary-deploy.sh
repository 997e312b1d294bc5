#!/usr/bin/env bash
# The runbook's canary deployment: ./scripts/canary-deploy.sh IMAGE TIMEOUT STEP_SECONDS
#   IMAGE         streamgate:NAME (or NAME), a release in the catalog (sgctl release add)
#   TIMEOUT       seconds for the canary's replicas to become ready (runbook: 300)
#   STEP_SECONDS  duration of each weight step 5, 10, 25, 50, 100 % (runbook: 60)
# The gateway's measurements are judged continuously (error rate < 1 %, P95 < 500 ms, and no
# worse than stable): a failing canary goes to weight 0 at once; after the last step the
# stable track takes the release. Exit 0: promoted; 1: rolled back (reason printed and in
# `sgctl history`); 2: usage or configuration error. Extra arguments go to
# `sgctl deploy canary` (e.g. --steps 10,50,100).
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 IMAGE TIMEOUT STEP_SECONDS [sgctl deploy canary flags]" >&2
  exit 2
fi
source "$(dirname "$0")/sgctl-path.sh"
image=$1 timeout=$2 step=$3
shift 3
exec "$SGCTL" deploy canary "$image" --timeout "$timeout" --step-interval "$step" "$@"
