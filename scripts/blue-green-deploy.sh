#!/usr/bin/env bash
# The runbook's blue-green deployment: ./scripts/blue-green-deploy.sh IMAGE TIMEOUT
#   IMAGE    streamgate:NAME (or NAME), a release in the catalog (sgctl release add)
#   TIMEOUT  seconds for the new colour's replicas to become ready (runbook: 300)
# Starts the idle colour, smoke-tests it, switches the route, verifies error rate < 0.5 % and
# P95 < 200 ms, keeps the old colour warm for an instant rollback, then scales it down.
# Exit 0: the new version serves all traffic. Exit 1: rolled back or never switched (the
# reason is printed and recorded in `sgctl history`). Exit 2: usage or configuration error.
# Extra arguments go to `sgctl deploy blue-green` (e.g. --verify 60 --scale-down-delay 300).
# The control plane is found through SG_STATE_DIR (default ./.streamgate).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 IMAGE TIMEOUT [sgctl deploy blue-green flags]" >&2
  exit 2
fi
source "$(dirname "$0")/sgctl-path.sh"
image=$1 timeout=$2
shift 2
exec "$SGCTL" deploy blue-green "$image" --timeout "$timeout" "$@"
