#!/usr/bin/env bash
# bench/autoscale/run.sh — the local autoscaler (issue 20) under a scripted load profile.
#
# Starts the real local platform (`sgctl up`: the gateway and streamgate-server replicas) in
# its own temp state dir on free loopback ports, turns autoscaling on with a short sync
# period and a shortened scale-down window, and runs a bounded load profile through the
# gateway with wrk:
#
#   light   BENCH_LIGHT_CONNECTIONS connections for the whole profile (the "idle" level);
#   idle    BENCH_IDLE seconds of the light load alone (the count must stay at the minimum);
#   step    BENCH_STEP_CONNECTIONS more connections for BENCH_HOLD seconds (must add replicas);
#   after   the light load alone until the count is back at the minimum (bounded by the
#           window + BENCH_AFTER_MAX), then a few more evaluations.
#
# Every replica answers /api/ requests after BENCH_LATENCY_MS (--chaos-latency-ms), so one
# keep-alive connection is at most ~1000/latency requests a second: the load levels are set
# by connection counts, not by how fast this machine is.
#
# It prints (bench/autoscale/analyse.py):
#   * the time from the load step to the first scale-up decision (the HPA record's time);
#   * the time until the new capacity serves (a new endpoint of the track answers requests
#     in the gateway's per-endpoint stats, polled every 0.5 s);
#   * the time from the end of the step to the scale-down back to the minimum, and whether
#     it came only after the scale-down window had passed since the last recommendation
#     above the minimum;
#   * accuracy: every HPA evaluation of the run (the engine keeps the last 60 per track in
#     `sgctl get hpa -o json`, "recent_evaluations"; polled so none is missed) recomputed
#     from its recorded inputs with the documented HPA rules, written independently of
#     src/control/hpa*.cpp, and compared with the replica count the engine decided;
#   * failed requests (wrk: non-2xx/3xx, connect/read/write errors, timeouts) over the profile.
#
# No peer: a Kubernetes HorizontalPodAutoscaler cannot run on this machine (no cluster), so
# there is no side-by-side ratio; the figures are reported against the issue's goals.
#
# Environment (defaults in brackets):
#   SGCTL                    sgctl binary [build/src/cli/sgctl]
#   STREAMGATE_SERVER        replica binary [build/src/server/streamgate-server]
#   SG_GATEWAY_BIN           gateway binary [build/src/gateway/streamgate-gateway]
#   BENCH_MIN, BENCH_MAX     sgctl autoscale --min / --max [2, 10]
#   BENCH_RPS                --rps target per replica [40]
#   BENCH_IN_FLIGHT          --in-flight target per replica; empty = rps only [1.5]
#   BENCH_SYNC               --sync-period seconds [2]
#   BENCH_DOWN_WINDOW        --scale-down-window seconds [30]
#   BENCH_LATENCY_MS         replicas' --chaos-latency-ms [20]
#   BENCH_LIGHT_CONNECTIONS  wrk connections of the light load [1]
#   BENCH_STEP_CONNECTIONS   wrk connections added by the step [7]
#   BENCH_IDLE               seconds of light load before the step [20]
#   BENCH_HOLD               seconds the step lasts [40]
#   BENCH_AFTER_MAX          seconds past the window to wait for the scale-down [60]
#   BENCH_OUT_DIR            where the JSON goes [<repo>/bench/out]
#   BENCH_ENFORCE            1 = exit 3 if a goal is missed [0]
#   BENCH_VERBOSE            1 = print every evaluation and the raw wrk reports [0]
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_dir="$(cd "$script_dir/../.." && pwd)"

bench_name=autoscale
# shellcheck source=bench/lib.sh
source "$script_dir/../lib.sh"

