// Kubelet mode of the stand-in API server (tests/kube/fake-apiserver.cjs --kubelet): the REAL
// kubectl applies a Deployment whose image maps to the real streamgate-server, and its pods run
// as real processes on 127.0.X.Y. Checks: rollout status waits for the servers' /readyz; both
// pod IPs serve /api/v1/health with the image's version; the Service's Endpoints list them;
// kubectl scale --replicas=1 terminates one (deletionTimestamp, SIGTERM, process gone, object
// removed); kubectl delete pod is replaced by a new process; kubectl logs returns the server's
// output; an image whose process exits at once crash-loops (CrashLoopBackOff, restarts, the
// exit code); SIGTERM of the fixture stops every process and removes its temp dir.
// Run: node tests/kube/kubelet.test.cjs PATH/TO/streamgate-server (about 10-20 s; a watchdog
// fails it at 90 s; skips without kubectl).
"use strict";
const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { until: untilWithin } = require("./lib/until.cjs");
const { spawn, spawnSync, execFile } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const readline = require("node:readline");

const kCommandTimeoutMs = 30000;
const kWatchdogMs = 90000;
const kImage = "streamgate:v1.3.0";
const kBrokenImage = "streamgate:v1.3.1-broken";
const kStuckImage = "streamgate:v1.3.2-stuck"; // runs, never listens, ignores SIGTERM
const kToken = "kubelet-test-token-0123456789";

const server = process.argv[2];
if (!server || !path.isAbsolute(server) || !fs.existsSync(server)) {
  console.error(`usage: node tests/kube/kubelet.test.cjs /ABSOLUTE/PATH/TO/streamgate-server (got ${JSON.stringify(server)}); build it with --target streamgate-server`);
  process.exit(2);
}
if (spawnSync("kubectl", ["version", "--client"], { stdio: "ignore" }).status !== 0) {
  console.log("SKIPPED: kubectl is not installed, so kubelet mode was NOT tested (scripts/install-deps installs it)");
  process.exit(0);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "kubelet-test-"));
const children = new Set(); // kubectl processes running now
let fixture = null;         // { proc, url, env, stderr }

// The whole file is bounded: past kWatchdogMs it stops what it started, by pid, and fails.
// A SIGKILLed fixture takes its pods' processes with it (they run under setpriv --pdeathsig).
setTimeout(() => {
  console.error(`FAILED: tests/kube/kubelet.test.cjs ran over ${kWatchdogMs / 1000} s; stopping the fixture and kubectl processes`);
  for (const c of children) c.kill("SIGKILL");
  if (fixture && fixture.proc.exitCode === null) fixture.proc.kill("SIGKILL");
  if (fixture && fixture.dir) fs.rmSync(fixture.dir, { recursive: true, force: true });
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(1);
}, kWatchdogMs).unref();

function kubectl(args, opts = {}) {
  return new Promise((resolve) => {
    const child = execFile("kubectl", args, { env: fixture.env, timeout: opts.timeout || kCommandTimeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      children.delete(child);
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
    children.add(child);
  });
}
async function ok(args, opts) {
  const r = await kubectl(args, opts);
  assert.equal(r.code, 0, `kubectl ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}
const until = (what, fn, ms = 15000) => untilWithin(what, fn, ms);
const kubeletState = async () => (await fetch(`${fixture.url}/__fixture/kubelet`)).json();
const pods = async (selector) => JSON.parse(await ok(["get", "pods", "-n", "streamgate", "-l", selector, "-o", "json"])).items;
const isReady = (p) => (p.status.conditions || []).some((c) => c.type === "Ready" && c.status === "True");
// Whether a process runs (a zombie, exited but not yet reaped, does not count).
function alive(pid) {
  try { return !/^\d+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8")); } catch { return false; }
}
async function health(ip) {
  const rsp = await fetch(`http://${ip}:9090/api/v1/health`, { signal: AbortSignal.timeout(2000) });
  return { code: rsp.status, body: await rsp.json() };
}
function deployment(name, version, image, replicas, graceSeconds = 5) {
  const labels = { app: "streamgate", version };
  return { apiVersion: "apps/v1", kind: "Deployment", metadata: { name, namespace: "streamgate", labels },
    spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: {
      terminationGracePeriodSeconds: graceSeconds,
      containers: [{ name: "streamgate-server", image, ports: [{ name: "http", containerPort: 9090, protocol: "TCP" }],
        readinessProbe: { httpGet: { path: "/readyz", port: "http" }, periodSeconds: 5 } }] } } } };
}
function writeManifest(name, objects) {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, objects.map((o) => JSON.stringify(o)).join("\n"));
  return file;
}

