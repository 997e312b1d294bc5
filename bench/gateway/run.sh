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
# For each proxy thread count (BENCH_PROXY_THREADS, "1 2"), both proxies are started with
# that many threads, warmed up, then measured BENCH_ROUNDS times each with the order
# alternating per round (round 1: gateway then haproxy, round 2: haproxy then gateway, ...);
# the reported figure per target is its best round by req/s (see bench/README.md). Both
# proxies are stopped before the next thread count, so an idle one never shares the CPU.
#
# Prints a table and writes bench/out/gateway-<UTC timestamp>.json. Starts only its own
# processes, stops exactly those (by PID) on exit and removes its temp dir.
#
# Environment (defaults in brackets):
#   SG_GATEWAY_BIN           gateway binary [<repo>/build/src/gateway/streamgate-gateway]
#   HAPROXY                  peer binary [haproxy on PATH]
#   NGINX                    backend binary [nginx on PATH]
#   BENCH_DURATION           seconds per measured wrk run, e.g. 10 or 10s [10s]
#   BENCH_WARMUP             seconds of unmeasured load per target before round 1 [2s]
#   BENCH_CONNECTIONS        wrk connections [64]
#   BENCH_THREADS            wrk threads [1]
#   BENCH_ROUNDS             measured runs per target and thread count [2]
#   BENCH_PROXY_THREADS      proxy thread counts to run, space-separated [1 2]
#   BENCH_DIRECT             1 = also measure wrk straight to one backend [1]
#   BENCH_OUT_DIR            where the JSON goes [<repo>/bench/out]
#   BENCH_ENFORCE            1 = exit 3 if a goal (req/s >= 1.0x, p99 <= 1.0x HAProxy) is missed [0]
#   BENCH_VERBOSE            1 = also print every raw wrk report to stderr [0]
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_dir="$(cd "$script_dir/../.." && pwd)"

seconds_of() { # "10s" | "10" -> 10
  local v="${1%s}"
  [[ "$v" =~ ^[0-9]+$ && "$v" -gt 0 ]] || { echo "run.sh: '$1' is not a whole number of seconds (e.g. 10 or 10s)" >&2; exit 2; }
  echo "$v"
}
whole_number() { # name value
  [[ "$2" =~ ^[0-9]+$ && "$2" -gt 0 ]] || { echo "run.sh: $1='$2' must be a positive integer" >&2; exit 2; }
  echo "$2"
}

duration_s="$(seconds_of "${BENCH_DURATION:-10s}")"
warmup_s="$(seconds_of "${BENCH_WARMUP:-2s}")"
conns="$(whole_number BENCH_CONNECTIONS "${BENCH_CONNECTIONS:-64}")"
wrk_threads="$(whole_number BENCH_THREADS "${BENCH_THREADS:-1}")"
rounds="$(whole_number BENCH_ROUNDS "${BENCH_ROUNDS:-2}")"
proxy_threads_list="${BENCH_PROXY_THREADS:-1 2}"
for t in $proxy_threads_list; do whole_number BENCH_PROXY_THREADS "$t" >/dev/null; done
[[ -n "${proxy_threads_list// /}" ]] || { echo "run.sh: BENCH_PROXY_THREADS is empty" >&2; exit 2; }
direct="${BENCH_DIRECT:-1}"
out_dir="${BENCH_OUT_DIR:-$repo_dir/bench/out}"
verbose="${BENCH_VERBOSE:-0}"

gateway_bin="${SG_GATEWAY_BIN:-$repo_dir/build/src/gateway/streamgate-gateway}"
haproxy_bin="${HAPROXY:-$(command -v haproxy || true)}"
nginx_bin="${NGINX:-$(command -v nginx || true)}"
[[ -x "$gateway_bin" ]] || { echo "run.sh: gateway binary '$gateway_bin' is not executable; build it or set SG_GATEWAY_BIN" >&2; exit 2; }
for tool in "$haproxy_bin" "$nginx_bin" wrk curl python3 timeout; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "run.sh: '${tool:-haproxy/nginx}' not found; run scripts/install-deps" >&2; exit 2; }
done

log() { printf '[bench/gateway] %s\n' "$*" >&2; }

clk_tck="$(getconf CLK_TCK)"
host_ticks() { # -> "busy steal" jiffies of the whole host since boot (all cores)
  local _cpu user nice sys _idle _iowait irq softirq steal _rest
  read -r _cpu user nice sys _idle _iowait irq softirq steal _rest </proc/stat
  echo "$((user + nice + sys + irq + softirq)) $steal"
}
host_busy_sample() { # -> "busy% steal%" of one core over the next second
  local b0 s0 b1 s1
  read -r b0 s0 <<<"$(host_ticks)"; sleep 1; read -r b1 s1 <<<"$(host_ticks)"
  echo "$(((b1 - b0) * 100 / clk_tck)) $(((s1 - s0) * 100 / clk_tck))"
}

