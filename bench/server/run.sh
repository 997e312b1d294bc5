#!/usr/bin/env bash
# bench/server/run.sh — streamgate-server against nginx, side by side, in one run.
#
# Workloads (each target gets the same bytes, on loopback, keep-alive):
#   json   GET /api/v1/content/{id} (in-process cache hit) vs nginx serving a static
#          file holding exactly that response body (Content-Type application/json).
#   media  GET /api/v1/content/{id}/media of a random file (sendfile) vs nginx serving
#          a copy of the same file (sendfile on).
#   hls    HLS segment GETs: the byte ranges (init section and every segment, in turn) that
#          the signed media playlist of an uploaded clip names, of streamgate's fMP4, with
#          the playback token (checked, and the session counted, on every request) vs nginx
#          serving a copy of the same fMP4 with the same Range headers. The clip is made
#          with ffmpeg (BENCH_HLS_SECONDS of 640x360 H.264 at ~2.5 Mbit/s + AAC).
#
# Every workload runs BENCH_ROUNDS times per target with the target order alternating
# per round (round 1: streamgate then nginx, round 2: nginx then streamgate, ...); the
# reported figure per target is its best round by req/s (see bench/README.md).
#
# Prints a table and writes bench/out/server-<UTC timestamp>.json. Starts only its own
# processes, stops exactly those (by PID) on exit and removes its temp dir.
#
# Environment (defaults in brackets):
#   STREAMGATE_SERVER        server binary [first of build, build-release]
#   NGINX                    nginx binary [nginx on PATH]
#   BENCH_DURATION           seconds per measured wrk run, e.g. 10 or 10s [10s]
#   BENCH_WARMUP             seconds of unmeasured load per target before round 1 [2s]
#   BENCH_CONNECTIONS        wrk connections for the JSON GET [32]
#   BENCH_MEDIA_CONNECTIONS  wrk connections for the media GET [4]
#   BENCH_THREADS            wrk threads [1]
#   BENCH_ROUNDS             measured runs per target and workload [2]
#   BENCH_MEDIA_MIB          media file size in MiB [64]
#   BENCH_HLS_CONNECTIONS    wrk connections for the HLS segment GETs [16]
#   BENCH_HLS_SECONDS        length of the HLS clip in seconds [40]
#   BENCH_SERVER_THREADS     streamgate --threads and nginx worker_processes [2]
#   BENCH_SERVER_ARGS        extra streamgate-server flags (word-split) []
#   BENCH_OUT_DIR            where the JSON goes [<repo>/bench/out]
#   BENCH_ENFORCE            1 = exit 3 if a goal (JSON >= 0.6x, media >= 0.8x, HLS >= 0.8x)
#                            is missed [0]
#   BENCH_WORKLOADS          which workloads, space-separated [json media hls]
#   BENCH_NGINX_HTTP_EXTRA   extra directives for nginx's http{} block, for experiments []
#   BENCH_VERBOSE            1 = also print every raw wrk report to stderr [0]
#   BENCH_IDLE_CLIENTS       idle keep-alive clients of the idle workload; 0 skips it [4000]
#   BENCH_IDLE_ROUNDS        idle rounds, each on a fresh 1-thread server and 1-worker nginx [3]
#   BENCH_IDLE_SETTLE        seconds between the last client's answer and the reading [2]
#
# Idle workload: BENCH_IDLE_CLIENTS keep-alive clients each make the JSON GET and stay
# connected; the server's resident memory grown per client (all its processes) is its cost of
# an idle viewer (median over rounds, order alternating; goal <= 1.0x nginx).
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_dir="$(cd "$script_dir/../.." && pwd)"

bench_name=server
# shellcheck source=bench/lib.sh
source "$script_dir/../lib.sh"

