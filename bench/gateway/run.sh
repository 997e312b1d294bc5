#!/usr/bin/env bash
# bench/gateway/run.sh — streamgate-gateway against HAProxy 2.6, side by side, in one run.
#
# Three nginx backends (worker_processes 1 each, keep-alive, `return 200 "ok <name>\n"`):
# s1 and s2 form the "stable" track, c1 the "canary" track. In front of them, with the same
# 95/5 split, the same keep-alive on both sides and the same thread count:
#   gateway   streamgate-gateway, tracks stable=[s1,s2] canary=[c1], weights 95/5
#   haproxy   HAProxy, one backend, balance roundrobin, weights s1=19 s2=19 c1=2
#             (19+19+2 = 40: stable 38/40 = 95 % split evenly over s1/s2, canary 2/40 = 5 %;
#             HAProxy's roundrobin is smooth weighted round-robin, as is the gateway's
#             track split, so both are exact over every window, not random; HAProxy caps
#             server weights at 256, hence 19/19/2 and not 475/475/50)
#   direct    wrk straight to s1: the baseline, the most a proxy could approach
# Scenarios (BENCH_SCENARIO):
#   plain     every request is `GET /` (the gateway only splits and proxies);
#   hls       every request is an HLS segment GET as hls.js sends it, from one of
#             BENCH_HLS_SESSIONS viewers in turn: `GET /api/v1/content/bench-item/hls/media.mp4
#             ?token=tk-N&CMCD=bl%3D..,mtp%3D..,ot%3Dv,sid%3D%22viewer-N%22` with a Range
#             header, one request in 97 with `bs` (a wrk Lua script). The gateway classifies
#             it, reads the CMCD data, pins the session to a track in its session table and
#             records the per-track streaming signals; HAProxy keeps each session on one server
#             too (`balance url_param token`, the same 19/19/2 weights) and proxies. The backends
#             still answer 6 bytes, so the figures are the per-request cost of the streaming
#             hot path, not of moving segment bytes (bench/server measures that). The gateway's
#             own counts (segment requests, CMCD requests and malformed ones, sessions tracked)
#             go into the JSON to show the work was done.
# Idle workload: BENCH_IDLE_CLIENTS keep-alive clients each make one GET through a freshly
# started 1-thread proxy and stay connected; the proxy's resident memory grown per client is
# its cost of an idle viewer (median over BENCH_IDLE_ROUNDS, order alternating; goal <= 1.0x
# HAProxy).
# For each proxy thread count (BENCH_PROXY_THREADS, "1 2"), both proxies are started with
# that many threads, warmed up, then measured BENCH_ROUNDS times each with the order
# alternating per round (round 1: gateway then haproxy, round 2: haproxy then gateway, ...);
# the table shows each target's best round by req/s; the goals are judged on the median over
# rounds of the paired ratio gateway/HAProxy (the two runs of a round are back to back, so
# the host's drift cancels; see bench/README.md). Both proxies are stopped before the next
# thread count, so an idle one never shares the CPU.
# With BENCH_PIN=1 and 2+ proxy threads (no more than the CPUs this script may use), both
# proxies pin thread i to the i-th of those CPUs: the gateway with `cpu_affinity: auto`,
# HAProxy with the same `cpu-map` lines. Unpinned, the gateway's two workers often queue on
# one core and its p99 suffers (bench/README.md); a 1-thread proxy is never pinned.
#
# Prints a table and writes bench/out/gateway-<UTC timestamp>.json. Starts only its own
# processes, stops exactly those (by PID) on exit and removes its temp dir.
#
# Environment (defaults in brackets):
#   SG_GATEWAY_BIN           gateway binary [<repo>/build/src/gateway/streamgate-gateway]
#   HAPROXY                  peer binary [haproxy on PATH]
#   NGINX                    backend binary [nginx on PATH]
#   BENCH_SCENARIO           plain | hls (see above) [plain]
#   BENCH_HLS_SESSIONS       distinct viewer sessions of the hls scenario [20000]
#   BENCH_DURATION           seconds per measured wrk run, e.g. 10 or 10s [10s]
#   BENCH_WARMUP             seconds of unmeasured load per target before round 1 [2s]
#   BENCH_CONNECTIONS        wrk connections [64]
#   BENCH_THREADS            wrk threads [1]
#   BENCH_ROUNDS             measured runs per target and thread count [7]
#   BENCH_PROXY_THREADS      proxy thread counts to run, space-separated [1 2]
#   BENCH_DIRECT             1 = also measure wrk straight to one backend [1]
#   BENCH_PIN                1 = pin both proxies' threads one per CPU at 2+ threads [1]
#   BENCH_IDLE_CLIENTS       idle keep-alive clients of the idle workload; 0 skips it [4000;
#                            0 in the hls scenario]
#   BENCH_IDLE_ROUNDS        idle rounds, each on freshly started 1-thread proxies [3]
#   BENCH_IDLE_SETTLE        seconds between the last client's answer and the reading [2]
#   BENCH_OUT_DIR            where the JSON goes [<repo>/bench/out]
#   BENCH_ENFORCE            1 = exit 3 if a goal (req/s >= 1.0x, p99 <= 1.0x HAProxy) is missed [0]
#   BENCH_VERBOSE            1 = also print every raw wrk report to stderr [0]
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_dir="$(cd "$script_dir/../.." && pwd)"

