# Sourced by the runbook scripts: sets SGCTL to the sgctl to use: $SGCTL if set, else the one
# on PATH, else this checkout's build/src/cli/sgctl.
if [ -z "${SGCTL:-}" ]; then
  if command -v sgctl >/dev/null 2>&1; then
    SGCTL=$(command -v sgctl)
  else
    SGCTL="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/src/cli/sgctl"
  fi
fi
if [ ! -x "$SGCTL" ]; then
  echo "$(basename "$0"): sgctl not found (build it with scripts/run, or set SGCTL)" >&2
  exit 2
fi
