// Kubelet mode of the stand-in API server (tests/kube/fake-apiserver.cjs --kubelet): the REAL
// kubectl applies a Deployment whose image maps to the real streamgate-server, and its pods run
// as real processes on 127.0.X.Y. Checks: rollout status waits for the servers' /readyz; both
// pod IPs serve /api/v1/health with the image's version; the Service's Endpoints list them;
// kubectl scale --replicas=1 terminates one (deletionTimestamp, SIGTERM, process gone, object
// removed); kubectl delete pod is replaced by a new process; kubectl logs returns the server's
// output; an image whose process exits at once crash-loops (CrashLoopBackOff, restarts, the
// exit code); SIGTERM of the fixture stops every process and removes its temp dir. The
// fixture's stand-ins: --service-proxy gives a Service a loopback clusterIP whose connections
// reach every ready pod, follow a selector patch and are reset with no ready endpoint;
// --prometheus-sd keeps a file_sd list of the running pods with their track labels.
// Run: node tests/kube/kubelet.test.cjs PATH/TO/streamgate-server (about 15-25 s; a watchdog
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
const http = require("node:http");
const net = require("node:net");

const kCommandTimeoutMs = 30000;
const kWatchdogMs = 90000;
const kImage = "streamgate:v1.3.0";
const kBrokenImage = "streamgate:v1.3.1-broken";
const kStuckImage = "streamgate:v1.3.2-stuck"; // runs, never listens, ignores SIGTERM
const kWebA = "streamgate:v2.0.0-a"; // two tags, so /api/v1/health tells the pods apart
const kWebB = "streamgate:v2.0.0-b";
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
const sdFile = path.join(tmp, "targets.json"); // --prometheus-sd
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
// more: extra pod labels, pod annotations, and container ports instead of just http 9090.
function deployment(name, version, image, replicas, graceSeconds = 5, more = {}) {
  const labels = { app: "streamgate", version, ...more.labels };
  return { apiVersion: "apps/v1", kind: "Deployment", metadata: { name, namespace: "streamgate", labels },
    spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels, ...(more.annotations ? { annotations: more.annotations } : {}) }, spec: {
      terminationGracePeriodSeconds: graceSeconds,
      containers: [{ name: "streamgate-server", image, ports: more.ports || [{ name: "http", containerPort: 9090, protocol: "TCP" }],
        readinessProbe: { httpGet: { path: "/readyz", port: "http" }, periodSeconds: 5 } }] } } } };
}
function service(name, selector, ports) {
  return { apiVersion: "v1", kind: "Service", metadata: { name, namespace: "streamgate" }, spec: { selector, ports } };
}
// GET on a connection of its own (agent false) or of `agent`: status, the server's version
// header, and whether the request went over a connection used before.
function get(url, agent = false) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, timeout: 3000 }, (rsp) => {
      rsp.resume();
      rsp.on("end", () => resolve({ code: rsp.statusCode, version: rsp.headers["x-streamgate-version"], reused: req.reusedSocket }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url}: no answer in 3 s`)));
    req.on("error", reject);
  });
}
const readSd = () => JSON.parse(fs.readFileSync(sdFile, "utf8"));
const proxied = async () => (await fetch(`${fixture.url}/__fixture/services`)).json();
const kClusterIp = /^127\.0\.([1-9]\d*)\.\d+$/;

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
    [kWebA]: { exec: server, env: { STREAMGATE_API_TOKENS: kToken, STREAMGATE_DRAIN_DELAY: "1", STREAMGATE_GRACE_PERIOD: "2" } },
    [kWebB]: { exec: server, env: { STREAMGATE_API_TOKENS: kToken, STREAMGATE_DRAIN_DELAY: "1", STREAMGATE_GRACE_PERIOD: "2" } },
  }));
  const proc = spawn(process.execPath, [path.join(__dirname, "fake-apiserver.cjs"), "--kubelet", map, "--crash-backoff-ms", "300", "--max-grace-ms", "5000",
    "--service-proxy", "--prometheus-sd", sdFile],
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

test("--service-proxy or --prometheus-sd without --kubelet, and an unwritable --prometheus-sd FILE, stop the fixture with exit 2 and a message", () => {
  for (const flags of [["--service-proxy"], ["--prometheus-sd", sdFile]]) {
    const r = spawnSync(process.execPath, [path.join(__dirname, "fake-apiserver.cjs"), ...flags], { encoding: "utf8", timeout: 10000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`${flags[0]} needs kubelet mode \\(--kubelet FILE\\)`));
  }
  const noDir = path.join(tmp, "no-such-dir", "targets.json");
  const r = spawnSync(process.execPath, [path.join(__dirname, "fake-apiserver.cjs"), "--kubelet", path.join(tmp, "kubelet.json"), "--prometheus-sd", noDir],
    { encoding: "utf8", timeout: 10000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--prometheus-sd .*no-such-dir\/targets\.json: cannot write it: ENOENT/);
});

test("at start: the --prometheus-sd file holds [] and the service proxy serves nothing (the built-in kubernetes Service has no selector)", async () => {
  assert.equal(fs.readFileSync(sdFile, "utf8"), "[]\n");
  assert.deepEqual(await proxied(), {});
  const k = JSON.parse(await ok(["get", "service", "kubernetes", "-n", "default", "-o", "json"]));
  assert.equal(k.spec.clusterIP, "10.96.0.1");
});

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

test("--prometheus-sd lists each running real pod: POD_IP:9090 (its http port) with labels namespace, pod, track, app", async () => {
  const want = blue.map((p) => ({ targets: [`${p.status.podIP}:9090`], labels: { namespace: "streamgate", pod: p.metadata.name, track: "blue", app: "streamgate" } }))
    .sort((a, b) => a.labels.pod.localeCompare(b.labels.pod));
  await until(`the SD file lists the 2 blue pods: ${JSON.stringify(want)}`, () => JSON.stringify(readSd()) === JSON.stringify(want), 3000);
});

test("--service-proxy: a Service gets a loopback clusterIP whose connections reach every ready pod, follow a selector patch, and are reset with no ready endpoint", async () => {
  const more = (annotations, ports) => ({ labels: { tier: "web" }, annotations, ports });
  const file = writeManifest("web.json", [
    // web-a's http port is not its first; web-b's scrape port comes from its annotation (nothing
    // listens on 9099: only the SD file reads it).
    deployment("web-a", "a", kWebA, 1, 5, more(undefined, [{ name: "grpc", containerPort: 9191 }, { name: "http", containerPort: 9090 }])),
    deployment("web-b", "b", kWebB, 1, 5, more({ "prometheus.io/port": "9099" })),
    // The first port maps to 9191, where nothing listens: port 8080 works only if it is matched by name.
    service("web", { tier: "web" }, [{ name: "grpc", port: 8081, targetPort: 9191 }, { name: "http", port: 8080, targetPort: "http" }]),
    service("web-empty", { tier: "nothing" }, [{ name: "http", port: 8080, targetPort: "http" }]),
  ]);
  await ok(["apply", "-f", file]);
  await Promise.all(["web-a", "web-b"].map((d) => ok(["rollout", "status", `deployment/${d}`, "-n", "streamgate", "--timeout=20s"], { timeout: 30000 })));
  const [a] = await pods("version=a");
  const [b] = await pods("version=b");
  const svc = JSON.parse(await ok(["get", "service", "web", "-n", "streamgate", "-o", "json"]));
  const ip = svc.spec.clusterIP;
  assert.match(ip, kClusterIp, "a loopback clusterIP from the pod pool");
  assert.deepEqual(svc.spec.clusterIPs, [ip]);
  const podIps = JSON.parse(await ok(["get", "pods", "-n", "streamgate", "-o", "json"])).items.map((p) => p.status.podIP);
  assert.ok(!podIps.includes(ip), `${ip} is no pod's (${podIps})`);
  const emptyIp = JSON.parse(await ok(["get", "service", "web-empty", "-n", "streamgate", "-o", "json"])).spec.clusterIP;
  assert.match(emptyIp, kClusterIp);
  assert.notEqual(emptyIp, ip);
  await until("the proxy listens on both of web's ports", async () => {
    const s = (await proxied())["streamgate/web"];
    return s && s.ip === ip && s.ports.length === 2 && s.ports.every((p) => p.listening && p.error === null);
  }, 3000);
  await until("web's Endpoints list both pods", async () => {
    const e = JSON.parse(await ok(["get", "endpoints", "web", "-n", "streamgate", "-o", "json"]));
    return ((e.subsets || [])[0] || {}).addresses && e.subsets[0].addresses.length === 2;
  }, 5000);

  // Random choice per connection: 40 connections reach both pods (all on one: p = 2^-39).
  const seen = { "v2.0.0-a": 0, "v2.0.0-b": 0 };
  for (let i = 0; i < 40; i++) {
    const r = await get(`http://${ip}:8080/api/v1/health`);
    assert.equal(r.code, 200);
    assert.ok(r.version in seen, `version ${r.version}`);
    seen[r.version] += 1;
  }
  assert.ok(seen["v2.0.0-a"] >= 5 && seen["v2.0.0-b"] >= 5, `both pods answer through ${ip}:8080: ${JSON.stringify(seen)}`);

  // A kept-alive connection that reached pod a stays on it after the selector moves to b.
  let agent = null;
  for (let i = 0; i < 30 && !agent; i++) {
    const candidate = new http.Agent({ keepAlive: true, maxSockets: 1 });
    if ((await get(`http://${ip}:8080/api/v1/health`, candidate)).version === "v2.0.0-a") agent = candidate; else candidate.destroy();
  }
  assert.ok(agent, "a connection through the proxy reached pod a");
  await ok(["patch", "service", "web", "-n", "streamgate", "-p", JSON.stringify({ spec: { selector: { version: "b" } } })]);
  await until("web's Endpoints list pod b only", async () => {
    const e = JSON.parse(await ok(["get", "endpoints", "web", "-n", "streamgate", "-o", "json"]));
    const addrs = ((e.subsets || [])[0] || {}).addresses || [];
    return addrs.length === 1 && addrs[0].ip === b.status.podIP;
  }, 5000);
  const kept = await get(`http://${ip}:8080/api/v1/health`, agent);
  agent.destroy();
  assert.deepEqual({ version: kept.version, reused: kept.reused }, { version: "v2.0.0-a", reused: true }, "the open connection stays on pod a");
  for (let i = 0; i < 20; i++) assert.equal((await get(`http://${ip}:8080/api/v1/health`)).version, "v2.0.0-b", `new connection ${i} goes to pod b`);

  // No ready endpoint: the connection is reset at once (kube-proxy's REJECT).
  const t0 = Date.now();
  await assert.rejects(get(`http://${emptyIp}:8080/api/v1/health`), (e) => ["ECONNRESET", "EPIPE"].includes(e.code)); // EPIPE: the reset came before the request's write
  assert.ok(Date.now() - t0 < 1000, `reset in ${Date.now() - t0} ms`);

  // A port the proxy cannot bind (taken here first) is logged once and skipped; the rest serve on.
  const squatter = net.createServer();
  await new Promise((resolve, reject) => { squatter.once("error", reject); squatter.listen({ host: emptyIp, port: 8090 }, resolve); });
  try {
    await ok(["patch", "service", "web-empty", "-n", "streamgate", "-p", JSON.stringify({ spec: { ports: [{ name: "extra", port: 8090 }] } })]);
    const s = await until("web-empty's port 8090 is recorded as not served", async () => {
      const e = (await proxied())["streamgate/web-empty"];
      return e && e.ports.some((p) => p.port === 8090 && p.error) ? e : null;
    }, 3000);
    assert.deepEqual(s.ports.sort((x, y) => x.port - y.port), [{ port: 8080, listening: true, error: null }, { port: 8090, listening: false, error: "EADDRINUSE" }]);
    assert.equal(fixture.stderr.split(`cannot listen on ${emptyIp}:8090`).length, 2, `one stderr line: ${fixture.stderr}`);
  } finally { squatter.close(); }

  // The SD file: web-a at its http port, web-b at its annotation's port, tracks a and b.
  const sdOf = (p) => readSd().find((g) => g.labels.pod === p.metadata.name);
  await until("the SD file lists web-a and web-b", () => sdOf(a) && sdOf(b), 3000);
  assert.deepEqual(sdOf(a), { targets: [`${a.status.podIP}:9090`], labels: { namespace: "streamgate", pod: a.metadata.name, track: "a", app: "streamgate" } });
  assert.deepEqual(sdOf(b), { targets: [`${b.status.podIP}:9099`], labels: { namespace: "streamgate", pod: b.metadata.name, track: "b", app: "streamgate" } });

  // Deleting the Service closes its listeners; deleting a Deployment drops its pod from the SD file.
  await ok(["delete", "service", "web", "-n", "streamgate"]);
  await until("the proxy no longer serves web", async () => !("streamgate/web" in await proxied()), 3000);
  await assert.rejects(get(`http://${ip}:8080/api/v1/health`), (e) => e.code === "ECONNREFUSED");
  await ok(["delete", "deployment", "web-a", "web-b", "-n", "streamgate"]);
  await until("the SD file drops the deleted pods", () => !sdOf(a) && !sdOf(b), 8000);
  assert.equal(readSd().length, 2, "the blue pods stay listed");
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
  const services = await proxied();
  assert.ok("streamgate/streamgate-blue" in services && "streamgate/web-empty" in services, JSON.stringify(services));
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
  assert.equal(fs.readFileSync(sdFile, "utf8"), "[]\n", "the SD file lists no target once the pods are gone");
  // The Services' addresses are given back (another fixture may hold a freed one by now).
  for (const s of Object.values(services)) {
    const lock = path.join(os.tmpdir(), "fake-apiserver-pod-ips", s.ip);
    assert.ok(!fs.existsSync(lock) || fs.readFileSync(lock, "utf8") !== String(fixture.proc.pid), `${lock} is released`);
  }
});