bench_name=gateway
# shellcheck source=bench/lib.sh
source "$script_dir/../lib.sh"

scenario="${BENCH_SCENARIO:-plain}"
[[ "$scenario" == plain || "$scenario" == hls ]] || {
  echo "run.sh: BENCH_SCENARIO must be plain or hls, got '$scenario'" >&2; exit 2; }
[[ "$scenario" == hls ]] && bench_name=gateway-hls
hls_sessions="$(whole_number BENCH_HLS_SESSIONS "${BENCH_HLS_SESSIONS:-20000}")"
bench_settings
conns="$(whole_number BENCH_CONNECTIONS "${BENCH_CONNECTIONS:-64}")"
wrk_threads="$(whole_number BENCH_THREADS "${BENCH_THREADS:-1}")"
rounds="$(whole_number BENCH_ROUNDS "${BENCH_ROUNDS:-7}")"
proxy_threads_list="${BENCH_PROXY_THREADS:-1 2}"
for t in $proxy_threads_list; do whole_number BENCH_PROXY_THREADS "$t" >/dev/null; done
[[ -n "${proxy_threads_list// /}" ]] || { echo "run.sh: BENCH_PROXY_THREADS is empty" >&2; exit 2; }
direct="${BENCH_DIRECT:-1}"
idle_default=4000
[[ "$scenario" == hls ]] && idle_default=0
idle_clients="${BENCH_IDLE_CLIENTS:-$idle_default}"
[[ "$idle_clients" =~ ^[0-9]+$ ]] || { echo "run.sh: BENCH_IDLE_CLIENTS must be a whole number" >&2; exit 2; }
idle_rounds="$(whole_number BENCH_IDLE_ROUNDS "${BENCH_IDLE_ROUNDS:-3}")"
idle_settle="$(whole_number BENCH_IDLE_SETTLE "${BENCH_IDLE_SETTLE:-2}")"
raise_fd_limit
pin="${BENCH_PIN:-1}"
[[ "$pin" == 0 || "$pin" == 1 ]] || { echo "run.sh: BENCH_PIN must be 0 or 1, got '$pin'" >&2; exit 2; }
# The CPUs this script (and so every process it starts) may run on, ascending.
mapfile -t usable_cpus < <(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0)), sep="\n")')
pinned() { # threads -> true when this thread count runs pinned
  [[ "$pin" == 1 ]] && (($1 >= 2 && $1 <= ${#usable_cpus[@]}))
}

gateway_bin="${SG_GATEWAY_BIN:-$repo_dir/build/src/gateway/streamgate-gateway}"
haproxy_bin="${HAPROXY:-$(command -v haproxy || true)}"
nginx_bin="${NGINX:-$(command -v nginx || true)}"
[[ -x "$gateway_bin" ]] || { echo "run.sh: gateway binary '$gateway_bin' is not executable; build it or set SG_GATEWAY_BIN" >&2; exit 2; }
for tool in "$haproxy_bin" "$nginx_bin" wrk curl python3 timeout; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "run.sh: '${tool:-haproxy/nginx}' not found; run scripts/install-deps" >&2; exit 2; }
done

check_idle_host

# --- processes we start, and cleanup ------------------------------------------------
bench_start_work

# --- nginx backends ---------------------------------------------------------------------
backends=(s1 s2 c1)
declare -A be_port be_pid
mapfile -t ports < <(free_ports 3)
for i in 0 1 2; do be_port[${backends[$i]}]="${ports[$i]}"; done

start_backend() { # name
  local name="$1" d="$work/nginx-$1"
  nginx_dirs "$d"
  # Every backend answers every path (the health check's /ready included) with a 200 and
  # a 6-byte body naming it, so the split can be checked from the bodies alone.
  {
    nginx_conf_head "$d" 1
    cat <<EOF
  default_type text/plain;
  server {
    listen 127.0.0.1:${be_port[$name]};
    location / { return 200 "ok $name\n"; }
  }
}
EOF
  } >"$d/nginx.conf"
  chmod -R a+rX "$d"
  start_nginx "$d" "$work/nginx-$name.log"
  be_pid[$name]="$started_pid"
}
for b in "${backends[@]}"; do start_backend "$b"; done
for b in "${backends[@]}"; do wait_http "http://127.0.0.1:${be_port[$b]}/" "nginx-$b" "${be_pid[$b]}"; done
log "nginx backends: s1 :${be_port[s1]} (pid ${be_pid[s1]}), s2 :${be_port[s2]} (pid ${be_pid[s2]}), c1 :${be_port[c1]} (pid ${be_pid[c1]})"

# --- proxies ------------------------------------------------------------------------------
admin_token="$(random_token)"
gw_pid=
ha_pid=
gw_port=
ha_port=

start_gateway() { # threads
  local threads="$1" admin_port
  mapfile -t ports < <(free_ports 2)
  gw_port="${ports[0]}"; admin_port="${ports[1]}"
  local affinity=none
  pinned "$threads" && affinity=auto
  # Timeouts, health check and balance are the gateway's defaults, spelled out so the
  # HAProxy config below can be read against them.
  cat >"$work/gateway.yaml" <<EOF
listen: 127.0.0.1:$gw_port
admin: { listen: 127.0.0.1:$admin_port, token_env: STREAMGATE_ADMIN_TOKEN }
threads: $threads
cpu_affinity: $affinity
tracks:
  stable: { endpoints: [127.0.0.1:${be_port[s1]}, 127.0.0.1:${be_port[s2]}], balance: least_outstanding }
  canary: { endpoints: [127.0.0.1:${be_port[c1]}] }
route: { weights: { stable: 95, canary: 5 } }
health_check: { path: /ready, interval_ms: 1000, timeout_ms: 500, rise: 2, fall: 2 }
timeouts: { connect_ms: 1000, first_byte_ms: 30000, idle_ms: 60000, header_ms: 10000 }
EOF
  STREAMGATE_ADMIN_TOKEN="$admin_token" "$gateway_bin" --config "$work/gateway.yaml" \
    --access-log false >"$work/gateway.log" 2>&1 &
  gw_pid=$!
  pids+=("$gw_pid")
  wait_http "http://127.0.0.1:$gw_port/" gateway "$gw_pid"
  gw_admin="http://127.0.0.1:$admin_port"
}

# The plain scenario spreads requests; the hls one keeps each session on one server, as the
# gateway pins it to one track (url_param hashes the token over the weights).
ha_balance=roundrobin
[[ "$scenario" == hls ]] && ha_balance="url_param token"
start_haproxy() { # threads
  local threads="$1"
  mapfile -t ports < <(free_ports 1)
  ha_port="${ports[0]}"
  # Same job as the gateway config above: keep-alive on both sides with idle upstream
  # connections shared across clients (http-reuse always ~ the gateway's per-worker pools),
  # the same timeouts, GET /ready health checks every 1 s (rise/fall 2), one retry on
  # another server, no logging.
  # Pinned as the gateway's cpu_affinity: auto does it: thread i on the i-th usable CPU.
  local cpu_map="" i
  if pinned "$threads"; then
    for ((i = 0; i < threads; i++)); do cpu_map+="  cpu-map 1/$((i + 1)) ${usable_cpus[$i]}"$'\n'; done
  fi
  cat >"$work/haproxy.cfg" <<EOF
global
  nbthread $threads
${cpu_map}  maxconn ${ha_maxconn:-4096}
  tune.bufsize 16384
defaults
  mode http
  option http-keep-alive
  http-reuse always
  retries 1
  option redispatch
  timeout connect 1s
  timeout server 30s
  timeout client 60s
  timeout http-request 10s
  timeout http-keep-alive 60s
frontend fe
  bind 127.0.0.1:$ha_port
  default_backend be
backend be
  balance ${ha_balance}
  option httpchk GET /ready
  default-server check inter 1s rise 2 fall 2
  server s1 127.0.0.1:${be_port[s1]} weight 19
  server s2 127.0.0.1:${be_port[s2]} weight 19
  server c1 127.0.0.1:${be_port[c1]} weight 2
EOF
  "$haproxy_bin" -c -q -f "$work/haproxy.cfg" >"$work/haproxy-check.log" 2>&1 || {
    log "haproxy rejected its config:"; cat "$work/haproxy-check.log" >&2; exit 1; }
  "$haproxy_bin" -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
  ha_pid=$!
  pids+=("$ha_pid")
  wait_http "http://127.0.0.1:$ha_port/" haproxy "$ha_pid"
}

stop_proxies() {
  [[ -n "$gw_pid" ]] && { stop_pid "$gw_pid"; forget_pid "$gw_pid"; gw_pid=; }
  [[ -n "$ha_pid" ]] && { stop_pid "$ha_pid"; forget_pid "$ha_pid"; ha_pid=; }
  return 0
}

split_check() { # url -> "s1 s2 c1" counts over 200 keep-alive GETs
  python3 - "$1" <<'EOF'
import http.client, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
n = {"s1": 0, "s2": 0, "c1": 0}
for _ in range(200):
    c.request("GET", "/")
    r = c.getresponse()
    body = r.read().decode().split()
    if r.status == 200 and len(body) == 2 and body[1] in n:
        n[body[1]] += 1
print(n["s1"], n["s2"], n["c1"])
EOF
}

# --- load ---------------------------------------------------------------------------------
write_report_lua
wrk_script="$work/report.lua"
if [[ "$scenario" == hls ]]; then
  # Each wrk thread walks the sessions with a stride from its own start; the report's done()
  # is appended, so one script does both.
  cat >"$work/hls.lua" <<EOF
local sessions = $hls_sessions
local threads = 0
setup = function(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local n = 0
init = function(args)
  n = (tid or 0) * 7919
end
request = function()
  n = n + 1
  local v = (n * 104729) % sessions
  local bs = (n % 97 == 0) and "%2Cbs" or ""
  local path = "/api/v1/content/bench-item/hls/media.mp4?token=tk-" .. v ..
    "&CMCD=bl%3D" .. (n % 30) * 1000 .. bs .. "%2Cmtp%3D" .. 2000 + (n % 40) * 100 ..
    "%2Cot%3Dv%2Csid%3D%22viewer-" .. v .. "%22"
  local from = (n % 8) * 4096
  return wrk.format("GET", path, {["Range"] = "bytes=" .. from .. "-" .. from + 4095})
end
EOF
  cat "$work/report.lua" >>"$work/hls.lua"
  wrk_script="$work/hls.lua"
fi

results="$work/results.tsv"
splits="$work/splits.tsv"
: >"$results"
: >"$splits"
run_wrk() { # target threads round url pid
  local target="$1" threads="$2" round="$3" url="$4" pid="$5"
  local secs="$duration_s" out c0 c1 b0 b1 fields h0 h1 st0 st1
  [[ "$round" == warmup ]] && secs="$warmup_s"
  out="$work/wrk-$target-$threads-$round.txt"
  c0="$(cpu_ticks "$pid")"
  b0="$(cpu_ticks "${be_pid[@]}")"
  read -r h0 st0 <<<"$(host_ticks)"
  wrk_bounded "$url" "$conns" "$secs" "$out" "$wrk_script"
  c1="$(cpu_ticks "$pid")"
  b1="$(cpu_ticks "${be_pid[@]}")"
  read -r h1 st1 <<<"$(host_ticks)"
  log_wrk_verbose "$target/$threads round $round" "$out"
  [[ "$round" == warmup ]] && return 0
  fields="$(wrk_result "$out")"
  printf '%s\t%s\t%s\t%s cpu_ticks=%s backend_cpu_ticks=%s clk_tck=%s host_busy_ticks=%s host_steal_ticks=%s\n' \
    "$target" "$threads" "$round" "$fields" "$((c1 - c0))" "$((b1 - b0))" "$clk_tck" \
    "$((h1 - h0))" "$((st1 - st0))" >>"$results"
  log "$(printf '%-8s threads %s round %s: %s' "$target" "$threads" "$round" \
    "$(grep -E '^Requests/sec|^ +50%|^ +99%' "$out" | tr -s ' ' | tr '\n' ' ')")"
}

sample_host_before_load backends
log "wrk -t$wrk_threads -c$conns, warm-up ${warmup_s}s per target, then $rounds x ${duration_s}s per target"

if [[ "$direct" == 1 ]]; then
  direct_url="http://127.0.0.1:${be_port[s1]}/"
  run_wrk direct - warmup "$direct_url" "${be_pid[s1]}"
  for ((r = 1; r <= rounds; r++)); do run_wrk direct - "$r" "$direct_url" "${be_pid[s1]}"; done
fi

for threads in $proxy_threads_list; do
  start_gateway "$threads"
  start_haproxy "$threads"
  pin_note="unpinned"
  pinned "$threads" && pin_note="both pinned, thread i on CPU ${usable_cpus[*]:0:$threads}"
  log "threads $threads ($pin_note): gateway pid $gw_pid on :$gw_port, haproxy pid $ha_pid on :$ha_port"
  printf '%s\t%s\n' "$threads" "$(pinned "$threads" && echo 1 || echo 0)" >>"$work/pinned.tsv"
  # The split both proxies deliver, from the backends' own answers (200 GETs each).
  printf 'gateway\t%s\t%s\n' "$threads" "$(split_check "http://127.0.0.1:$gw_port/")" >>"$splits"
  printf 'haproxy\t%s\t%s\n' "$threads" "$(split_check "http://127.0.0.1:$ha_port/")" >>"$splits"
  gw_url="http://127.0.0.1:$gw_port/"
  ha_url="http://127.0.0.1:$ha_port/"
  run_wrk gateway "$threads" warmup "$gw_url" "$gw_pid"
  run_wrk haproxy "$threads" warmup "$ha_url" "$ha_pid"
  for ((r = 1; r <= rounds; r++)); do
    if ((r % 2 == 1)); then
      run_wrk gateway "$threads" "$r" "$gw_url" "$gw_pid"
      run_wrk haproxy "$threads" "$r" "$ha_url" "$ha_pid"
    else
      run_wrk haproxy "$threads" "$r" "$ha_url" "$ha_pid"
      run_wrk gateway "$threads" "$r" "$gw_url" "$gw_pid"
    fi
  done
  # The gateway's own count of what it proxied, per track (sanity: ~95/5 of all loads).
  curl -s --max-time 5 "$gw_admin/metrics" | grep '^streamgate_gateway_requests_total' \
    >"$work/gateway-metrics-$threads.txt" || true
  # The streaming work it did (hls scenario): what it counted and the sessions it holds.
  curl -s --max-time 5 "$gw_admin/metrics" |
    grep -E '^streamgate_gateway_(segment_requests_total|cmcd_requests_total|cmcd_malformed_total|sessions_tracked|sessions_untracked_total|rebuffer_reports_total|throughput_reports_total)' \
    >"$work/gateway-stream-$threads.txt" || true
  stop_proxies
done

# --- idle clients --------------------------------------------------------------------
idle_results="$work/idle.tsv"
: >"$idle_results"
idle_round() { # target round
  local target="$1" round="$2" url pid cost
  if [[ "$target" == gateway ]]; then
    start_gateway 1
    url="http://127.0.0.1:$gw_port/" pid="$gw_pid"
  else
    ha_maxconn=$((idle_clients + 1000)) start_haproxy 1
    url="http://127.0.0.1:$ha_port/" pid="$ha_pid"
  fi
  split_check "$url" >/dev/null  # 200 keep-alive GETs: pools and caches are warm
  cost="$(idle_cost "$url" "$idle_clients" "$idle_settle" "$pid")"
  printf '%s\t%s\t%s\n' "$target" "$round" "$cost" >>"$idle_results"
  log "$(printf 'idle     %-8s round %s: %s KB per idle client (RSS %s -> %s kB)' "$target" "$round" $cost)"
  stop_proxies
}
if ((idle_clients > 0)); then
  log "idle: $idle_clients keep-alive clients, one GET each, then idle ${idle_settle}s; 1-thread proxies, fresh per round"
  for ((r = 1; r <= idle_rounds; r++)); do
    if ((r % 2 == 1)); then idle_round gateway "$r"; idle_round haproxy "$r"
    else idle_round haproxy "$r"; idle_round gateway "$r"; fi
  done
fi

# --- report ----------------------------------------------------------------------------
report_path
# shellcheck disable=SC2086 # one argument per thread count
gw_metrics_json="$(python3 - "$work" $proxy_threads_list <<'EOF'
import json, re, sys, os
work, threads = sys.argv[1], sys.argv[2:]
out = {}
for t in threads:
    p = os.path.join(work, f"gateway-metrics-{t}.txt")
    per = {}
    if os.path.exists(p):
        for line in open(p):
            m = re.match(r'\S+\{(.*)\}\s+(\S+)', line)
            if not m:
                continue
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            key = f"{labels.get('track', '?')}/{labels.get('code', '?')}"
            per[key] = per.get(key, 0) + int(float(m.group(2)))
    out[t] = per
print(json.dumps(out))
EOF
)"
# shellcheck disable=SC2086 # one argument per thread count
gw_stream_json="$(python3 - "$work" $proxy_threads_list <<'EOF'
import json, re, sys, os
work, threads = sys.argv[1], sys.argv[2:]
out = {}
for t in threads:
    p = os.path.join(work, f"gateway-stream-{t}.txt")
    per = {}
    if os.path.exists(p):
        for line in open(p):
            m = re.match(r'streamgate_gateway_(\w+?)(?:\{.*\})?\s+(\S+)', line)
            if m:
                per[m.group(1)] = per.get(m.group(1), 0) + int(float(m.group(2)))
    out[t] = per
print(json.dumps(out))
EOF
)"
set +e
python3 - "$results" "$splits" "$json_out" "$idle_results" <<EOF
import json, math, sys, platform, os
$(report_py backends)
results_path, splits_path, out_path, idle_path = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
runs = []
for line in open(results_path):
    target, threads, rnd, kv = line.rstrip("\n").split("\t")
    f = dict(x.split("=", 1) for x in kv.split())
    secs = int(f["duration_us"]) / 1e6
    reqs = max(int(f["requests"]), 1)
    tck = int(f["clk_tck"])
    runs.append({
        "target": target, "threads": None if threads == "-" else int(threads), "round": int(rnd),
        "requests": int(f["requests"]), "seconds": round(secs, 3),
        "req_per_s": round(int(f["requests"]) / secs, 1),
        **wrk_fields(f),
        # the proxy (gateway / haproxy, all threads) or, for direct, the one nginx backend
        "server_cpu_percent": round(100 * int(f["cpu_ticks"]) / tck / secs, 1),
        "server_cpu_us_per_request": round(1e6 * int(f["cpu_ticks"]) / tck / reqs, 2),
        # all three nginx backends together (masters + workers)
        "backends_cpu_us_per_request": round(1e6 * int(f["backend_cpu_ticks"]) / tck / reqs, 2),
        # whole host, all processes (wrk + proxy + backends + anything else), percent of one core
        "host_busy_percent": round(100 * int(f["host_busy_ticks"]) / tck / secs, 1),
        "host_steal_percent": round(100 * int(f["host_steal_ticks"]) / tck / secs, 1),
    })

