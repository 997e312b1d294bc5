// The runbook part of fake-apiserver.test.cjs: each kubectl command of ../shared/runbook.md
// (extracted by deploy/k8s/check/runbook.cjs, which check-k8s uses offline) is run with the
// real kubectl against fresh fixtures holding the rendered blue-green, canary and dev
// overlays, on the first overlay that has what the command names, and its output is checked
// against what the runbook expects of it. Commands the fixture cannot serve (kubectl top,
// exec, run, the metrics API) are listed as not run, with the reason.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const assert = require("node:assert/strict");

const root = path.resolve(__dirname, "../..");
const kOverlays = ["blue-green", "canary", "dev"];
const kConcurrency = 3;

function words(line) {
  const out = [];
  for (const m of line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

function notRunnable(c) {
  if (c.verb === "top" || c.line.includes("--raw")) return "the fixture serves no metrics API (metrics.k8s.io)";
  if (["exec", "run", "attach", "port-forward"].includes(c.verb)) return "the fixture has no kubelet: nothing runs in a pod";
  if (c.ns !== "streamgate") return `namespace ${c.ns || "(default)"}, not ours`;
  return null;
}

// Does `want` (a patch) hold in `obj`? Arrays compare element by element.
function contains(obj, want) {
  if (want === null || typeof want !== "object") return obj === want;
  if (obj === null || typeof obj !== "object") return false;
  return Object.entries(want).every(([k, v]) => contains(obj[k], v));
}

function register({ test, startFixture, render, rows, until }) {
  const runbookPath = process.env.SG_RUNBOOK || path.resolve(root, "../shared/runbook.md");
  let rb;
  let renderObjects;
  try { rb = require("../../deploy/k8s/check/runbook.cjs"); renderObjects = require("../../deploy/k8s/check/render.cjs").render; } catch (e) {
    test("each kubectl command of the runbook", { skip: `deploy/k8s/check/runbook.cjs cannot load (${e.message.split("\n")[0]}): run npm ci` }, () => {});
    return;
  }
  if (!fs.existsSync(runbookPath)) {
    test("each kubectl command of the runbook", { skip: `no runbook at ${runbookPath} (set SG_RUNBOOK)` }, () => {});
    return;
  }

  test("each kubectl command of the runbook returns what the runbook expects", async (t) => {
    const t0 = Date.now();
    const fx = {};
    // Rendering blocks (spawnSync), so it is done before the fixtures start, not among them.
    const rendered = Object.fromEntries(kOverlays.map((o) => [o, { file: render(o).file, objects: renderObjects(path.join(root, "deploy/k8s/overlays", o)) }]));
    await Promise.all(kOverlays.map(async (o) => {
      const f = await startFixture(`runbook-${o}`);
      const { file, objects } = rendered[o];
      f.objects = objects;
      await f.ok(["apply", "-f", file]);
      await until(`the ${o} overlay's Deployments are all available`, async () => {
        const state = await (await fetch(`${f.url}/__fixture/state`)).json();
        const deps = state.objects.filter((x) => x.kind === "Deployment");
        return deps.length && deps.every((d) => d.status && (d.status.availableReplicas || 0) === d.spec.replicas && d.status.observedGeneration === d.metadata.generation);
      }, 20000);
      fx[o] = f;
    }));
    const setupMs = Date.now() - t0;
    const md = fs.readFileSync(runbookPath, "utf8");
    const lines = [...new Set(rb.commands(md))];
    const report = [];
    const failures = [];
    const seen = new Set();
    const jobs = lines.map((line) => async () => {
      let c = rb.parse(line);
      const why = notRunnable(c);
      if (why) { report.push(`  not run  ${line}  (${why})`); return; }
      const overlay = kOverlays.find((o) => rb.checkRunbook(line.includes("<pod-name>") ? "" : line, { [o]: fx[o].objects }, () => []).problems.length === 0);
      if (!overlay) { failures.push(`${line}: no overlay has what it names (see scripts/check-k8s)`); return; }
      const f = fx[overlay];
      // The shell would strip the quotes inside a word (jsonpath='{...}', --sort-by='.x').
      let args = words(line).slice(1).map((a) => a.replace(/^([^'"]*)'(.*)'$/, "$1$2")).filter((a) => a !== "-w" && a !== "-it" && !(c.verb === "logs" && a === "-f"));
      const key = `${overlay} ${args.join(" ")}`;
      if (seen.has(key)) { report.push(`  same     ${line}  (run as kubectl ${args.join(" ")})`); return; }
      seen.add(key);
      if (line.includes("<pod-name>")) {
        const pod = (await f.ok(["get", "pods", "-n", "streamgate", "-l", "app=streamgate", "-o", "jsonpath={.items[0].metadata.name}"])).trim();
        args = args.map((a) => (a === "<pod-name>" ? pod : a));
        c = rb.parse(`kubectl ${args.join(" ")}`);
      }
      const r = await f.kubectl(args);
      const problem = await expectation(c, args, r, f);
      if (problem) failures.push(`[${overlay}] kubectl ${args.join(" ")}: ${problem}`);
      else report.push(`  ok       ${line}  [${overlay}${args.length !== words(line).length - 1 ? ", without -w/-f: one-shot" : ""}]`);
    });
    const workers = Array.from({ length: kConcurrency }, async () => { while (jobs.length) await jobs.shift()(); });
    await Promise.all(workers);
    t.diagnostic(`fixtures loaded in ${setupMs} ms, commands run in ${Date.now() - t0 - setupMs} ms`);
    t.diagnostic(`runbook commands against the fixture:\n${report.sort().join("\n")}`);
    assert.deepEqual(failures, [], failures.join("\n"));
    assert.ok(report.filter((l) => l.startsWith("  ok")).length >= 20, `at least 20 runbook commands ran:\n${report.join("\n")}`);
  });

  // What the runbook expects of a command's output; null when it holds.
  async function expectation(c, args, r, f) {
    if (r.code !== 0) return `exit ${r.code}: ${r.stderr.trim()}`;
    const out = r.stdout;
    const kindOf = { deployment: "Deployment", deployments: "Deployment", service: "Service", services: "Service", hpa: "HorizontalPodAutoscaler",
      endpoints: "Endpoints", configmap: "ConfigMap", configmaps: "ConfigMap", secret: "Secret", secrets: "Secret" };
    // Pods the rendered workloads run that match the command's -l (none for the canary before it is scaled up).
    const sel = c.selector ? Object.fromEntries(c.selector.split(",").map((kv) => kv.split("="))) : {};
    const podsExpected = f.objects.filter((o) => ["Deployment", "StatefulSet"].includes(o.kind) && (o.spec.replicas ?? 1) > 0
      && Object.entries(sel).every(([k, v]) => o.spec.template.metadata.labels[k] === v)).length > 0;
    if (c.verb === "get" && c.jsonpath) {
      const obj = f.objects.find((o) => o.kind === kindOf[c.type] && o.metadata.name === c.name);
      const want = String(rb.jsonpath(obj, c.jsonpath));
      return out === want ? null : `printed ${JSON.stringify(out)}, the rendered object has ${JSON.stringify(want)}`;
    }
    if (c.verb === "get" && args.includes("yaml")) {
      return /^kind: (HorizontalPodAutoscaler|List)$/m.test(out) && (!c.name || out.includes(`name: ${c.name}`)) ? null : `no ${c.type}/${c.name} in the YAML`;
    }
    if (c.verb === "get" && c.type === "events") {
      return /ScalingReplicaSet/.test(out) ? null : `no ScalingReplicaSet event in:\n${out}`;
    }
    if ((c.verb === "get" && c.type === "pods") || c.verb === "logs") {
      if (!podsExpected) return out === "" && /^No resources found in streamgate namespace\.$/m.test(r.stderr) ? null : `pods listed where the overlay runs none: ${out}${r.stderr}`;
    }
    if (c.verb === "get") {
      const table = rows(out);
      if (!table.length || table[0][0] !== "NAME") return `no table:\n${out}${r.stderr}`;
      const names = table.slice(1).map((row) => row[0]);
      if (c.type === "pods") {
        if (!names.length) return "no pods listed";
        const bad = table.slice(1).filter((row) => row[2] !== "Running" || row[1].split("/")[0] !== row[1].split("/")[1]);
        return bad.length ? `pods not ready and running: ${bad.map((b) => b.join(" ")).join("; ")}` : null;
      }
      if (c.type === "endpoints") {
        const svc = f.objects.find((o) => o.kind === "Service" && o.metadata.name === c.name);
        const replicas = f.objects.filter((o) => o.kind === "Deployment" && Object.entries(svc.spec.selector).every(([k, v]) => o.spec.template.metadata.labels[k] === v))
          .reduce((a, d) => a + (d.spec.replicas ?? 1), 0);
        const want = replicas ? /^(\d+\.\d+\.\d+\.\d+:9090,?)+/ : /^<none>$/;
        return want.test(table[1][1]) ? null : `ENDPOINTS ${table[1][1]}, want ${replicas} ready pod(s) on port 9090`;
      }
      const kind = kindOf[c.type];
      let want = f.objects.filter((o) => o.kind === kind && o.metadata.namespace === "streamgate");
      if (c.name) want = want.filter((o) => o.metadata.name === c.name);
      if (c.selector) {
        const sel = Object.fromEntries(c.selector.split(",").map((kv) => kv.split("=")));
        want = want.filter((o) => Object.entries(sel).every(([k, v]) => (o.metadata.labels || {})[k] === v));
      }
      const expected = want.map((o) => o.metadata.name).sort();
      return JSON.stringify(names.slice().sort()) === JSON.stringify(expected) ? null : `listed ${names.join(",")}, the overlay has ${expected.join(",")}`;
    }
    if (c.verb === "describe") return new RegExp(`^Name:\\s+${c.name}$`, "m").test(out) ? null : `no "Name: ${c.name}" in:\n${out}`;
    if (c.verb === "scale") {
      const n = args.find((a) => a.startsWith("--replicas=")).slice(11);
      if (out.trim() !== `deployment.apps/${c.name} scaled`) return `printed ${out}`;
      const now = await f.ok(["get", "deployment", c.name, "-n", "streamgate", "-o", "jsonpath={.spec.replicas}"]);
      return now === n ? null : `spec.replicas is ${now}, not ${n}`;
    }
    if (c.verb === "patch") {
      if (!/^\S+\/\S+ patched( \(no change\))?$/.test(out.trim())) return `printed ${out}`;
      const obj = JSON.parse(await f.ok(["get", c.type, c.name, "-n", "streamgate", "-o", "json"]));
      return contains(obj, JSON.parse(c.patch)) ? null : `the object does not hold the patch: ${JSON.stringify(obj.spec)}`;
    }
    if (c.verb === "logs") {
      const got = out.trim().split("\n").filter(Boolean);
      return got.length && got.every((l) => l.startsWith("fake-apiserver: pod ")) ? null : `log lines: ${out}`;
    }
    return `no expectation for kubectl ${c.verb}: add one`;
  }
}

module.exports = { register };