# Other work on the host (builds, other benchmarks) skews every number; say so up front,
# measured before this script starts anything.
read -r idle_busy_pct idle_steal_pct <<<"$(host_busy_sample)"
if ((idle_busy_pct > 20 || idle_steal_pct > 20)); then
  log "WARNING: before anything started the host is ${idle_busy_pct}% busy, ${idle_steal_pct}% stolen (of one core);"
  log "WARNING: something else is running here, so these numbers are not representative."
fi

# --- processes we start, and cleanup ------------------------------------------------
work="$(mktemp -d /tmp/streamgate-bench-gateway.XXXXXX)"
chmod 0755 "$work" # nginx workers drop to 'nobody' when started as root
pids=()
wrk_pid=

# shellcheck disable=SC2317 # stop_pid and cleanup run from the EXIT trap
stop_pid() { # pid: TERM, up to 10 s, then KILL; only ever a PID this script started
  local pid="$1" i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid ignored SIGTERM for 10 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
forget_pid() { # pid: drop from the cleanup list once stopped
  local p keep=()
  for p in "${pids[@]}"; do [[ "$p" == "$1" ]] || keep+=("$p"); done
  pids=("${keep[@]}")
}
# shellcheck disable=SC2317
cleanup() {
  local rc=$? pid
  [[ -n "${wrk_pid:-}" ]] && stop_pid "$wrk_pid" # timeout(1) passes SIGTERM on to wrk
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_ports() { # n -> n distinct free loopback ports, one per line
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print("\n".join(str(s.getsockname()[1]) for s in socks))
EOF
}

wait_http() { # url name pid: up to 15 s for a 200
  local url="$1" name="$2" pid="$3" i
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || { log "$name exited during start-up; its log:"; cat "$work/$name.log" >&2; exit 1; }
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true)" == 200 ]]; then return 0; fi
    sleep 0.1
  done
  log "$name did not answer 200 on $url within 15 s; its log:"; cat "$work/$name.log" >&2
  exit 1
}

# --- nginx backends ---------------------------------------------------------------------
backends=(s1 s2 c1)
declare -A be_port be_pid
mapfile -t ports < <(free_ports 3)
for i in 0 1 2; do be_port[${backends[$i]}]="${ports[$i]}"; done

start_backend() { # name
  local name="$1" d="$work/nginx-$1"
  mkdir -p "$d/logs" "$d/tmp"/{body,proxy,fastcgi,uwsgi,scgi}
  # Every backend answers every path (the health check's /ready included) with a 200 and
  # a 6-byte body naming it, so the split can be checked from the bodies alone.
  cat >"$d/nginx.conf" <<EOF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  tcp_nodelay on;
  keepalive_timeout 65s;
  keepalive_requests 10000000;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  default_type text/plain;
  server {
    listen 127.0.0.1:${be_port[$name]};
    location / { return 200 "ok $name\n"; }
  }
}
EOF
  chmod -R a+rX "$d"
  "$nginx_bin" -p "$d" -c "$d/nginx.conf" -g 'daemon off; master_process on;' >"$work/nginx-$name.log" 2>&1 &
  be_pid[$name]=$!
  pids+=("${be_pid[$name]}")
}
for b in "${backends[@]}"; do start_backend "$b"; done
for b in "${backends[@]}"; do wait_http "http://127.0.0.1:${be_port[$b]}/" "nginx-$b" "${be_pid[$b]}"; done
log "nginx backends: s1 :${be_port[s1]} (pid ${be_pid[s1]}), s2 :${be_port[s2]} (pid ${be_pid[s2]}), c1 :${be_port[c1]} (pid ${be_pid[c1]})"

# --- proxies ------------------------------------------------------------------------------
admin_token="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
gw_pid=
ha_pid=
gw_port=
ha_port=