best = best_rounds(runs, "target", "threads")

splits = {}
for line in open(splits_path):
    target, threads, counts = line.rstrip("\n").split("\t")
    s1, s2, c1 = (int(x) for x in counts.split())
    splits[f"{target}/{threads}"] = {"s1": s1, "s2": s2, "c1": c1, "of": 200}

thread_counts = sorted({r["threads"] for r in runs if r["threads"] is not None})
ratios, met = {}, {}
for t in thread_counts:
    g, h = best.get(("gateway", t)), best.get(("haproxy", t))
    if not (g and h):
        continue
    q = lambda a, b: round(a / b, 3) if b else None
    ratios[str(t)] = {
        "req_per_s": q(g["req_per_s"], h["req_per_s"]),
        "p50": q(g["p50_ms"], h["p50_ms"]),
        "p99": q(g["p99_ms"], h["p99_ms"]),
        # cost, not speed: > 1 means the gateway burns more CPU per request than HAProxy
        "cpu_per_request": q(g["server_cpu_us_per_request"], h["server_cpu_us_per_request"]),
    }

# Paired rounds: the gateway and HAProxy runs of one round are back to back, so their ratio
# cancels the host's slow drift (on a shared VM the same nginx backends burn +-20 % CPU per
# request from one minute to the next); the median over rounds is the goal's measure.
def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return None if n == 0 else (xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2)
def median_ci95(xs):
    # Distribution-free 95 % interval for the median: order statistics k and n+1-k, with k the
    # largest rank such that P(Binomial(n, 1/2) < k) <= 2.5 %. None below 6 rounds (too few).
    xs, n = sorted(xs), len(xs)
    k, below = 0, 0.0
    while below + math.comb(n, k) / 2 ** n <= 0.025:
        below += math.comb(n, k) / 2 ** n
        k += 1
    return None if k == 0 else [round(xs[k - 1], 3), round(xs[n - k], 3)]
