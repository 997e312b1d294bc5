// Drives the REAL kubectl against the stand-in API server (tests/kube/fake-apiserver.cjs):
// apply of the rendered blue-green overlay, JSON/jsonpath/table output, the runbook's patch of
// streamgate-active, scale, rollout status (ready after the delay; never ready; rollback), a
// crash-looping pod, watch, a stale PUT, Status errors, a Lease; then each kubectl command of
// the runbook (../shared/runbook.md) against fresh fixtures holding the blue-green and canary
// overlays. Run: node tests/kube/fake-apiserver.test.cjs (15-50 s on a loaded 2-core machine;
// a watchdog fails it at 90 s; skips without kubectl).
"use strict";
const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { until: untilWithin } = require("./lib/until.cjs");
const { spawn, spawnSync, execFile } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const readline = require("node:readline");

const root = path.resolve(__dirname, "../..");
const kReadyDelayMs = 400;
const kCommandTimeoutMs = 20000;

if (spawnSync("kubectl", ["version", "--client"], { stdio: "ignore" }).status !== 0) {
  console.log("SKIPPED: kubectl is not installed, so the fake API server was NOT tested against it (scripts/install-deps installs it)");
  process.exit(0);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fake-apiserver-test-"));
const fixtures = [];
const children = new Set(); // kubectl processes running now

// The whole file is bounded: past kWatchdogMs it stops what it started, by pid, and fails.
const kWatchdogMs = 90000;
setTimeout(() => {
  console.error(`FAILED: tests/kube/fake-apiserver.test.cjs ran over ${kWatchdogMs / 1000} s; stopping its fixtures and kubectl processes`);
  for (const c of children) c.kill("SIGKILL");
  for (const f of fixtures) if (f.proc.exitCode === null) f.proc.kill("SIGKILL");
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(1);
}, kWatchdogMs).unref();

// Starts a fixture; resolves to { url, proc, kubeconfig, kubectl(args) }.
async function startFixture(name, extraArgs = []) {
  const proc = spawn(process.execPath, [path.join(__dirname, "fake-apiserver.cjs"), "--ready-delay-ms", String(kReadyDelayMs), "--crash-period-ms", "200", ...extraArgs],
    { stdio: ["ignore", "pipe", "pipe"] });
  const f = { name, proc, stderr: "" };
  fixtures.push(f);
  proc.stderr.on("data", (d) => { f.stderr += d; });
  const first = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`fixture ${name} printed no URL in 10 s: ${f.stderr}`)), 10000);
    readline.createInterface({ input: proc.stdout }).once("line", (l) => { clearTimeout(t); resolve(l); });
    proc.once("exit", (code) => reject(new Error(`fixture ${name} exited with ${code}: ${f.stderr}`)));
  });
  const m = /^listening (http:\/\/127\.0\.0\.1:\d+)$/.exec(first);
  assert.ok(m, `first line is "listening URL", got ${first}`);
  f.url = m[1];
  f.dir = fs.mkdtempSync(path.join(tmp, `${name}-`));
  f.kubeconfig = path.join(f.dir, "kubeconfig");
  fs.writeFileSync(f.kubeconfig, [
    "apiVersion: v1", "kind: Config",
    `clusters: [{name: fixture, cluster: {server: "${f.url}"}}]`,
    "users: [{name: fixture, user: {}}]",
    "contexts: [{name: fixture, context: {cluster: fixture, user: fixture, namespace: default}}]",
    "current-context: fixture", ""].join("\n"));
  f.env = { ...process.env, KUBECONFIG: f.kubeconfig, KUBECACHEDIR: path.join(f.dir, "cache"), HOME: f.dir };
  f.kubectl = (args, opts = {}) => new Promise((resolve) => {
    const started = Date.now();
    const child = execFile("kubectl", args, { env: f.env, timeout: opts.timeout || kCommandTimeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      children.delete(child);
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr, ms: Date.now() - started });
    });
    children.add(child);
  });
  f.ok = async (args, opts) => {
    const r = await f.kubectl(args, opts);
    assert.equal(r.code, 0, `kubectl ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  return f;
}

function render(overlay) {
  const r = spawnSync("kubectl", ["kustomize", path.join(root, "deploy/k8s/overlays", overlay)], { encoding: "utf8", maxBuffer: 16 << 20 });
  assert.equal(r.status, 0, r.stderr);
  const file = path.join(tmp, `${overlay}.yaml`);
  fs.writeFileSync(file, r.stdout);
  return { file, count: (r.stdout.match(/^kind: /mg) || []).length };
}

const until = (what, fn, ms = 5000) => untilWithin(what, fn, ms);

const rows = (table) => table.trim().split("\n").map((l) => l.trim().split(/\s{2,}/));

let k; // the scenario fixture, holding the blue-green overlay
before(async () => {
  k = await startFixture("scenario");
});

after(async () => {
  for (const f of fixtures) {
    if (f.proc.exitCode === null) {
      const exited = new Promise((r) => f.proc.once("exit", (code) => r(code)));
      f.proc.kill("SIGTERM");
      const code = await exited;
      assert.equal(code, 0, `fixture ${f.name} exits 0 on SIGTERM`);
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

test("kubectl apply -f creates every object of the rendered blue-green overlay", async () => {
  const { file, count } = render("blue-green");
  const out = await k.ok(["apply", "-f", file]);
  const created = out.split("\n").filter((l) => l.endsWith(" created"));
  assert.equal(created.length, count, `one "created" line per rendered object:\n${out}`);
  assert.match(out, /^deployment\.apps\/streamgate-blue created$/m);
  const again = await k.ok(["apply", "-f", file]);
  assert.match(again, /^service\/streamgate-active unchanged$/m, "a second apply changes nothing it applied");
});

test("get -o json, -o jsonpath and the default table", async () => {
  const d = JSON.parse(await k.ok(["get", "deployment", "streamgate-blue", "-n", "streamgate", "-o", "json"]));
  assert.equal(d.kind, "Deployment");
  assert.equal(d.metadata.generation, 1);
  assert.match(d.metadata.uid, /^[0-9a-f-]{36}$/);
  assert.match(d.metadata.resourceVersion, /^\d+$/);
  assert.equal(await k.ok(["get", "service", "streamgate-active", "-n", "streamgate", "-o", "jsonpath={.spec.selector.version}"]), "blue");
  const deps = rows(await k.ok(["get", "deployments", "-n", "streamgate"]));
  assert.deepEqual(deps[0], ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
  assert.deepEqual(deps.slice(1).map((r) => r[0]), ["streamgate-blue", "streamgate-canary", "streamgate-controller", "streamgate-gateway", "streamgate-green"]);
  const svcs = rows(await k.ok(["get", "services", "-n", "streamgate"]));
  assert.deepEqual(svcs[0], ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]);
  const active = svcs.find((r) => r[0] === "streamgate-active");
  assert.equal(active[1], "ClusterIP");
  assert.equal(active[4], "80/TCP,9090/TCP");
  const hpa = rows(await k.ok(["get", "hpa", "streamgate-hpa-cpu", "-n", "streamgate"]));
  assert.deepEqual(hpa[0].slice(0, 3), ["NAME", "REFERENCE", "TARGETS"]);
  assert.equal(hpa[1][1], "Deployment/streamgate-blue");
});

test("rollout status succeeds once the pods are ready, after the ready delay", async () => {
  const r = await k.kubectl(["rollout", "status", "deployment/streamgate-blue", "-n", "streamgate", "--timeout=10s"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /deployment "streamgate-blue" successfully rolled out/);
  const pods = rows(await k.ok(["get", "pods", "-n", "streamgate", "-l", "version=blue"]));
  assert.deepEqual(pods[0], ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
  assert.equal(pods.length - 1, 2);
  for (const p of pods.slice(1)) assert.deepEqual(p.slice(1, 4), ["1/1", "Running", "0"]);
  const ready = await k.ok(["wait", "--for=condition=Available", "deployment/streamgate-blue", "-n", "streamgate", "--timeout=5s"]);
  assert.match(ready, /deployment.apps\/streamgate-blue condition met/);
});

test("the runbook's patch of streamgate-active switches the selector to green (strategic merge)", async () => {
  const out = await k.ok(["patch", "service", "streamgate-active", "-n", "streamgate", "-p", '{"spec":{"selector":{"version":"green"}}}']);
  assert.equal(out.trim(), "service/streamgate-active patched");
  assert.equal(await k.ok(["get", "service", "streamgate-active", "-n", "streamgate", "-o", "jsonpath={.spec.selector.version}"]), "green");
  assert.equal(await k.ok(["get", "service", "streamgate-active", "-n", "streamgate", "-o", "jsonpath={.spec.selector.app}"]), "streamgate", "the merge keeps app=streamgate");
  await until("the Endpoints of streamgate-active list the green pods", async () => {
    const ep = JSON.parse(await k.ok(["get", "endpoints", "streamgate-active", "-n", "streamgate", "-o", "json"]));
    const names = ((ep.subsets || [])[0] || {}).addresses || [];
    return names.length === 2 && names.every((a) => a.targetRef.name.startsWith("streamgate-green-"));
  });
  const merge = await k.ok(["patch", "deployment", "streamgate-blue", "-n", "streamgate", "--type=merge", "-p", '{"metadata":{"labels":{"patched":"merge"}}}']);
  assert.match(merge, /patched/);
  const json = await k.ok(["patch", "deployment", "streamgate-blue", "-n", "streamgate", "--type=json", "-p", '[{"op":"replace","path":"/metadata/labels/patched","value":"json"}]']);
  assert.match(json, /patched/);
  assert.equal(await k.ok(["get", "deployment", "streamgate-blue", "-n", "streamgate", "-o", "jsonpath={.metadata.labels.patched}"]), "json");
  const bad = await k.kubectl(["patch", "deployment", "streamgate-blue", "-n", "streamgate", "--type=json", "-p", '[{"op":"test","path":"/spec/replicas","value":99}]']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /The request is invalid: testing value \/spec\/replicas failed/);
});

test("kubectl scale goes through the scale subresource and the pods follow", async () => {
  const out = await k.ok(["scale", "deployment", "streamgate-blue", "-n", "streamgate", "--replicas=4"]);
  assert.equal(out.trim(), "deployment.apps/streamgate-blue scaled");
  assert.equal(await k.ok(["get", "deployment", "streamgate-blue", "-n", "streamgate", "-o", "jsonpath={.spec.replicas}"]), "4");
  await k.ok(["rollout", "status", "deployment/streamgate-blue", "-n", "streamgate", "--timeout=10s"]);
  const pods = rows(await k.ok(["get", "pods", "-n", "streamgate", "-l", "version=blue", "--no-headers"]));
  assert.equal(pods.length, 4, pods.join("\n"));
  const deps = rows(await k.ok(["get", "deployment", "streamgate-blue", "-n", "streamgate", "--no-headers"]));
  assert.deepEqual(deps[0].slice(0, 4), ["streamgate-blue", "4/4", "4", "4"]);
  const describe = await k.ok(["describe", "deployment", "streamgate-blue", "-n", "streamgate"]);
  assert.match(describe, /Replicas:\s+4 desired \| 4 updated \| 4 total \| 4 available \| 0 unavailable/);
  assert.match(describe, /ScalingReplicaSet .*Scaled up replica set streamgate-blue-\w+ from 2 to 4/);
});

test("a never-ready image: rollout status times out, the old pods keep serving, rollout undo recovers", async () => {
  await k.ok(["set", "image", "deployment/streamgate-green", "streamgate-server=streamgate:v0.2.0-never-ready", "-n", "streamgate"]);
  const r = await k.kubectl(["rollout", "status", "deployment/streamgate-green", "-n", "streamgate", "--timeout=2s"]);
  assert.equal(r.code, 1, `rollout status fails: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /timed out waiting for the condition/);
  const pods = JSON.parse(await k.ok(["get", "pods", "-n", "streamgate", "-l", "version=green", "-o", "json"])).items;
  const ready = (p) => p.status.conditions.some((c) => c.type === "Ready" && c.status === "True");
  assert.equal(pods.filter((p) => p.spec.containers[0].image.endsWith("-never-ready") && !ready(p)).length, 2, "two new pods, not ready");
  assert.equal(pods.filter((p) => p.spec.containers[0].image === "streamgate:v0.1.0" && ready(p)).length, 2, "the two old pods stay ready");
  assert.match(await k.ok(["rollout", "undo", "deployment/streamgate-green", "-n", "streamgate"]), /rolled back/);
  await k.ok(["rollout", "status", "deployment/streamgate-green", "-n", "streamgate", "--timeout=10s"]);
  assert.equal(await k.ok(["get", "deployment", "streamgate-green", "-n", "streamgate", "-o", "jsonpath={.spec.template.spec.containers[0].image}"]), "streamgate:v0.1.0");
});

