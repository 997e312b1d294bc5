#!/usr/bin/env python3
"""The load profile of bench/autoscale/run.sh, and what it records (run by run.sh only).

Runs wrk through the gateway (light load throughout; a step on top for --hold seconds),
polls every 0.5 s `sgctl get hpa -o json` (every HPA evaluation record, by "seq") and the
gateway's per-endpoint stats (/admin/v1/stats?window=10), and writes a timeline JSON for
analyse.py. Every wrk runs under timeout(1); the whole profile is bounded by
idle + hold + window + after-max seconds. SIGTERM/SIGINT stop the wrk processes it started
(through their timeout(1), which passes the signal on) and exit.
"""
import argparse
import json
import signal
import subprocess
import sys
import time
import urllib.request

POLL_S = 0.5
children = []


def stop_children(*_):
    for c in children:
        if c.poll() is None:
            c.send_signal(signal.SIGINT)  # timeout(1) passes it to wrk, which reports and exits
    for c in children:
        try:
            c.wait(timeout=10)
        except subprocess.TimeoutExpired:
            c.kill()
            c.wait()


def on_signal(signo, _frame):
    stop_children()
    sys.exit(128 + signo)


def start_wrk(url, conns, secs, lua, out_path):
    out = open(out_path, "w")
    c = subprocess.Popen(
        ["timeout", "--signal=INT", "--kill-after=10", str(secs + 30), "wrk", "-t1", f"-c{conns}",
         f"-d{secs}s", "--timeout", "10s", "-s", lua, url],
        stdout=out, stderr=subprocess.STDOUT)
    children.append(c)
    return c


def wrk_result(path):
    for line in open(path):
        if line.startswith("WRK_RESULT "):
            return dict(kv.split("=", 1) for kv in line.split()[1:])
    return None


class Poller:
    def __init__(self, a):
        self.a = a
        self.records = {}  # "TRACK/seq" -> record
        self.polls = []
        self.autoscaler = None
        with open(f"{a.state_dir}/gateway-admin-token") as f:
            self.admin_token = f.readline().strip()

    def hpa(self):
        r = subprocess.run([self.a.sgctl, "--state-dir", self.a.state_dir, "get", "hpa", "-o", "json"],
                           capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            return None
        v = json.loads(r.stdout)
        if not isinstance(v, dict):
            return None
        self.autoscaler = {k: v[k] for k in v if k != "tracks"}
        return v

    def stats(self):
        req = urllib.request.Request(f"http://127.0.0.1:{self.a.admin_port}/admin/v1/stats?window=10",
                                     headers={"Authorization": f"Bearer {self.admin_token}"})
        with urllib.request.urlopen(req, timeout=3) as r:
            return json.load(r)

    def poll(self, phase):
        t = time.time()
        p = {"t": t, "phase": phase, "tracks": {}, "endpoints": {}}
        try:
            v = self.hpa()
        except (subprocess.TimeoutExpired, json.JSONDecodeError) as e:
            v = None
            p["hpa_error"] = str(e)
        if v:
            for track, tv in v.get("tracks", {}).items():
                for rec in tv.get("recent_evaluations", []):
                    self.records[f"{track}/{rec['seq']}"] = {"track": track, **rec}
                p["tracks"][track] = {k: tv.get(k) for k in ("current_replicas", "desired_replicas",
                                                             "ready_replicas")}
        try:
            s = self.stats()
            for track, tv in s.get("tracks", {}).items():
                for addr, e in tv.get("endpoints", {}).items():
                    p["endpoints"][f"{track} {addr}"] = {
                        "requests_10s": e["windows"]["10s"]["requests"],
                        "healthy": e.get("healthy"), "draining": e.get("draining")}
        except OSError as e:
            p["stats_error"] = str(e)
        self.polls.append(p)
        return p


def sleep_until(deadline):
    time.sleep(max(0.0, deadline - time.time()))


def main():
    ap = argparse.ArgumentParser()
    for k in ("sgctl", "state-dir", "url", "work", "lua", "out"):
        ap.add_argument(f"--{k}", required=True)
    for k in ("admin-port", "min", "light", "step", "idle", "hold", "window", "after-max", "sync"):
        ap.add_argument(f"--{k}", type=int, required=True)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    target = f"{a.url}/api/v1/health"
    total = a.idle + a.hold + a.window + a.after_max + 20
    poller = Poller(a)
    t0 = time.time()
    light = start_wrk(target, a.light, total, a.lua, f"{a.work}/wrk-light.txt")
    timeline = {"t_start": t0, "target": target}

    next_poll = time.time()
    while time.time() < t0 + a.idle:  # idle: the light load alone
        poller.poll("idle")
        next_poll += POLL_S
        sleep_until(next_poll)

    timeline["t_step"] = time.time()
    step = start_wrk(target, a.step, a.hold, a.lua, f"{a.work}/wrk-step.txt")
    while step.poll() is None and time.time() < timeline["t_step"] + a.hold + 40:
        poller.poll("step")
        next_poll += POLL_S
        sleep_until(next_poll)
    if step.poll() is None:
        stop_children()
        print("profile.py: the step's wrk did not end", file=sys.stderr)
        return 1
    timeline["t_end"] = time.time()

    # After: until a record brings the track back to the minimum, then a few more evaluations.
    deadline = timeline["t_end"] + a.window + a.after_max
    back_at = None
    scaled = any(d > a.min for p in poller.polls if p["phase"] == "step"
                 for d in (t.get("desired_replicas") or 0 for t in p["tracks"].values()))
    while time.time() < deadline:
        p = poller.poll("after")
        desired = [t.get("desired_replicas") for t in p["tracks"].values()]
        if back_at is None and (not scaled or (desired and max(desired) == a.min)):
            back_at = time.time()
        if back_at is not None and time.time() > back_at + 3 * a.sync + 1:
            break
        next_poll += POLL_S
        sleep_until(next_poll)
    light.send_signal(signal.SIGINT)
    try:
        light.wait(timeout=15)
    except subprocess.TimeoutExpired:
        light.kill()
        light.wait()
    timeline["t_stop"] = time.time()
    poller.poll("final")

    timeline["wrk"] = {"light": wrk_result(f"{a.work}/wrk-light.txt"),
                       "step": wrk_result(f"{a.work}/wrk-step.txt")}
    timeline["wrk_raw"] = {n: open(f"{a.work}/wrk-{n}.txt").read() for n in ("light", "step")}
    timeline["autoscaler"] = poller.autoscaler
    timeline["records"] = sorted(poller.records.values(), key=lambda r: (r["track"], r["seq"]))
    timeline["polls"] = poller.polls
    with open(a.out, "w") as f:
        json.dump(timeline, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