pinned = {}
if os.path.exists(os.path.join(os.path.dirname(results_path), "pinned.tsv")):
    for line in open(os.path.join(os.path.dirname(results_path), "pinned.tsv")):
        t, v = line.split()
        pinned[t] = v == "1"
paired = {}
for t in thread_counts:
    by_round = {}
    for r in runs:
        if r["threads"] == t and r["target"] in ("gateway", "haproxy"):
            by_round.setdefault(r["round"], {})[r["target"]] = r
    pairs = [v for _, v in sorted(by_round.items()) if len(v) == 2]
    if not pairs:
        continue
    rps = [p["gateway"]["req_per_s"] / p["haproxy"]["req_per_s"] for p in pairs]
    p99 = [p["gateway"]["p99_ms"] / p["haproxy"]["p99_ms"] for p in pairs if p["haproxy"]["p99_ms"]]
    cpu = [p["gateway"]["server_cpu_us_per_request"] / p["haproxy"]["server_cpu_us_per_request"]
           for p in pairs if p["haproxy"]["server_cpu_us_per_request"]]
    paired[str(t)] = {
        "rounds": len(pairs),
        "req_per_s_median": round(median(rps), 3),
        "req_per_s_each": [round(x, 3) for x in rps],
        "req_per_s_median_ci95": median_ci95(rps),
        "gateway_faster_rounds": sum(1 for x in rps if x >= 1.0),
        "p99_median": round(median(p99), 3) if p99 else None,
        "p99_each": [round(x, 3) for x in p99],
        "p99_median_ci95": median_ci95(p99) if p99 else None,
        "gateway_p99_lower_rounds": sum(1 for x in p99 if x <= 1.0),
        "pinned": pinned.get(str(t), False),
        "cpu_per_request_median": round(median(cpu), 3) if cpu else None,
    }