test("rollout restart patches the pod template's annotations and rolls out a new ReplicaSet", async () => {
  assert.match(await k.ok(["rollout", "restart", "deployment/streamgate-gateway", "-n", "streamgate"]), /restarted/);
  const d = JSON.parse(await k.ok(["get", "deployment", "streamgate-gateway", "-n", "streamgate", "-o", "json"]));
  assert.ok(d.spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"], "the restartedAt annotation is merged in");
  assert.equal(d.spec.template.metadata.labels.app, "streamgate-gateway", "the labels stay");
  assert.equal(d.metadata.generation, 2);
  await k.ok(["rollout", "status", "deployment/streamgate-gateway", "-n", "streamgate", "--timeout=10s"]);
  const rs = rows(await k.ok(["get", "rs", "-n", "streamgate", "-l", "app=streamgate-gateway", "--no-headers"]));
  assert.deepEqual(rs.map((r) => r.slice(1, 4)).sort(), [["0", "0", "0"], ["2", "2", "2"]], "old ReplicaSet at 0, new at 2 ready");
});

test("a crash-looping pod shows CrashLoopBackOff with restarts in kubectl get pods", async () => {
  const file = path.join(tmp, "crashy.json");
  fs.writeFileSync(file, JSON.stringify({
    apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "streamgate-crashloop", namespace: "streamgate", labels: { app: "streamgate", version: "crashloop" } },
    spec: { replicas: 1, selector: { matchLabels: { app: "streamgate", version: "crashloop" } },
      template: { metadata: { labels: { app: "streamgate", version: "crashloop" } }, spec: { containers: [{ name: "streamgate-server", image: "streamgate:v0.2.0-crashloop" }] } } },
  }));
  assert.match(await k.ok(["create", "-f", file]), /deployment.apps\/streamgate-crashloop created/);
  const row = await until("the crash-looping pod crash-loops with 2 restarts", async () => {
    const r = rows(await k.ok(["get", "pods", "-n", "streamgate", "-l", "version=crashloop", "--no-headers"]));
    return r.length === 1 && r[0][2] === "CrashLoopBackOff" && Number(r[0][3]) >= 2 ? r[0] : null;
  });
  assert.equal(row[1], "0/1");
  const pod = JSON.parse(await k.ok(["get", "pod", row[0], "-n", "streamgate", "-o", "json"]));
  assert.equal(pod.status.containerStatuses[0].lastState.terminated.exitCode, 1);
  const del = await k.ok(["delete", "deployment", "streamgate-crashloop", "-n", "streamgate"]);
  assert.equal(del.trim(), 'deployment.apps "streamgate-crashloop" deleted');
  await until("the crash-looping pods are garbage-collected", async () =>
    (await k.ok(["get", "pods", "-n", "streamgate", "-l", "version=crashloop", "-o", "name"])).trim() === "");
});