before(async () => {
  const map = path.join(tmp, "kubelet.json");
  fs.writeFileSync(map, JSON.stringify({
    [kImage]: { exec: server, env: { STREAMGATE_API_TOKENS: kToken, STREAMGATE_DRAIN_DELAY: "1", STREAMGATE_GRACE_PERIOD: "2" } },
    [kBrokenImage]: { exec: server, args: ["--no-such-flag"] },
    [kStuckImage]: { exec: "/bin/sh", args: ["-c", "trap '' TERM; exec sleep 60"] },
  }));
  const proc = spawn(process.execPath, [path.join(__dirname, "fake-apiserver.cjs"), "--kubelet", map, "--crash-backoff-ms", "300", "--max-grace-ms", "5000"],
    { stdio: ["ignore", "pipe", "pipe"] });
  fixture = { proc, stderr: "" };
  proc.stderr.on("data", (d) => { fixture.stderr += d; });
  const first = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`the fixture printed no URL in 10 s: ${fixture.stderr}`)), 10000);
    readline.createInterface({ input: proc.stdout }).once("line", (l) => { clearTimeout(t); resolve(l); });
    proc.once("exit", (code) => reject(new Error(`the fixture exited with ${code}: ${fixture.stderr}`)));
  });
  const m = /^listening (http:\/\/127\.0\.0\.1:\d+)$/.exec(first);
  assert.ok(m, `first line is "listening URL", got ${first}`);
  fixture.url = m[1];
  const kubeconfig = path.join(tmp, "kubeconfig");
  fs.writeFileSync(kubeconfig, [
    "apiVersion: v1", "kind: Config",
    `clusters: [{name: fixture, cluster: {server: "${fixture.url}"}}]`,
    "users: [{name: fixture, user: {}}]",
    "contexts: [{name: fixture, context: {cluster: fixture, user: fixture, namespace: default}}]",
    "current-context: fixture", ""].join("\n"));
  fixture.env = { ...process.env, KUBECONFIG: kubeconfig, KUBECACHEDIR: path.join(tmp, "cache"), HOME: tmp };
  fixture.dir = (await kubeletState()).dir; // the fixture's own temp dir, removed here too if it is killed
});

// After a failure the fixture may still run: SIGTERM (it stops its processes), SIGKILL after 8 s.
after(async () => {
  for (const c of children) c.kill("SIGKILL");
  if (fixture && fixture.proc.exitCode === null && fixture.proc.signalCode === null) {
    const exited = new Promise((r) => fixture.proc.once("exit", r));
    fixture.proc.kill("SIGTERM");
    const t = setTimeout(() => fixture.proc.kill("SIGKILL"), 8000);
    await exited;
    clearTimeout(t);
  }
  if (fixture && fixture.dir) fs.rmSync(fixture.dir, { recursive: true, force: true });
  fs.rmSync(tmp, { recursive: true, force: true });
});

let blue = []; // the two pods after the rollout