for t in ratios:
    pr = paired.get(t)
    met[t] = {"req_per_s": pr is not None and pr["req_per_s_median"] >= 1.0,
              "p99": pr is not None and pr["p99_median"] is not None and pr["p99_median"] <= 1.0}

print()
if "$scenario" == "hls":
    print(f"scenario hls: HLS segment GETs with CMCD (sid, bl, mtp, ot, bs in 1/97) over {$hls_sessions} "
          f"sessions; haproxy: balance url_param token")
    for t, c in json.loads('''$gw_stream_json''').items():
        print(f"threads {t}: the gateway counted {c.get('segment_requests_total', 0)} segment requests, "
              f"{c.get('cmcd_requests_total', 0)} with CMCD ({c.get('cmcd_malformed_total', 0)} malformed), "
              f"{c.get('sessions_tracked', 0)} sessions held, {c.get('sessions_untracked_total', 0)} untracked")
hdr = (f"{'target':<8} {'threads':>7} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
       f"{'CPU%':>6} {'CPU us/req':>11} {'errors':>7}  split s1/s2/c1 of 200")
print(hdr)
print("-" * len(hdr))
order = [("direct", None)] + [(x, t) for t in thread_counts for x in ("gateway", "haproxy")]
for target, t in order:
    r = best.get((target, t))
    if not r:
        continue
    sp = splits.get(f"{target}/{t}")
    sps = f"{sp['s1']}/{sp['s2']}/{sp['c1']}" if sp else "-"
    print(f"{target:<8} {('-' if t is None else t):>7} {r['req_per_s']:>10.1f} {r['p50_ms']:>8.3f} "
          f"{r['p99_ms']:>8.3f} {r['server_cpu_percent']:>6.1f} {r['server_cpu_us_per_request']:>11.2f} "
          f"{r['errors']:>7}  {sps}")