bench_settings
min="$(whole_number BENCH_MIN "${BENCH_MIN:-2}")"
max="$(whole_number BENCH_MAX "${BENCH_MAX:-10}")"
rps="${BENCH_RPS:-40}"
in_flight="${BENCH_IN_FLIGHT-1.5}"
sync_s="$(whole_number BENCH_SYNC "${BENCH_SYNC:-2}")"
window_s="$(whole_number BENCH_DOWN_WINDOW "${BENCH_DOWN_WINDOW:-30}")"
latency_ms="$(whole_number BENCH_LATENCY_MS "${BENCH_LATENCY_MS:-20}")"
light_conns="$(whole_number BENCH_LIGHT_CONNECTIONS "${BENCH_LIGHT_CONNECTIONS:-1}")"
step_conns="$(whole_number BENCH_STEP_CONNECTIONS "${BENCH_STEP_CONNECTIONS:-7}")"
idle_s="$(seconds_of "${BENCH_IDLE:-20}")"
hold_s="$(seconds_of "${BENCH_HOLD:-40}")"
after_max_s="$(seconds_of "${BENCH_AFTER_MAX:-60}")"
((max > min)) || { echo "run.sh: BENCH_MAX ($max) must be above BENCH_MIN ($min)" >&2; exit 2; }
((window_s <= 600)) || { echo "run.sh: BENCH_DOWN_WINDOW must be at most 600 s here" >&2; exit 2; }
[[ "$rps" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "run.sh: BENCH_RPS='$rps' is not a number" >&2; exit 2; }
[[ -z "$in_flight" || "$in_flight" =~ ^[0-9]+(\.[0-9]+)?$ ]] || {
  echo "run.sh: BENCH_IN_FLIGHT='$in_flight' is not a number" >&2; exit 2; }

sgctl_bin="${SGCTL:-$repo_dir/build/src/cli/sgctl}"
server_bin="${STREAMGATE_SERVER:-$repo_dir/build/src/server/streamgate-server}"
gateway_bin="${SG_GATEWAY_BIN:-$repo_dir/build/src/gateway/streamgate-gateway}"
for b in "$sgctl_bin" "$server_bin" "$gateway_bin"; do
  [[ -x "$b" ]] || { echo "run.sh: $b is not built (see bench/README.md)" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "run.sh: wrk is not installed (scripts/install-deps)" >&2; exit 2; }

check_idle_host
bench_start_work
wrk_threads=1
state="$work/state"
mapfile -t ports < <(free_ports 2)
port="${ports[0]}" admin_port="${ports[1]}"
url="http://127.0.0.1:$port"

# Whatever `sgctl up` started and did not stop (it was killed): only processes whose command
# line names this run's temp dir, i.e. started for this run (the replicas' and gateway's
# arguments carry paths under the state dir), and only after `sgctl up` itself is gone.
# shellcheck disable=SC2317 # runs from the EXIT trap
stop_leftovers() {
  local p cmd
  [[ -n "${work:-}" && -d /proc ]] || return 0
  for p in /proc/[0-9]*; do
    p="${p#/proc/}"
    [[ "$p" == "$$" ]] && continue
    cmd="$({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null || true)"
    if [[ "$cmd" == *"$work/"* ]]; then
      log "leftover pid $p (${cmd:0:100}) stopped"
      stop_pid "$p"
    fi
  done
}
# shellcheck disable=SC2317 # runs from the EXIT trap
autoscale_cleanup() {
  local rc=$? i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done # the load first
  pids=()
  stop_leftovers
  rm -rf "$work"
  exit "$rc"
}
trap autoscale_cleanup EXIT

log "platform: release v1 = streamgate-server --chaos-latency-ms $latency_ms; gateway :$port, admin :$admin_port"
"$sgctl_bin" --state-dir "$state" release add v1 --exec "$server_bin" -- \
  --chaos-latency-ms "$latency_ms" >"$work/release.log" 2>&1 || {
  log "sgctl release add failed:"; cat "$work/release.log" >&2; exit 1; }
"$sgctl_bin" --state-dir "$state" up --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin_port" \
  --release v1 --replicas "$min" --gateway-bin "$gateway_bin" --grace-period 10 --drain-timeout 20 \
  --tick-ms 200 --gateway-threads 2 >"$work/up.log" 2>&1 &
up_pid=$!
pids+=("$up_pid")
for ((i = 0; ; i++)); do
  kill -0 "$up_pid" 2>/dev/null || { log "sgctl up exited during start-up; its log:"; tail -40 "$work/up.log" >&2; exit 1; }
  if [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url/api/v1/health" || true)" == 200 ]] &&
    "$sgctl_bin" --state-dir "$state" status -o json >/dev/null 2>&1; then break; fi
  ((i < 300)) || { log "platform not serving within 60 s; sgctl up's log:"; tail -40 "$work/up.log" >&2; exit 1; }
  sleep 0.2
done

scale_args=(--min "$min" --max "$max" --rps "$rps" --sync-period "$sync_s" --scale-down-window "$window_s")
[[ -n "$in_flight" ]] && scale_args+=(--in-flight "$in_flight")
log "sgctl autoscale ${scale_args[*]}"
"$sgctl_bin" --state-dir "$state" autoscale "${scale_args[@]}" >"$work/autoscale.log" 2>&1 || {
  log "sgctl autoscale failed:"; cat "$work/autoscale.log" >&2; exit 1; }

write_report_lua
sample_host_before_load "platform"
log "profile: light ${light_conns}c throughout; ${idle_s}s idle, +${step_conns}c for ${hold_s}s, then light until back at $min (at most ${window_s}s window + ${after_max_s}s)"
python3 "$script_dir/profile.py" --sgctl "$sgctl_bin" --state-dir "$state" --url "$url" \
  --admin-port "$admin_port" --work "$work" --lua "$work/report.lua" --min "$min" \
  --light "$light_conns" --step "$step_conns" --idle "$idle_s" --hold "$hold_s" \
  --window "$window_s" --after-max "$after_max_s" --sync "$sync_s" \
  --out "$work/timeline.json" &
profile_pid=$!
pids+=("$profile_pid")
wait "$profile_pid" || { log "the load profile failed; sgctl up's log:"; tail -20 "$work/up.log" >&2; exit 1; }
forget_pid "$profile_pid"

report_path
set +e
python3 "$script_dir/analyse.py" "$work/timeline.json" --out "$json_out" \
  --stamp "$stamp" --verbose "$verbose" \
  --host "{\"nproc\": $(nproc), \"busy_percent_before_start\": $idle_busy_pct, \"busy_percent_before_load\": $pre_busy_pct, \"steal_percent_before_load\": $pre_steal_pct}" \
  --config "{\"min\": $min, \"max\": $max, \"rps\": $rps, \"in_flight\": ${in_flight:-null}, \"sync_s\": $sync_s, \"scale_down_window_s\": $window_s, \"latency_ms\": $latency_ms, \"light_connections\": $light_conns, \"step_connections\": $step_conns, \"idle_s\": $idle_s, \"hold_s\": $hold_s, \"wrk\": \"$(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)\"}"
report_rc=$?
set -e
if ((idle_busy_pct > 20 || pre_busy_pct > 20)); then
  echo "WARNING: the host was busy (${idle_busy_pct}% of a core before the start, ${pre_busy_pct}% before the load): timings are skewed"
fi
report_exit "$report_rc"