test("rollout status succeeds once both real servers answer /readyz; each pod IP serves /api/v1/health", async () => {
  const file = writeManifest("blue.json", [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: "streamgate" } },
    deployment("streamgate-blue", "blue", kImage, 2),
    { apiVersion: "v1", kind: "Service", metadata: { name: "streamgate-blue", namespace: "streamgate" },
      spec: { selector: { app: "streamgate", version: "blue" }, ports: [{ name: "http", port: 9090, targetPort: "http" }] } },
  ]);
  assert.match(await ok(["apply", "-f", file]), /deployment.apps\/streamgate-blue created/);
  const r = await kubectl(["rollout", "status", "deployment/streamgate-blue", "-n", "streamgate", "--timeout=30s"], { timeout: 40000 });
  assert.equal(r.code, 0, `rollout status: ${r.stdout}${r.stderr}\nfixture: ${fixture.stderr}`);
  assert.match(r.stdout, /deployment "streamgate-blue" successfully rolled out/);
  blue = await pods("version=blue");
  assert.equal(blue.length, 2);
  const ips = blue.map((p) => p.status.podIP);
  assert.notEqual(ips[0], ips[1], "each pod has its own IP");
  for (const p of blue) {
    assert.match(p.status.podIP, /^127\.0\.([1-9]\d*)\.\d+$/, "a loopback pod IP, never 127.0.0.x");
    assert.deepEqual(p.status.podIPs, [{ ip: p.status.podIP }]);
    assert.equal(p.status.phase, "Running");
    assert.ok(isReady(p), `pod ${p.metadata.name} is Ready`);
    assert.equal(p.status.containerStatuses[0].ready, true);
    assert.equal(p.status.containerStatuses[0].restartCount, 0);
    const h = await health(p.status.podIP);
    assert.equal(h.code, 200, `GET http://${p.status.podIP}:9090/api/v1/health`);
    assert.equal(h.body.status, "ok");
    assert.equal(h.body.version, "v1.3.0", "the version label comes from the image tag");
  }
  const d = JSON.parse(await ok(["get", "deployment", "streamgate-blue", "-n", "streamgate", "-o", "json"]));
  assert.equal(d.status.readyReplicas, 2);
  assert.equal(d.status.availableReplicas, 2);
  const ep = await until("the Service's Endpoints list both pod IPs on port 9090", async () => {
    const e = JSON.parse(await ok(["get", "endpoints", "streamgate-blue", "-n", "streamgate", "-o", "json"]));
    const s = (e.subsets || [])[0];
    return s && (s.addresses || []).length === 2 ? s : null;
  });
  assert.deepEqual(ep.addresses.map((a) => a.ip).sort(), [...ips].sort());
  assert.equal(ep.ports[0].port, 9090);
  const procs = (await kubeletState()).pods;
  for (const p of blue) {
    const proc = procs.find((x) => x.uid === p.metadata.uid);
    assert.ok(proc && proc.pid && alive(proc.pid), `pod ${p.metadata.name} has a live process`);
  }
});

test("kubectl logs returns the real server's output (--tail and --limit-bytes honoured)", async () => {
  const name = blue[0].metadata.name;
  const logs = await ok(["logs", "-n", "streamgate", name]);
  assert.match(logs, new RegExp(`"msg":"streamgate-server listening","listen":"${blue[0].status.podIP.replace(/\./g, "\\.")}:9090"`));
  const tail = await ok(["logs", "-n", "streamgate", name, "--tail=1"]);
  assert.equal(tail.trim().split("\n").length, 1, `--tail=1 prints one line:\n${tail}`);
  const limited = await ok(["logs", "-n", "streamgate", name, "--limit-bytes=20"]);
  assert.equal(Buffer.byteLength(limited), 20);
  assert.ok(logs.startsWith(limited));
  const follow = await ok(["logs", "-n", "streamgate", name, "-f", "--tail=1"], { timeout: 10000 });
  assert.equal(follow.trim().split("\n").length, 1, "-f ends at once");
});