print()
for t, rt in ratios.items():
    print(f"threads {t}: gateway/haproxy, best rounds   req/s {rt['req_per_s']:.3f}x   "
          f"p99 {rt['p99']:.3f}x   p50 {rt['p50']:.3f}x   CPU/req {rt['cpu_per_request']:.3f}x")
    pr = paired[t]
    print(f"threads {t}: gateway/haproxy, paired rounds (median of {pr['rounds']})   "
          f"req/s {pr['req_per_s_median']:.3f}x (goal >= 1.0: "
          f"{'met' if met[t]['req_per_s'] else 'MISSED'}; gateway faster in "
          f"{pr['gateway_faster_rounds']} of {pr['rounds']})   p99 {pr['p99_median']:.3f}x "
          f"(goal <= 1.0: {'met' if met[t]['p99'] else 'MISSED'}; gateway lower in "
          f"{pr['gateway_p99_lower_rounds']} of {pr['rounds']})   "
          f"CPU/req {pr['cpu_per_request_median']:.3f}x"
          f"{'   [pinned]' if pr['pinned'] else ''}")
    ci = lambda c: f"{c[0]:.3f}-{c[1]:.3f}" if c else "n/a (fewer than 6 rounds)"
    print(f"threads {t}: 95 % interval of those medians   req/s {ci(pr['req_per_s_median_ci95'])}   "
          f"p99 {ci(pr['p99_median_ci95'])}")