start_gateway() { # threads
  local threads="$1" admin_port
  mapfile -t ports < <(free_ports 2)
  gw_port="${ports[0]}"; admin_port="${ports[1]}"
  # Timeouts, health check and balance are the gateway's defaults, spelled out so the
  # HAProxy config below can be read against them.
  cat >"$work/gateway.yaml" <<EOF
listen: 127.0.0.1:$gw_port
admin: { listen: 127.0.0.1:$admin_port, token_env: STREAMGATE_ADMIN_TOKEN }
threads: $threads
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

start_haproxy() { # threads
  local threads="$1"
  mapfile -t ports < <(free_ports 1)
  ha_port="${ports[0]}"
  # Same job as the gateway config above: keep-alive on both sides with idle upstream
  # connections shared across clients (http-reuse always ~ the gateway's per-worker pools),
  # the same timeouts, GET /ready health checks every 1 s (rise/fall 2), one retry on
  # another server, no logging.
  cat >"$work/haproxy.cfg" <<EOF
global
  nbthread $threads
  maxconn 4096
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
  balance roundrobin
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
cat >"$work/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT requests=%d duration_us=%d bytes=%d p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f " ..
    "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
EOF

cpu_ticks() { # pid... -> utime+stime of the pids and their direct children (nginx workers)
  local total=0 p f top
  for top in "$@"; do
    for p in "$top" $(ps -o pid= --ppid "$top" 2>/dev/null); do
      f="$(cat "/proc/$p/stat" 2>/dev/null)" || continue
      f="${f##*) }" # fields from 3 on; utime/stime are fields 14/15 -> 12th/13th here
      read -r -a fs <<<"$f"
      total=$((total + fs[11] + fs[12]))
    done
  done
  echo "$total"
}

results="$work/results.tsv"
splits="$work/splits.tsv"
: >"$results"
: >"$splits"
run_wrk() { # target threads round url pid
  local target="$1" threads="$2" round="$3" url="$4" pid="$5"
  local secs="$duration_s" out c0 c1 b0 b1 line h0 h1 st0 st1
  [[ "$round" == warmup ]] && secs="$warmup_s"
  out="$work/wrk-$target-$threads-$round.txt"
  c0="$(cpu_ticks "$pid")"
  b0="$(cpu_ticks "${be_pid[@]}")"
  read -r h0 st0 <<<"$(host_ticks)"
  # In the background and waited for, so a signal runs the cleanup trap at once (and it
  # stops this wrk too) instead of after the run.
  timeout "$((secs + 60))" wrk -t"$wrk_threads" -c"$conns" -d"${secs}s" --timeout 10s \
    --latency -s "$work/report.lua" "$url" >"$out" 2>&1 &
  wrk_pid=$!
  if ! wait "$wrk_pid"; then
    log "wrk failed against $url:"; cat "$out" >&2; exit 1
  fi
  wrk_pid=
  c1="$(cpu_ticks "$pid")"
  b1="$(cpu_ticks "${be_pid[@]}")"
  read -r h1 st1 <<<"$(host_ticks)"
  [[ "$verbose" == 1 ]] && { log "wrk $target/$threads round $round:"; cat "$out" >&2; }
  [[ "$round" == warmup ]] && return 0
  line="$(grep '^WRK_RESULT ' "$out")" || { log "no WRK_RESULT in wrk output:"; cat "$out" >&2; exit 1; }
  printf '%s\t%s\t%s\t%s cpu_ticks=%s backend_cpu_ticks=%s clk_tck=%s host_busy_ticks=%s host_steal_ticks=%s\n' \
    "$target" "$threads" "$round" "${line#WRK_RESULT }" "$((c1 - c0))" "$((b1 - b0))" "$clk_tck" \
    "$((h1 - h0))" "$((st1 - st0))" >>"$results"
  log "$(printf '%-8s threads %s round %s: %s' "$target" "$threads" "$round" \
    "$(grep -E '^Requests/sec|^ +50%|^ +99%' "$out" | tr -s ' ' | tr '\n' ' ')")"
}

read -r pre_busy_pct pre_steal_pct <<<"$(host_busy_sample)"
log "host before load: ${pre_busy_pct}% busy, ${pre_steal_pct}% stolen (of one core; backends idle)"
log "wrk -t$wrk_threads -c$conns, warm-up ${warmup_s}s per target, then $rounds x ${duration_s}s per target"

if [[ "$direct" == 1 ]]; then
  direct_url="http://127.0.0.1:${be_port[s1]}/"
  run_wrk direct - warmup "$direct_url" "${be_pid[s1]}"
  for ((r = 1; r <= rounds; r++)); do run_wrk direct - "$r" "$direct_url" "${be_pid[s1]}"; done
fi

for threads in $proxy_threads_list; do
  start_gateway "$threads"
  start_haproxy "$threads"
  log "threads $threads: gateway pid $gw_pid on :$gw_port, haproxy pid $ha_pid on :$ha_port"
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
  stop_proxies
done

# --- report ----------------------------------------------------------------------------
mkdir -p "$out_dir"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
json_out="$out_dir/gateway-$stamp.json"
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
set +e
python3 - "$results" "$splits" "$json_out" <<EOF
import json, sys, platform, os
results_path, splits_path, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
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
        "p50_ms": round(float(f["p50_us"]) / 1000, 3),
        "p90_ms": round(float(f["p90_us"]) / 1000, 3),
        "p99_ms": round(float(f["p99_us"]) / 1000, 3),
        "max_ms": round(float(f["max_us"]) / 1000, 3),
        "errors": sum(int(f[k]) for k in f if k.startswith("err_")),
        "errors_detail": {k[4:]: int(f[k]) for k in f if k.startswith("err_")},
        # the proxy (gateway / haproxy, all threads) or, for direct, the one nginx backend
        "server_cpu_percent": round(100 * int(f["cpu_ticks"]) / tck / secs, 1),
        "server_cpu_us_per_request": round(1e6 * int(f["cpu_ticks"]) / tck / reqs, 2),
        # all three nginx backends together (masters + workers)
        "backends_cpu_us_per_request": round(1e6 * int(f["backend_cpu_ticks"]) / tck / reqs, 2),
        # whole host, all processes (wrk + proxy + backends + anything else), percent of one core
        "host_busy_percent": round(100 * int(f["host_busy_ticks"]) / tck / secs, 1),
        "host_steal_percent": round(100 * int(f["host_steal_ticks"]) / tck / secs, 1),
    })