test("kubectl scale --replicas=1: one pod terminates (deletionTimestamp), its process exits and its object goes", async () => {
  const before = (await kubeletState()).pods;
  const t0 = Date.now();
  assert.match(await ok(["scale", "deployment", "streamgate-blue", "-n", "streamgate", "--replicas=1"]), /scaled/);
  // The server drains for 1 s after SIGTERM (STREAMGATE_DRAIN_DELAY), so Terminating is seen.
  const terminating = await until("a pod shows a deletionTimestamp", async () => (await pods("version=blue")).find((p) => p.metadata.deletionTimestamp), 5000);
  const row = (await ok(["get", "pod", terminating.metadata.name, "-n", "streamgate", "--no-headers"])).trim().split(/\s+/);
  assert.equal(row[2], "Terminating");
  const pid = before.find((x) => x.uid === terminating.metadata.uid).pid;
  await until("the terminated pod's object is removed", async () => (await pods("version=blue")).length === 1, 10000);
  const ms = Date.now() - t0;
  assert.equal(alive(pid), false, `process ${pid} of ${terminating.metadata.name} is gone`);
  assert.ok(ms >= 900 && ms < 4500, `gone after the server's 1 s drain on SIGTERM, before the 5 s grace period's SIGKILL: ${ms} ms`);
  await assert.rejects(health(terminating.status.podIP), "nothing listens on the removed pod's IP");
  const left = await pods("version=blue");
  assert.notEqual(left[0].metadata.uid, terminating.metadata.uid);
  assert.equal((await health(left[0].status.podIP)).code, 200, "the other replica keeps serving");
  assert.ok(alive(before.find((x) => x.uid === left[0].metadata.uid).pid));
  await until("Deployment status and Endpoints follow: 1 ready, 1 address", async () => {
    const d = JSON.parse(await ok(["get", "deployment", "streamgate-blue", "-n", "streamgate", "-o", "json"]));
    const e = JSON.parse(await ok(["get", "endpoints", "streamgate-blue", "-n", "streamgate", "-o", "json"]));
    const addrs = ((e.subsets || [])[0] || {}).addresses || [];
    return d.status.replicas === 1 && d.status.readyReplicas === 1 && addrs.length === 1 && addrs[0].ip === left[0].status.podIP;
  }, 5000);
});

test("kubectl delete pod: the process gets SIGTERM and exits, the ReplicaSet starts a new one", async () => {
  const [old] = await pods("version=blue");
  const oldPid = (await kubeletState()).pods.find((x) => x.uid === old.metadata.uid).pid;
  const t0 = Date.now();
  const out = await ok(["delete", "pod", old.metadata.name, "-n", "streamgate"], { timeout: 20000 });
  assert.ok(Date.now() - t0 < 4500, `SIGTERM, not the 5 s grace period's SIGKILL, ended it: ${Date.now() - t0} ms`);
  assert.equal(out.trim(), `pod "${old.metadata.name}" deleted`); // kubectl waited for the object to go
  assert.equal(alive(oldPid), false, `process ${oldPid} is gone once the pod is`);
  await ok(["rollout", "status", "deployment/streamgate-blue", "-n", "streamgate", "--timeout=20s"], { timeout: 30000 });
  const [fresh] = await pods("version=blue");
  assert.notEqual(fresh.metadata.uid, old.metadata.uid);
  assert.equal((await health(fresh.status.podIP)).code, 200);
});