d = best.get(("direct", None))
if d:
    for t in thread_counts:
        g = best.get(("gateway", t))
        if g:
            print(f"threads {t}: gateway/direct   req/s {g['req_per_s'] / d['req_per_s']:.3f}x")
print("(CPU = the proxy process, all its threads; for direct the nginx backend. Table: best of")
print(" $rounds rounds. Paired: per round gateway/HAProxy, the two runs back to back in alternating")
print(" order, median over rounds; the goals are judged on it. All rounds are in the JSON.)")
steal = max(r["host_steal_percent"] for r in runs)
if steal > 10:
    print(f"WARNING: up to {steal}% of a core was stolen by the hypervisor during a run")
idle = idle_summary(idle_path, "gateway", "haproxy")
if idle:
    met["idle"] = {"kb_per_client": idle["ratio_median"] <= 1.0}
    print(f"idle: {$idle_clients} keep-alive clients, KB per client (median of {idle['rounds']}): "
          f"gateway {idle['ours_kb_median']:.2f}, haproxy {idle['peer_kb_median']:.2f}; "
          f"ratio {idle['ratio_median']:.3f}x (paired per round; goal <= 1.0: "
          f"{'met' if met['idle']['kb_per_client'] else 'MISSED'})")
busy_host_warnings()
errs = sum(r["errors"] for r in runs)
if errs:
    print(f"WARNING: wrk counted {errs} errors (non-2xx, timeouts, socket errors) over all runs")

