#!/usr/bin/env node
// Offline validation of deploy/k8s (run by scripts/test; no cluster needed):
//   1. renders every overlay with `kubectl kustomize`;
//   2. validates every object against the Kubernetes OpenAPI schemas (check/schema.cjs);
//   3. checks invariants (check/invariants.cjs): selectors, resources, probes on routes our
//      binaries serve, drain timing, security, HPAs, PDBs, NetworkPolicies, Secrets, RBAC
//      (the controller's Role: exactly what sgctl's kubernetes backend does);
//   4. checks the runbook's kubectl commands resolve (check/runbook.cjs), from
//      $SG_RUNBOOK or ../shared/runbook.md beside the repository;
//   5. checks the PrometheusRule matches deploy/prometheus/alerts.yml, and the in-cluster
//      scrape config with promtool (service discovery aside);
//   6. self-test: breaks rendered objects on purpose and requires each rule to fire.
// Exit 1 with one line per problem ("OVERLAY: Kind/name: rule: message").
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { render } = require("./check/render.cjs");
const { validateSchema } = require("./check/schema.cjs");
const { check } = require("./check/invariants.cjs");
const { checkRunbook } = require("./check/runbook.cjs");
const { serverRoutes, gatewayAdminRoutes, controlApiOpenRoutes } = require("./check/sources.cjs");
const { selfTest } = require("./check/self_test.cjs");
const YAML = require("yaml");

const root = path.resolve(__dirname, "../..");
const OVERLAYS = ["blue-green", "canary", "dev", "production"];

// JSON with object keys sorted (kustomize reorders keys).
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`;
  return JSON.stringify(v);
}

function monitoringProblems() {
  const objs = render(path.join(__dirname, "monitoring"));
  const rule = objs.find((o) => o.kind === "PrometheusRule");
  if (!rule) return ["monitoring: PrometheusRule/streamgate: missing"];
  const want = YAML.parse(fs.readFileSync(path.join(root, "deploy/prometheus/alerts.yml"), "utf8")).groups;
  const p = [];
  if (rule.apiVersion !== "monitoring.coreos.com/v1") p.push("monitoring: PrometheusRule/streamgate: apiVersion must be monitoring.coreos.com/v1");
  if (rule.metadata.namespace !== "streamgate") p.push("monitoring: PrometheusRule/streamgate: namespace must be streamgate");
  if (canonical(rule.spec.groups) !== canonical(want)) p.push("monitoring: PrometheusRule/streamgate: spec.groups differ from deploy/prometheus/alerts.yml");
  return p;
}

// promtool check config on the in-cluster scrape config. Debian's promtool is built without
// Kubernetes service discovery, so kubernetes_sd_configs is swapped for an empty
// static_configs first: everything else (relabelling, rule_files, globals) is checked.
function scrapeConfigProblems(objs) {
  const { execFileSync } = require("node:child_process");
  const os = require("node:os");
  const cm = objs.find((o) => o.kind === "ConfigMap" && o.metadata.name === "streamgate-prometheus");
  if (!cm) return ["ConfigMap/streamgate-prometheus: scrape: missing"];
  const cfg = YAML.parse(cm.data["prometheus.yml"]);
  for (const job of cfg.scrape_configs) {
    if (!job.kubernetes_sd_configs) return [`ConfigMap/streamgate-prometheus: scrape: job ${job.job_name} does not discover pods`];
    delete job.kubernetes_sd_configs;
    job.static_configs = [];
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-promcfg-"));
  try {
    fs.writeFileSync(path.join(dir, "prometheus.yml"), YAML.stringify(cfg));
    execFileSync("promtool", ["check", "config", path.join(dir, "prometheus.yml")], { stdio: ["ignore", "pipe", "pipe"] });
    return [];
  } catch (e) {
    if (e.code === "ENOENT") { console.log("scrape config: promtool not installed, NOT checked"); return []; }
    return [`ConfigMap/streamgate-prometheus: scrape: promtool: ${String(e.stderr || e.stdout).trim().split("\n").pop()}`];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function main() {
  const started = Date.now();
  const ctx = { serverRoutes: serverRoutes(root), gatewayRoutes: gatewayAdminRoutes(root), controlRoutes: controlApiOpenRoutes(root) };
  const problems = [];
  const overlays = {};
  for (const name of OVERLAYS) {
    let objs;
    try {
      objs = render(path.join(__dirname, "overlays", name));
    } catch (e) {
      problems.push(`${name}: render: ${e.message}`);
      continue;
    }
    overlays[name] = objs;
    const found = [...validateSchema(objs), ...check(objs, ctx)];
    for (const f of found) problems.push(`${name}: ${f}`);
    console.log(`${name}: ${objs.length} objects, ${found.length} problems`);
  }
  problems.push(...monitoringProblems());
  if (overlays.dev) problems.push(...scrapeConfigProblems(overlays.dev).map((x) => `dev: ${x}`));

  const runbookPath = process.env.SG_RUNBOOK || path.join(root, "..", "shared", "runbook.md");
  if (fs.existsSync(runbookPath)) {
    const r = checkRunbook(fs.readFileSync(runbookPath, "utf8"), overlays, validateSchema);
    if (process.argv.includes("--verbose")) console.log(r.report.join("\n"));
    const n = r.report.length;
    console.log(`runbook: ${n} kubectl commands, ${r.report.filter((l) => l.startsWith("  ok")).length} resolved, ` +
      `${r.report.filter((l) => l.startsWith("  skip")).length} need no object of ours, ${r.problems.length} fail`);
    problems.push(...r.problems);
  } else {
    console.log(`runbook: ${runbookPath} not found (set SG_RUNBOOK): runbook commands NOT checked`);
  }

  if (overlays["blue-green"]) problems.push(...selfTest(overlays["blue-green"], ctx));

  for (const p of problems) console.error(`FAIL ${p}`);
  console.log(`deploy/k8s: ${problems.length ? "FAILED" : "ok"} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.exit(problems.length ? 1 : 0);
}

main();
