#!/usr/bin/env bash
# The runbook's immediate rollback: ./scripts/blue-green-rollback.sh
# While a blue-green rollout still keeps the old colour warm, this is an instant switch back;
# after it finished, a blue-green deployment of the previous release (same checks).
# Exit 0: the previous version serves all traffic; 1: the rollback itself was rolled back;
# 2: nothing to roll back or no control plane (SG_STATE_DIR, default ./.streamgate).
set -euo pipefail
source "$(dirname "$0")/sgctl-path.sh"
exec "$SGCTL" rollback "$@"