doc = {
    "benchmark": "bench/gateway",
    "timestamp_utc": "$stamp",
    "host": host_doc("wrk, the proxy and three nginx backends share the same cores"),
    "versions": {"haproxy": """$("$haproxy_bin" -v 2>&1 | head -1)""", **tool_versions,
                 "gateway_binary": "$gateway_bin"},
    "config": {"scenario": "$scenario", "hls_sessions": $hls_sessions if "$scenario" == "hls" else None,
               "haproxy_balance": "$ha_balance",
               "wrk_threads": $wrk_threads, "connections": $conns,
               "duration_s": $duration_s, "warmup_s": $warmup_s, "rounds": $rounds,
               "proxy_threads": thread_counts,
               "pinning": "BENCH_PIN=$pin: at 2+ threads both proxies pin thread i to usable CPU i "
                          "(gateway cpu_affinity: auto, haproxy cpu-map 1/i)",
               "split": "stable 95 (s1,s2) / canary 5 (c1); haproxy: balance $ha_balance, weights 19/19/2",
               "backend_body": "ok <name>\\\\n (6 bytes), nginx worker_processes 1 each",
               "selection": "table: best round by req/s per target and thread count; goals: median "
                            "over rounds of the paired gateway/haproxy ratio (runs back to back, "
                            "order alternating per round)"},
    "best": {f"{t}/{'-' if n is None else n}": r for (t, n), r in best.items()},
    "ratios_gateway_over_haproxy": ratios,
    "paired_ratios_gateway_over_haproxy": paired,
    "goals": {"req_per_s": ">= 1.0", "p99": "<= 1.0"}, "goals_met": met,
    "split_check": splits,
    "gateway_requests_total": json.loads('''$gw_metrics_json'''),
    "gateway_streaming_counts": json.loads('''$gw_stream_json'''),
    "idle_clients": {"clients": $idle_clients, "settle_s": $idle_settle, **(idle or {})},
    "runs": runs,
}
write_doc(doc, out_path)
sys.exit(0 if all(v for m in met.values() for v in m.values()) else 3)
EOF
report_rc=$?
set -e
report_exit "$report_rc"