bench_settings
json_conns="$(whole_number BENCH_CONNECTIONS "${BENCH_CONNECTIONS:-32}")"
media_conns="$(whole_number BENCH_MEDIA_CONNECTIONS "${BENCH_MEDIA_CONNECTIONS:-4}")"
wrk_threads="$(whole_number BENCH_THREADS "${BENCH_THREADS:-1}")"
rounds="$(whole_number BENCH_ROUNDS "${BENCH_ROUNDS:-2}")"
media_mib="$(whole_number BENCH_MEDIA_MIB "${BENCH_MEDIA_MIB:-64}")"
server_threads="$(whole_number BENCH_SERVER_THREADS "${BENCH_SERVER_THREADS:-2}")"
hls_conns="$(whole_number BENCH_HLS_CONNECTIONS "${BENCH_HLS_CONNECTIONS:-16}")"
hls_seconds="$(whole_number BENCH_HLS_SECONDS "${BENCH_HLS_SECONDS:-40}")"
workloads="${BENCH_WORKLOADS:-json media hls}"
for w in $workloads; do
  [[ "$w" == json || "$w" == media || "$w" == hls ]] || {
    echo "run.sh: BENCH_WORKLOADS: unknown workload '$w' (json, media, hls)" >&2; exit 2; }
done
idle_clients="${BENCH_IDLE_CLIENTS:-4000}"
[[ "$idle_clients" =~ ^[0-9]+$ ]] || { echo "run.sh: BENCH_IDLE_CLIENTS must be a whole number" >&2; exit 2; }
idle_rounds="$(whole_number BENCH_IDLE_ROUNDS "${BENCH_IDLE_ROUNDS:-3}")"
idle_settle="$(whole_number BENCH_IDLE_SETTLE "${BENCH_IDLE_SETTLE:-2}")"
raise_fd_limit

find_server() {
  if [[ -n "${STREAMGATE_SERVER:-}" ]]; then echo "$STREAMGATE_SERVER"; return; fi
  local d
  for d in build build-release; do
    if [[ -x "$repo_dir/$d/src/server/streamgate-server" ]]; then
      echo "$repo_dir/$d/src/server/streamgate-server"; return
    fi
  done
  echo "run.sh: no streamgate-server found; build it or set STREAMGATE_SERVER" >&2
  exit 2
}
server_bin="$(find_server)"
nginx_bin="${NGINX:-$(command -v nginx || true)}"
[[ -x "$server_bin" ]] || { echo "run.sh: STREAMGATE_SERVER '$server_bin' is not executable" >&2; exit 2; }
for tool in "$nginx_bin" wrk curl python3 timeout ffmpeg; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "run.sh: '${tool:-nginx}' not found; run scripts/install-deps" >&2; exit 2; }
done

check_idle_host

# --- processes we start, and cleanup ------------------------------------------------
bench_start_work

mapfile -t ports < <(free_ports 2)
sg_port="${ports[0]}"
ng_port="${ports[1]}"
token="$(random_token)"
playback_key="bench:$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# --- streamgate-server --------------------------------------------------------------
mkdir -p "$work/sg/media"
# shellcheck disable=SC2086 # BENCH_SERVER_ARGS is deliberately word-split
STREAMGATE_PLAYBACK_KEYS="$playback_key" "$server_bin" --listen "127.0.0.1:$sg_port" --storage "sqlite:$work/sg/streamgate.db" \
  --cache memory --media-dir "$work/sg/media" --api-token "$token" \
  --threads "$server_threads" --access-log false --log-level warn \
  --drain-delay 0 --grace-period 2 ${BENCH_SERVER_ARGS:-} >"$work/streamgate.log" 2>&1 &
# (playback signing on: the key comes through the environment, as in production)
sg_pid=$!
pids+=("$sg_pid")