test("an image whose process exits at once crash-loops: CrashLoopBackOff, restarts, its exit code, its logs", async () => {
  const file = writeManifest("broken.json", [deployment("streamgate-canary", "canary", kBrokenImage, 1)]);
  await ok(["apply", "-f", file]);
  const pod = await until("the canary pod is in CrashLoopBackOff with a restart", async () => {
    const [p] = await pods("version=canary");
    const cs = p && p.status.containerStatuses && p.status.containerStatuses[0];
    return cs && cs.state.waiting && cs.state.waiting.reason === "CrashLoopBackOff" && cs.restartCount >= 1 ? p : null;
  });
  const json = JSON.parse(await ok(["get", "pod", pod.metadata.name, "-n", "streamgate", "-o", "json"]));
  const cs = json.status.containerStatuses[0];
  assert.ok(cs.restartCount >= 1);
  assert.equal(cs.ready, false);
  assert.equal(cs.lastState.terminated.exitCode, 2, "streamgate-server exits 2 on a bad flag");
  assert.equal(cs.lastState.terminated.reason, "Error");
  assert.ok(!isReady(json));
  // The table says so too (read again while the pod is between restarts: a restart may
  // come between the two reads, and the process runs for a moment before it exits).
  const row = await until("the table shows 0/1 CrashLoopBackOff", async () => {
    const r = (await ok(["get", "pod", pod.metadata.name, "-n", "streamgate", "--no-headers"])).trim().split(/\s+/);
    return r[2] === "CrashLoopBackOff" ? r : null;
  });
  assert.deepEqual(row.slice(1, 3), ["0/1", "CrashLoopBackOff"]);
  const restarts = await until("it is restarted after the back-off", async () => {
    const [p] = await pods("version=canary");
    return p.status.containerStatuses[0].restartCount >= 2 ? p.status.containerStatuses[0].restartCount : null;
  }, 10000);
  assert.ok(restarts >= 2);
  const logs = await ok(["logs", "-n", "streamgate", pod.metadata.name]);
  assert.match(logs, /streamgate-server: .*--no-such-flag/);
  const d = JSON.parse(await ok(["get", "deployment", "streamgate-canary", "-n", "streamgate", "-o", "json"]));
  assert.equal(d.status.readyReplicas, undefined, "no ready replica");
  assert.equal(d.status.unavailableReplicas, 1);
});

test("a process that never answers /readyz is Running, not Ready; one ignoring SIGTERM is SIGKILLed after the grace period", async () => {
  const file = writeManifest("stuck.json", [deployment("streamgate-stuck", "stuck", kStuckImage, 1, 1)]);
  await ok(["apply", "-f", file]);
  const r = await kubectl(["rollout", "status", "deployment/streamgate-stuck", "-n", "streamgate", "--timeout=2s"]);
  assert.equal(r.code, 1, `rollout status fails: ${r.stdout}${r.stderr}`);
  const [p] = await pods("version=stuck");
  assert.equal(p.status.phase, "Running");
  assert.ok(!isReady(p), "not Ready: nothing answers the probe");
  assert.ok(p.status.containerStatuses[0].state.running, JSON.stringify(p.status.containerStatuses[0]));
  assert.equal(p.status.containerStatuses[0].restartCount, 0);
  const pid = (await kubeletState()).pods.find((x) => x.uid === p.metadata.uid).pid;
  assert.ok(alive(pid));
  const t0 = Date.now();
  await ok(["delete", "deployment", "streamgate-stuck", "-n", "streamgate"]);
  await until("the stuck pod is removed once its process is killed", async () => (await pods("version=stuck")).length === 0, 8000);
  const ms = Date.now() - t0;
  assert.equal(alive(pid), false, `process ${pid} is gone`);
  assert.ok(ms >= 900 && ms < 5000, `SIGKILL after the 1 s terminationGracePeriodSeconds, not before and not much later: ${ms} ms`);
});

test("SIGTERM of the fixture stops every process it started, removes its temp dir and exits 0", async () => {
  const state = await kubeletState();
  assert.ok(state.pods.length >= 2, JSON.stringify(state));
  const pids = state.pods.map((p) => p.pid).filter((p) => p !== null);
  assert.ok(fs.existsSync(state.dir));
  const exited = new Promise((r) => fixture.proc.once("exit", (code, signal) => r({ code, signal })));
  const t0 = Date.now();
  fixture.proc.kill("SIGTERM");
  const { code, signal } = await exited;
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, fixture.stderr);
  assert.ok(Date.now() - t0 < 4500, `SIGTERM (the server drains 1 s), not the 5 s SIGKILL, stopped it: stopped in ${Date.now() - t0} ms`);
  for (const pid of pids) assert.equal(alive(pid), false, `process ${pid} is gone`);
  assert.equal(fs.existsSync(state.dir), false, `${state.dir} is removed`);
});
