# bench/lib.sh — helpers shared by every bench/<component>/run.sh; sourced, never run.
#
# The sourcing script sets `bench_name` (server, gateway, ...) first: it is the log prefix
# ([bench/<name>]), the temp dir's name and the JSON file's prefix. Sourcing only defines
# functions (and clk_tck); nothing starts until the script calls them. The helpers share
# these globals with the script: work, pids, wrk_pid (bench_start_work), nginx_bin,
# wrk_threads, verbose, out_dir.
# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154 # globals shared with the sourcing script, both ways

: "${bench_name:?set bench_name before sourcing bench/lib.sh}"

# --- settings ------------------------------------------------------------------------
seconds_of() { # "10s" | "10" -> 10
  local v="${1%s}"
  [[ "$v" =~ ^[0-9]+$ && "$v" -gt 0 ]] || { echo "run.sh: '$1' is not a whole number of seconds (e.g. 10 or 10s)" >&2; exit 2; }
  echo "$v"
}
whole_number() { # name value
  [[ "$2" =~ ^[0-9]+$ && "$2" -gt 0 ]] || { echo "run.sh: $1='$2' must be a positive integer" >&2; exit 2; }
  echo "$2"
}

bench_settings() { # -> duration_s, warmup_s, out_dir, verbose (the knobs every benchmark has)
  duration_s="$(seconds_of "${BENCH_DURATION:-10s}")"
  warmup_s="$(seconds_of "${BENCH_WARMUP:-2s}")"
  out_dir="${BENCH_OUT_DIR:-$repo_dir/bench/out}"
  verbose="${BENCH_VERBOSE:-0}"
}

log() { printf '[bench/%s] %s\n' "$bench_name" "$*" >&2; }

# --- how busy the host is ----------------------------------------------------------------
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
# measured before the script starts anything. Sets idle_busy_pct, idle_steal_pct.
check_idle_host() {
  read -r idle_busy_pct idle_steal_pct <<<"$(host_busy_sample)"
  if ((idle_busy_pct > 20 || idle_steal_pct > 20)); then
    log "WARNING: before anything started the host is ${idle_busy_pct}% busy, ${idle_steal_pct}% stolen (of one core);"
    log "WARNING: something else is running here, so these numbers are not representative."
  fi
}

sample_host_before_load() { # what-is-idle -> sets pre_busy_pct, pre_steal_pct and logs them
  read -r pre_busy_pct pre_steal_pct <<<"$(host_busy_sample)"
  log "host before load: ${pre_busy_pct}% busy, ${pre_steal_pct}% stolen (of one core; $1 idle)"
}