best = {}
for r in runs:
    key = (r["target"], r["threads"])
    if key not in best or r["req_per_s"] > best[key]["req_per_s"]:
        best[key] = r

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
    met[str(t)] = {"req_per_s": ratios[str(t)]["req_per_s"] >= 1.0,
                   "p99": ratios[str(t)]["p99"] is not None and ratios[str(t)]["p99"] <= 1.0}

print()
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
    print(f"threads {t}: gateway/haproxy  req/s {rt['req_per_s']:.3f}x (goal >= 1.0: "
          f"{'met' if met[t]['req_per_s'] else 'MISSED'})   p99 {rt['p99']:.3f}x (goal <= 1.0: "
          f"{'met' if met[t]['p99'] else 'MISSED'})   p50 {rt['p50']:.3f}x   CPU/req {rt['cpu_per_request']:.3f}x")
d = best.get(("direct", None))
if d:
    for t in thread_counts:
        g = best.get(("gateway", t))
        if g:
            print(f"threads {t}: gateway/direct   req/s {g['req_per_s'] / d['req_per_s']:.3f}x")
print("(CPU = the proxy process, all its threads; for direct the nginx backend; best of $rounds rounds,")
print(" alternating order; all rounds are in the JSON)")
steal = max(r["host_steal_percent"] for r in runs)
if steal > 10:
    print(f"WARNING: up to {steal}% of a core was stolen by the hypervisor during a run")
if $idle_busy_pct > 20:
    print("WARNING: the host was busy before the benchmark started ($idle_busy_pct% of a core); numbers are skewed")
if $pre_busy_pct > 20:
    print("WARNING: the host was busy right before the first load ($pre_busy_pct% of a core, backends idle)")
errs = sum(r["errors"] for r in runs)
if errs:
    print(f"WARNING: wrk counted {errs} errors (non-2xx, timeouts, socket errors) over all runs")

doc = {
    "benchmark": "bench/gateway",
    "timestamp_utc": "$stamp",
    "host": {"nproc": os.cpu_count(), "kernel": platform.release(),
             "busy_percent_before_start": $idle_busy_pct, "steal_percent_before_start": $idle_steal_pct,
             "busy_percent_before_load": $pre_busy_pct, "steal_percent_before_load": $pre_steal_pct,
             "note": "wrk, the proxy and three nginx backends share the same cores"},
    "versions": {"haproxy": """$("$haproxy_bin" -v 2>&1 | head -1)""",
                 "nginx": """$("$nginx_bin" -v 2>&1 | head -1)""",
                 "wrk": """$(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)""",
                 "gateway_binary": "$gateway_bin"},
    "config": {"wrk_threads": $wrk_threads, "connections": $conns,
               "duration_s": $duration_s, "warmup_s": $warmup_s, "rounds": $rounds,
               "proxy_threads": thread_counts,
               "split": "stable 95 (s1,s2) / canary 5 (c1); haproxy: balance roundrobin, weights 19/19/2",
               "backend_body": "ok <name>\\\\n (6 bytes), nginx worker_processes 1 each",
               "selection": "best round by req/s per target and thread count; order alternates per round"},
    "best": {f"{t}/{'-' if n is None else n}": r for (t, n), r in best.items()},
    "ratios_gateway_over_haproxy": ratios,
    "goals": {"req_per_s": ">= 1.0", "p99": "<= 1.0"}, "goals_met": met,
    "split_check": splits,
    "gateway_requests_total": json.loads('''$gw_metrics_json'''),
    "runs": runs,
}
with open(out_path, "w") as fh:
    json.dump(doc, fh, indent=2)
    fh.write("\n")
print(f"\nwrote {out_path}")
sys.exit(0 if all(v for m in met.values() for v in m.values()) else 3)
EOF
report_rc=$?
set -e
if [[ "$report_rc" -ne 0 && "$report_rc" -ne 3 ]]; then exit "$report_rc"; fi
if [[ "$report_rc" -eq 3 && "${BENCH_ENFORCE:-0}" == 1 ]]; then exit 3; fi
exit 0