# --- nginx --------------------------------------------------------------------------
ng="$work/nginx"
nginx_dirs "$ng" "$ng/www"
chmod -R a+rX "$ng"
{
  nginx_conf_head "$ng" "$server_threads"
  cat <<EOF
  sendfile on;
  tcp_nopush on;
  open_file_cache max=64 inactive=60s;
  open_file_cache_valid 60s;
  types { application/json json; application/octet-stream bin; video/mp4 mp4; }
  ${BENCH_NGINX_HTTP_EXTRA:-}
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$ng_port;
    root $ng/www;
    location / { }
  }
}
EOF
} >"$ng/nginx.conf"
start_nginx "$ng" "$work/nginx.log"
ng_pid="$started_pid"

sg_base="http://127.0.0.1:$sg_port"
ng_base="http://127.0.0.1:$ng_port"
echo '{}' >"$ng/www/ready.json"
wait_http "$sg_base/health" streamgate "$sg_pid"
wait_http "$ng_base/ready.json" nginx "$ng_pid"
log "streamgate-server pid $sg_pid on $sg_base ($server_bin); nginx pid $ng_pid on $ng_base"

# --- fixtures: identical bytes on both sides -----------------------------------------
create_item() { # title -> id
  local body
  body="$(curl -sS --fail-with-body --max-time 10 -X POST -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d "{\"title\":\"$1\"}" "$sg_base/api/v1/content")"
  python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$body"
}
json_id="$(create_item 'bench json item')"
media_id="$(create_item 'bench media item')"

# Warm the cache and copy exactly the bytes streamgate answers into nginx's root.
curl -sS --fail --max-time 10 -o "$ng/www/content.json" "$sg_base/api/v1/content/$json_id"
chmod 0644 "$ng/www/content.json"
ng_type="$(curl -sS --fail --max-time 10 -o "$work/ng.json" -w '%{content_type}' "$ng_base/content.json")"
cmp -s "$ng/www/content.json" "$work/ng.json" || { log "nginx JSON body differs from streamgate's"; exit 1; }
[[ "$ng_type" == application/json* ]] || { log "nginx serves content.json as '$ng_type'"; exit 1; }

if [[ " $workloads " == *" media "* ]]; then
  log "writing a ${media_mib} MiB random media file"
  head -c "$((media_mib * 1024 * 1024))" /dev/urandom >"$work/media.src"
  up_code="$(curl -sS --max-time 120 -o "$work/upload.out" -w '%{http_code}' -X PUT \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/octet-stream' \
    --data-binary "@$work/media.src" "$sg_base/api/v1/content/$media_id/media")"
  [[ "$up_code" == 2* ]] || { log "media upload answered $up_code: $(cat "$work/upload.out")"; exit 1; }
  cp "$work/media.src" "$ng/www/media.bin"
  chmod 0644 "$ng/www/media.bin"
  src_sum="$(sha256sum <"$work/media.src" | cut -d' ' -f1)"
  for url in "$sg_base/api/v1/content/$media_id/media" "$ng_base/media.bin"; do
    got="$(curl -sS --fail --max-time 60 "$url" | sha256sum | cut -d' ' -f1)"
    [[ "$got" == "$src_sum" ]] || { log "$url does not return the uploaded bytes"; exit 1; }
  done
fi

if [[ " $workloads " == *" hls "* ]]; then
  hls_id="$(create_item 'bench hls item')"
  log "encoding a ${hls_seconds} s 640x360 clip with ffmpeg for the HLS workload"
  timeout 300 ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=640x360:rate=25:duration=$hls_seconds" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$hls_seconds" \
    -c:v libx264 -preset ultrafast -b:v 2500k -maxrate 2500k -bufsize 5000k -g 50 -keyint_min 50 \
    -sc_threshold 0 -pix_fmt yuv420p -c:a aac -b:a 128k -shortest "$work/clip.mp4"
  up_code="$(curl -sS --max-time 300 -o "$work/upload-hls.out" -w '%{http_code}' -X PUT \
    -H "Authorization: Bearer $token" -H 'Content-Type: video/mp4' \
    --data-binary "@$work/clip.mp4" "$sg_base/api/v1/content/$hls_id/media")"
  [[ "$up_code" == 2* ]] || { log "clip upload answered $up_code: $(cat "$work/upload-hls.out")"; exit 1; }
  master="$(curl -sS --fail --max-time 10 -X POST "$sg_base/api/v1/content/$hls_id/playback" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["media_url"])')"
  curl -sS --fail --max-time 10 -o "$work/media.m3u8" "$sg_base$master"
  # The playlist's byte ranges (init section first) and the fMP4's URL, as wrk's script.
  python3 - "$work/media.m3u8" "$master" "$work" <<'PY'