test("kubectl get --watch sees a change", async () => {
  const w = spawn("kubectl", ["get", "deployment", "streamgate-gateway", "-n", "streamgate", "--watch", "--output-watch-events", "--no-headers"], { env: k.env });
  children.add(w);
  w.once("exit", () => children.delete(w));
  const lines = [];
  const seen = new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no MODIFIED event in 10 s: ${lines.join("\n")}`)), 10000);
    readline.createInterface({ input: w.stdout }).on("line", (l) => {
      lines.push(l);
      if (lines.length === 1) k.ok(["scale", "deployment", "streamgate-gateway", "-n", "streamgate", "--replicas=3"]).catch(reject);
      if (/^MODIFIED\s+streamgate-gateway\s+\d\/3\b/.test(l)) { clearTimeout(t); resolve(); }
    });
  });
  try { await seen; } finally { w.kill("SIGTERM"); }
  assert.match(lines[0], /^ADDED\s+streamgate-gateway\s+2\/2/);
});

test("kubectl replace with a stale object gets a Conflict; Status errors print as from a real server", async () => {
  const file = path.join(tmp, "lease.json");
  fs.writeFileSync(file, JSON.stringify({ apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "streamgate-controller", namespace: "streamgate" },
    spec: { holderIdentity: "controller-a", leaseDurationSeconds: 15 } }));
  await k.ok(["create", "-f", file]);
  const stale = path.join(tmp, "lease-stale.json");
  fs.writeFileSync(stale, await k.ok(["get", "lease", "streamgate-controller", "-n", "streamgate", "-o", "json"]));
  const won = JSON.parse(fs.readFileSync(stale, "utf8"));
  won.spec.holderIdentity = "controller-b";
  const fresh = path.join(tmp, "lease-b.json");
  fs.writeFileSync(fresh, JSON.stringify(won));
  assert.match(await k.ok(["replace", "-f", fresh]), /lease.coordination.k8s.io\/streamgate-controller replaced/);
  const r = await k.kubectl(["replace", "-f", stale]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim(), `Error from server (Conflict): error when replacing "${stale}": Operation cannot be fulfilled on leases.coordination.k8s.io "streamgate-controller": the object has been modified; please apply your changes to the latest version and try again`);
  assert.equal(await k.ok(["get", "lease", "streamgate-controller", "-n", "streamgate", "-o", "jsonpath={.spec.holderIdentity}"]), "controller-b");

  const nf = await k.kubectl(["get", "deployment", "x", "-n", "streamgate"]);
  assert.equal(nf.code, 1);
  assert.equal(nf.stderr.trim(), 'Error from server (NotFound): deployments.apps "x" not found');
  const ae = await k.kubectl(["create", "-f", file]);
  assert.equal(ae.stderr.trim(), `Error from server (AlreadyExists): error when creating "${file}": leases.coordination.k8s.io "streamgate-controller" already exists`);
  const badFile = path.join(tmp, "bad.json");
  fs.writeFileSync(badFile, JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "Bad_Name", namespace: "streamgate" } }));
  const inv = await k.kubectl(["create", "-f", badFile]);
  assert.equal(inv.code, 1);
  assert.match(inv.stderr, /^The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/);
  const nsf = await k.kubectl(["get", "pods", "-n", "nowhere", "nope"]);
  assert.equal(nsf.stderr.trim(), 'Error from server (NotFound): namespaces "nowhere" not found', "kubectl 1.32 checks the namespace after a NotFound");
});

test("GET /__fixture/state lists the stored objects", async () => {
  const state = await (await fetch(`${k.url}/__fixture/state`)).json();
  assert.ok(state.objects.some((o) => o.kind === "Lease" && o.spec.holderIdentity === "controller-b"));
  assert.ok(state.objects.filter((o) => o.kind === "Pod").length >= 9);
});

require("./runbook_commands.cjs").register({ test, startFixture, render, until, rows, tmp });