# --- processes we start, and cleanup ------------------------------------------------
bench_start_work() { # temp dir, PID list and the cleanup traps
  work="$(mktemp -d "/tmp/streamgate-bench-$bench_name.XXXXXX")"
  chmod 0755 "$work" # nginx workers drop to 'nobody' when started as root
  pids=()
  wrk_pid=
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

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
# shellcheck disable=SC2317 # runs from the EXIT trap
cleanup() {
  local rc=$? pid
  [[ -n "${wrk_pid:-}" ]] && stop_pid "$wrk_pid" # timeout(1) passes SIGTERM on to wrk
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
  rm -rf "$work"
  exit "$rc"
}

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

random_token() { echo "bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"; }

# --- nginx ---------------------------------------------------------------------------
nginx_dirs() { # prefix [more dirs...]: the prefix's logs/ and tmp/ (and the others)
  mkdir -p "$@" "$1/logs" "$1/tmp"/{body,proxy,fastcgi,uwsgi,scgi}
}
nginx_conf_head() { # prefix worker_processes -> nginx.conf up to inside http{}, which the caller closes
  cat <<EOF
worker_processes $2;
pid $1/nginx.pid;
error_log $1/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  tcp_nodelay on;
  keepalive_timeout 65s;
  keepalive_requests 10000000;
  client_body_temp_path $1/tmp/body;
  proxy_temp_path $1/tmp/proxy;
  fastcgi_temp_path $1/tmp/fastcgi;
  uwsgi_temp_path $1/tmp/uwsgi;
  scgi_temp_path $1/tmp/scgi;
EOF
}
start_nginx() { # prefix logfile: nginx on prefix/nginx.conf in the background; sets started_pid
  "$nginx_bin" -p "$1" -c "$1/nginx.conf" -g 'daemon off; master_process on;' >"$2" 2>&1 &
  started_pid=$!
  pids+=("$started_pid")
}

# --- load ----------------------------------------------------------------------------
write_report_lua() { # -> $work/report.lua, which makes wrk print one WRK_RESULT line
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
}

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

wrk_bounded() { # url connections seconds outfile [script]: one wrk run, bounded by timeout(1)
  local url="$1" conns="$2" secs="$3" out="$4" script="${5:-$work/report.lua}"
  # In the background and waited for, so a signal runs the cleanup trap at once (and it
  # stops this wrk too) instead of after the run.
  timeout "$((secs + 60))" wrk -t"$wrk_threads" -c"$conns" -d"${secs}s" --timeout 10s \
    --latency -s "$script" "$url" >"$out" 2>&1 &
  wrk_pid=$!
  if ! wait "$wrk_pid"; then
    log "wrk failed against $url:"; cat "$out" >&2; exit 1
  fi
  wrk_pid=
}
log_wrk_verbose() { # label outfile: the raw wrk report, with BENCH_VERBOSE=1
  [[ "$verbose" == 1 ]] || return 0
  log "wrk $1:"; cat "$2" >&2
}
wrk_result() { # outfile -> its WRK_RESULT fields ("requests=... err_timeout=...")
  local line
  line="$(grep '^WRK_RESULT ' "$1")" || { log "no WRK_RESULT in wrk output:"; cat "$1" >&2; exit 1; }
  echo "${line#WRK_RESULT }"
}

# --- idle clients ------------------------------------------------------------------------
rss_kb() { # pid... -> summed VmRSS in kB of the pids and their direct children (nginx workers)
  local total=0 p top v
  for top in "$@"; do
    for p in "$top" $(ps -o pid= --ppid "$top" 2>/dev/null); do
      v="$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)"
      total=$((total + ${v:-0}))
    done
  done
  echo "$total"
}

# What an idle keep-alive client costs a server: `count` clients (bench/idle_clients.py) each
# make one GET of `url` and stay connected; the server's resident memory (all its processes)
# is read before they connect and `settle` seconds after the last got its answer.
# Prints "kb_per_client rss_before_kb rss_after_kb". The clients are stopped before return.
idle_cost() { # url count settle_s pid...
  local url="$1" count="$2" settle="$3" before after holder i
  shift 3
  before="$(rss_kb "$@")"
  python3 "$repo_dir/bench/idle_clients.py" "$url" "$count" --hold 300 >"$work/idle.out" \
    2>"$work/idle.err" &
  holder=$!
  pids+=("$holder")
  for ((i = 0; i < 1200; i++)); do
    grep -q '^READY' "$work/idle.out" 2>/dev/null && break
    if ! kill -0 "$holder" 2>/dev/null; then
      log "idle clients failed against $url: $(cat "$work/idle.err")"; exit 1
    fi
    sleep 0.1
  done
  grep -q '^READY' "$work/idle.out" || { log "idle clients not ready within 120 s"; exit 1; }
  sleep "$settle"
  after="$(rss_kb "$@")"
  stop_pid "$holder"
  forget_pid "$holder"
  python3 -c "import sys; b, a, n = map(int, sys.argv[1:]); print(f'{(a - b) / n:.3f} {b} {a}')" \
    "$before" "$after" "$count"
}

# Descriptors for the idle clients (and the servers, which inherit the limit).
raise_fd_limit() {
  local hard
  hard="$(ulimit -Hn)"
  [[ "$hard" == unlimited ]] && hard=1048576
  ulimit -n "$hard" 2>/dev/null || true
}

# --- report ----------------------------------------------------------------------------
report_path() { # -> sets stamp and json_out (out_dir/<bench_name>-<UTC stamp>.json)
  mkdir -p "$out_dir"
  stamp="$(date -u +%Y%m%dT%H%M%SZ)"
  json_out="$out_dir/$bench_name-$stamp.json"
}
report_py() { # what-was-idle -> Python for the report heredoc: the shared parts of the JSON
  cat <<EOF
def wrk_fields(f):  # latencies and errors of one WRK_RESULT line, in the JSON's order
    return {
        "p50_ms": round(float(f["p50_us"]) / 1000, 3),
        "p90_ms": round(float(f["p90_us"]) / 1000, 3),
        "p99_ms": round(float(f["p99_us"]) / 1000, 3),
        "max_ms": round(float(f["max_us"]) / 1000, 3),
        "errors": sum(int(f[k]) for k in f if k.startswith("err_")),
        "errors_detail": {k[4:]: int(f[k]) for k in f if k.startswith("err_")},
    }

def best_rounds(runs, *key_fields):  # the best round by req/s per key
    best = {}
    for r in runs:
        key = tuple(r[k] for k in key_fields)
        if key not in best or r["req_per_s"] > best[key]["req_per_s"]:
            best[key] = r
    return best

def busy_host_warnings():
    if $idle_busy_pct > 20:
        print("WARNING: the host was busy before the benchmark started ($idle_busy_pct% of a core); numbers are skewed")
    if $pre_busy_pct > 20:
        print("WARNING: the host was busy right before the first load ($pre_busy_pct% of a core, $1 idle)")

def host_doc(note):
    return {"nproc": os.cpu_count(), "kernel": platform.release(),
            "busy_percent_before_start": $idle_busy_pct, "steal_percent_before_start": $idle_steal_pct,
            "busy_percent_before_load": $pre_busy_pct, "steal_percent_before_load": $pre_steal_pct,
            "note": note}

tool_versions = {"nginx": """$("$nginx_bin" -v 2>&1 | head -1)""",
                 "wrk": """$(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"""}

def idle_summary(path, ours, peer):  # the idle workload: KB per client, medians, paired ratio
    rows = {}
    for line in open(path):
        target, rnd, kb, before, after = line.split()
        rows.setdefault(int(rnd), {})[target] = {"kb_per_client": float(kb), "rss_before_kb": int(before),
                                                 "rss_after_kb": int(after)}
    pairs = [r for r in rows.values() if ours in r and peer in r]
    if not pairs:
        return None
    med = lambda xs: sorted(xs)[len(xs) // 2] if len(xs) % 2 else sum(sorted(xs)[len(xs) // 2 - 1:len(xs) // 2 + 1]) / 2
    ratios = [r[ours]["kb_per_client"] / r[peer]["kb_per_client"] for r in pairs if r[peer]["kb_per_client"] > 0]
    return {"rounds": len(pairs),
            "ours_kb_median": med([r[ours]["kb_per_client"] for r in pairs]),
            "peer_kb_median": med([r[peer]["kb_per_client"] for r in pairs]),
            "ratio_median": med(ratios) if ratios else float("inf"),
            "per_round": {str(k): v for k, v in sorted(rows.items())}}

def write_doc(doc, out_path):
    with open(out_path, "w") as fh:
        json.dump(doc, fh, indent=2)
        fh.write("\n")
    print(f"\nwrote {out_path}")
EOF
}
report_exit() { # report's exit status: 0 ran, 3 goal missed (fatal with BENCH_ENFORCE=1)
  if [[ "$1" -ne 0 && "$1" -ne 3 ]]; then exit "$1"; fi
  if [[ "$1" -eq 3 && "${BENCH_ENFORCE:-0}" == 1 ]]; then exit 3; fi
  exit 0
}