import re, sys
playlist, media_url, work = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
init = re.search(r'#EXT-X-MAP:URI="([^"]+)",BYTERANGE="(\d+)@0"', playlist)
uri, ranges = init.group(1), [(0, int(init.group(2)))]
ranges += [(int(o), int(n)) for n, o in re.findall(r'#EXT-X-BYTERANGE:(\d+)@(\d+)', playlist)]
path = media_url[:media_url.rfind('/') + 1] + uri
open(work + "/hls-sg-path", "w").write(path)
open(work + "/hls-ranges", "w").write("\n".join(f"{o}-{o + n - 1}" for o, n in ranges) + "\n")
PY
  hls_file="$(python3 -c 'import sys; p=open(sys.argv[1]).read(); print(p[p.rfind("/")+1:p.find("?")])' "$work/hls-sg-path")"
  cp "$work/sg/media/$hls_file" "$ng/www/hls.mp4"
  chmod 0644 "$ng/www/hls.mp4"
  hls_sg_path="$(cat "$work/hls-sg-path")"
  mapfile -t hls_ranges <"$work/hls-ranges"
  log "HLS: ${#hls_ranges[@]} byte ranges (init + segments) of a $(stat -c %s "$ng/www/hls.mp4")-byte fMP4"
  for r in "${hls_ranges[0]}" "${hls_ranges[2]}"; do
    a="$(curl -sS --fail --max-time 10 -H "Range: bytes=$r" "$sg_base$hls_sg_path" | sha256sum)"
    b="$(curl -sS --fail --max-time 10 -H "Range: bytes=$r" "$ng_base/hls.mp4" | sha256sum)"
    [[ "$a" == "$b" ]] || { log "range $r differs between streamgate and nginx"; exit 1; }
  done
  # wrk: every connection walks the ranges in turn (with the report's done()).
  hls_lua() { # path -> lua
    { printf 'local path = "%s"\nlocal ranges = {' "$1"
      printf '"%s",' "${hls_ranges[@]}"
      printf '}\nlocal i = 0\n'
      cat <<'LUA'
request = function()
  i = i % #ranges + 1
  return wrk.format("GET", path, { ["Range"] = "bytes=" .. ranges[i] })
end
LUA
      cat "$work/report.lua"; }
  }
fi

# Flush the fixtures' dirty pages now, so writeback does not run during a measured load,
# and record how busy the host is right before the first load.
sync -f "$work/media.src" 2>/dev/null || sync
sample_host_before_load servers

# --- load ----------------------------------------------------------------------------
write_report_lua

results="$work/results.tsv"
: >"$results"
run_wrk() { # workload target round url connections seconds pid [script]
  local workload="$1" target="$2" round="$3" url="$4" conns="$5" secs="$6" pid="$7"
  local script="${8:-$work/report.lua}"
  local out="$work/wrk-$workload-$target-$round.txt" c0 c1 fields
  local h0 h1 st0 st1
  c0="$(cpu_ticks "$pid")"
  read -r h0 st0 <<<"$(host_ticks)"
  wrk_bounded "$url" "$conns" "$secs" "$out" "$script"
  c1="$(cpu_ticks "$pid")"
  read -r h1 st1 <<<"$(host_ticks)"
  log_wrk_verbose "$workload/$target round $round" "$out"
  [[ "$round" == warmup ]] && return 0
  fields="$(wrk_result "$out")"
  printf '%s\t%s\t%s\t%s cpu_ticks=%s clk_tck=%s host_busy_ticks=%s host_steal_ticks=%s\n' \
    "$workload" "$target" "$round" "$fields" "$((c1 - c0))" "$clk_tck" \
    "$((h1 - h0))" "$((st1 - st0))" >>"$results"
  log "$(printf '%-5s %-10s round %s: %s' "$workload" "$target" "$round" \
    "$(grep -E '^(Requests|Transfer)/sec' "$out" | tr -s ' ' | tr '\n' ' ')")"
}

json_sg="$sg_base/api/v1/content/$json_id"
json_ng="$ng_base/content.json"
media_sg="$sg_base/api/v1/content/$media_id/media"
media_ng="$ng_base/media.bin"

run_workload() { # workload sg_url ng_url connections [sg_script ng_script]
  local workload="$1" sg_url="$2" ng_url="$3" conns="$4" r
  local sg_script="${5:-$work/report.lua}" ng_script="${6:-$work/report.lua}"
  log "$workload: warm-up ${warmup_s}s per target, then $rounds x ${duration_s}s per target, -t$wrk_threads -c$conns"
  run_wrk "$workload" streamgate warmup "$sg_url" "$conns" "$warmup_s" "$sg_pid" "$sg_script"
  run_wrk "$workload" nginx warmup "$ng_url" "$conns" "$warmup_s" "$ng_pid" "$ng_script"
  for ((r = 1; r <= rounds; r++)); do
    if ((r % 2 == 1)); then
      run_wrk "$workload" streamgate "$r" "$sg_url" "$conns" "$duration_s" "$sg_pid" "$sg_script"
      run_wrk "$workload" nginx "$r" "$ng_url" "$conns" "$duration_s" "$ng_pid" "$ng_script"
    else
      run_wrk "$workload" nginx "$r" "$ng_url" "$conns" "$duration_s" "$ng_pid" "$ng_script"
      run_wrk "$workload" streamgate "$r" "$sg_url" "$conns" "$duration_s" "$sg_pid" "$sg_script"
    fi
  done
}
for w in $workloads; do
  case "$w" in
    json) run_workload json "$json_sg" "$json_ng" "$json_conns" ;;
    media) run_workload media "$media_sg" "$media_ng" "$media_conns" ;;
    hls)
      hls_lua "$hls_sg_path" >"$work/hls-sg.lua"
      hls_lua "/hls.mp4" >"$work/hls-ng.lua"
      run_workload hls "$sg_base/" "$ng_base/" "$hls_conns" "$work/hls-sg.lua" "$work/hls-ng.lua" ;;
  esac
done

# --- idle clients --------------------------------------------------------------------
idle_results="$work/idle.tsv"
: >"$idle_results"
idle_round() { # target round: a fresh 1-thread instance, warmed, then idle_cost
  local target="$1" round="$2" port pid url d cost
  port="$(free_ports 1)"
  if [[ "$target" == streamgate ]]; then
    "$server_bin" --listen "127.0.0.1:$port" --storage "sqlite:$work/sg/streamgate.db" \
      --cache memory --media-dir "$work/sg/media" --api-token "$token" --threads 1 \
      --access-log false --log-level warn --drain-delay 0 --grace-period 2 \
      >"$work/streamgate-idle.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    url="http://127.0.0.1:$port/api/v1/content/$json_id"
    wait_http "$url" streamgate-idle "$pid"
  else
    d="$work/nginx-idle-$round"
    nginx_dirs "$d"
    { nginx_conf_head "$d" 1
      echo "  server { listen 127.0.0.1:$port; root $ng/www; location / { } }"
      echo "}"; } >"$d/nginx.conf"
    sed -i "s/worker_connections 4096/worker_connections $((idle_clients + 1000))/" "$d/nginx.conf"
    chmod -R a+rX "$d"
    start_nginx "$d" "$work/nginx-idle.log"
    pid="$started_pid"
    url="http://127.0.0.1:$port/content.json"
    wait_http "$url" nginx-idle "$pid"
  fi
  for _ in 1 2 3 4 5; do curl -s -o /dev/null --max-time 5 "$url"; done
  cost="$(idle_cost "$url" "$idle_clients" "$idle_settle" "$pid")"
  printf '%s\t%s\t%s\n' "$target" "$round" "$cost" >>"$idle_results"
  log "$(printf 'idle  %-10s round %s: %s KB per idle client (RSS %s -> %s kB)' "$target" "$round" $cost)"
  stop_pid "$pid"
  forget_pid "$pid"
}
if ((idle_clients > 0)); then
  log "idle: $idle_clients keep-alive clients, one JSON GET each, then idle ${idle_settle}s; fresh 1-thread/1-worker servers per round"
  for ((r = 1; r <= idle_rounds; r++)); do
    if ((r % 2 == 1)); then idle_round streamgate "$r"; idle_round nginx "$r"
    else idle_round nginx "$r"; idle_round streamgate "$r"; fi
  done
fi

# --- report ----------------------------------------------------------------------------
report_path
set +e
python3 - "$results" "$json_out" "$idle_results" <<EOF
import json, sys, platform, os
$(report_py servers)
results_path, out_path, idle_path = sys.argv[1], sys.argv[2], sys.argv[3]
runs = []
for line in open(results_path):
    workload, target, rnd, kv = line.rstrip("\n").split("\t")
    f = dict(x.split("=", 1) for x in kv.split())
    secs = int(f["duration_us"]) / 1e6
    runs.append({
        "workload": workload, "target": target, "round": int(rnd),
        "requests": int(f["requests"]), "seconds": round(secs, 3),
        "req_per_s": round(int(f["requests"]) / secs, 1),
        "transfer_mib_per_s": round(int(f["bytes"]) / secs / 1048576, 2),
        **wrk_fields(f),
        "server_cpu_percent": round(100 * int(f["cpu_ticks"]) / int(f["clk_tck"]) / secs, 1),
        "server_cpu_us_per_request": round(1e6 * int(f["cpu_ticks"]) / int(f["clk_tck"])
                                           / max(int(f["requests"]), 1), 2),
        # whole host, all processes (wrk + server + anything else), percent of one core
        "host_busy_percent": round(100 * int(f["host_busy_ticks"]) / int(f["clk_tck"]) / secs, 1),
        "host_steal_percent": round(100 * int(f["host_steal_ticks"]) / int(f["clk_tck"]) / secs, 1),
    })

best = best_rounds(runs, "workload", "target")

def ratio(workload, field):
    a, b = best.get((workload, "streamgate")), best.get((workload, "nginx"))
    return round(a[field] / b[field], 3) if a and b and b[field] else None

ratios = {
    "json_req_per_s": ratio("json", "req_per_s"),
    "media_transfer_mib_per_s": ratio("media", "transfer_mib_per_s"),
    "hls_segments_per_s": ratio("hls", "req_per_s"),
    # cost, not speed: > 1 means streamgate burns more CPU per request than nginx
    "json_cpu_per_request": ratio("json", "server_cpu_us_per_request"),
    "media_cpu_per_request": ratio("media", "server_cpu_us_per_request"),
    "hls_cpu_per_request": ratio("hls", "server_cpu_us_per_request"),
}
goals = {"json_req_per_s": 0.6, "media_transfer_mib_per_s": 0.8, "hls_segments_per_s": 0.8}
# Only workloads that ran are judged.
met = {k: ratios[k] >= goals[k] for k in goals if ratios[k] is not None}

print()
hdr = (f"{'workload':<8} {'target':<11} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'MiB/s':>10} "
       f"{'srv CPU%':>9} {'CPU us/req':>11} {'errors':>7}")
print(hdr)
print("-" * len(hdr))
for workload in ("json", "media", "hls"):
    for target in ("streamgate", "nginx"):
        r = best.get((workload, target))
        if not r:
            continue
        print(f"{workload:<8} {target:<11} {r['req_per_s']:>10.1f} {r['p50_ms']:>9.3f} {r['p99_ms']:>9.3f} "
              f"{r['transfer_mib_per_s']:>10.2f} {r['server_cpu_percent']:>9.1f} "
              f"{r['server_cpu_us_per_request']:>11.2f} {r['errors']:>7}")
print()
for k, label in (("json_req_per_s", "JSON GET req/s   streamgate/nginx"),
                 ("media_transfer_mib_per_s", "media GET MiB/s  streamgate/nginx"),
                 ("hls_segments_per_s", "HLS segments/s   streamgate/nginx")):
    if k in met:
        print(f"{label}: {ratios[k]:.3f}x  (goal >= {goals[k]}x: {'met' if met[k] else 'MISSED'})")
for k, label in (("json_cpu_per_request", "JSON GET CPU/req  streamgate/nginx"),
                 ("media_cpu_per_request", "media GET CPU/req streamgate/nginx"),
                 ("hls_cpu_per_request", "HLS segment CPU/req streamgate/nginx")):
    if ratios[k] is not None:
        print(f"{label}: {ratios[k]:.3f}x  (informational: server CPU time per request)")
print("(best of $rounds rounds per target, alternating order; all rounds are in the JSON)")
idle = idle_summary(idle_path, "streamgate", "nginx")
if idle:
    met["idle_kb_per_client"] = idle["ratio_median"] <= 1.0
    print(f"idle: {$idle_clients} keep-alive clients, KB per client (median of {idle['rounds']}): "
          f"streamgate {idle['ours_kb_median']:.2f}, nginx {idle['peer_kb_median']:.2f}; "
          f"ratio {idle['ratio_median']:.3f}x (paired per round; goal <= 1.0: "
          f"{'met' if met['idle_kb_per_client'] else 'MISSED'})")
busiest = max(runs, key=lambda r: r["host_steal_percent"])
if busiest["host_steal_percent"] > 10:
    print(f"WARNING: up to {busiest['host_steal_percent']}% of a core was stolen by the hypervisor during a run")
busy_host_warnings()

doc = {
    "benchmark": "bench/server",
    "timestamp_utc": "$stamp",
    "host": host_doc("wrk, streamgate-server and nginx share the same cores"),
    "versions": {"streamgate": """$("$server_bin" --version 2>&1 | head -1)""", **tool_versions},
    "config": {"server_binary": "$server_bin", "server_threads": $server_threads,
               "nginx_worker_processes": $server_threads, "wrk_threads": $wrk_threads,
               "duration_s": $duration_s, "warmup_s": $warmup_s, "rounds": $rounds,
               "json_connections": $json_conns, "media_connections": $media_conns,
               "hls_connections": $hls_conns, "hls_clip_seconds": $hls_seconds,
               "media_bytes": $((media_mib * 1024 * 1024)),
               "json_body_bytes": $(stat -c %s "$ng/www/content.json"),
               "server_args": "${BENCH_SERVER_ARGS:-}",
               "selection": "best round by req/s per target; order alternates per round"},
    "best": {f"{w}/{t}": r for (w, t), r in best.items()},
    "ratios_streamgate_over_nginx": ratios,
    "goals": {**goals, "idle_kb_per_client": "<= 1.0x nginx"}, "goals_met": met,
    "idle_clients": {"clients": $idle_clients, "settle_s": $idle_settle, **(idle or {})},
    "runs": runs,
}
write_doc(doc, out_path)
sys.exit(0 if all(met.values()) else 3)
EOF
report_rc=$?
set -e
report_exit "$report_rc"
