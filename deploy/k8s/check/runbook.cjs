// Checks the runbook's kubectl commands (../shared/runbook.md) against the rendered overlays:
// every named object exists, every -l selector matches, every -o jsonpath resolves, and a
// `kubectl patch` gives an object that still validates. A command passes when at least one
// overlay satisfies it; the report says which.
"use strict";
const { matches, podLabels, find } = require("./invariants.cjs");

const KINDS = {
  deployment: "Deployment", deployments: "Deployment", deploy: "Deployment",
  service: "Service", services: "Service", svc: "Service",
  endpoints: "Service", // Endpoints are made by the control plane for a Service of that name
  hpa: "HorizontalPodAutoscaler", horizontalpodautoscaler: "HorizontalPodAutoscaler",
  configmap: "ConfigMap", configmaps: "ConfigMap", secret: "Secret", secrets: "Secret",
  pods: "Pod", pod: "Pod",
};

// Splits a shell command line into words, honouring single and double quotes.
function words(line) {
  const out = [];
  for (const m of line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

function commands(markdown) {
  const cmds = [];
  for (const raw of markdown.split("\n")) {
    const at = raw.indexOf("kubectl ");
    if (at < 0 || raw.trim().startsWith("#")) continue;
    let line = raw.slice(at).replace(/\)\s*$/, "").split("|")[0];
    if (!line.includes("<pod-name>")) line = line.split(">")[0];
    line = line.trim();
    cmds.push(line);
  }
  return cmds;
}

function jsonpath(obj, expr) {
  const m = /^\{\.(.*)\}$/.exec(expr);
  if (!m) return undefined;
  let cur = obj;
  for (const part of m[1].split(".")) {
    const idx = /^([^[]+)((?:\[\d+\])*)$/.exec(part);
    if (!idx || cur == null) return undefined;
    cur = cur[idx[1]];
    for (const n of idx[2].matchAll(/\[(\d+)\]/g)) cur = cur == null ? undefined : cur[Number(n[1])];
  }
  return cur;
}

// JSON merge patch (RFC 7386); for the fields the runbook patches it equals the strategic merge.
function mergePatch(target, patch) {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out = target && typeof target === "object" && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function parse(line) {
  const w = words(line);
  const c = { line, verb: w[1], ns: null, selector: null, jsonpath: null, patch: null, type: null, name: null };
  const pos = [];
  for (let i = 2; i < w.length; i++) {
    const a = w[i];
    if (a === "-n") c.ns = w[++i];
    else if (a === "-l") c.selector = w[++i];
    else if (a === "-o") { const o = w[++i]; if (o.startsWith("jsonpath=")) c.jsonpath = o.slice(9).replace(/^'(.*)'$/, "$1"); }
    else if (a === "-p") c.patch = w[++i];
    else if (a === "--") break;
    else if (!a.startsWith("-")) pos.push(a);
  }
  if (["get", "describe", "scale", "patch"].includes(c.verb)) [c.type, c.name] = pos;
  if (c.verb === "rollout") [c.type, c.name] = pos.slice(1);
  return c;
}

// Why this command needs nothing of ours, or null when it does.
function outOfScope(c) {
  if (c.line.includes("<pod-name>")) return "names a pod picked by the operator";
  if (c.ns !== "streamgate") return `namespace ${c.ns || "(default)"}, not ours`;
  if (["top", "exec", "run"].includes(c.verb) && !c.selector) return "reads live state only";
  if (c.verb === "get" && c.type === "events") return "reads live state only";
  if (c.line.includes("--raw")) return "reads the metrics API";
  return null;
}

function satisfies(c, objs, validate) {
  const kind = KINDS[c.type];
  if (c.type && !kind && c.verb !== "logs" && c.verb !== "top") return `unknown resource type ${c.type}`;
  let target = null;
  if (c.name) {
    target = find(objs, kind, c.name);
    if (!target) return `no ${kind}/${c.name}`;
  }
  if (c.selector) {
    const sel = Object.fromEntries(c.selector.split(",").map((kv) => kv.split("=")));
    const pool = kind === "Deployment" ? objs.filter((o) => o.kind === "Deployment").map((d) => d.metadata.labels)
      : objs.filter((o) => o.spec && o.spec.template).map(podLabels);
    if (!pool.some((l) => matches(sel, l))) return `nothing matches -l ${c.selector}`;
  }
  if (c.jsonpath) {
    const v = jsonpath(target, c.jsonpath);
    if (v === undefined || v === null || v === "") return `jsonpath ${c.jsonpath} does not resolve on ${kind}/${c.name}`;
  }
  if (c.patch) {
    const patched = mergePatch(target, JSON.parse(c.patch));
    const problems = validate([patched]);
    if (problems.length) return `the patch gives an invalid object: ${problems[0]}`;
  }
  return null;
}

// overlays: { name: objects }. Returns { problems, report } (report: one line per command).
function checkRunbook(markdown, overlays, validate) {
  const problems = [];
  const report = [];
  for (const line of commands(markdown)) {
    const c = parse(line);
    const skip = outOfScope(c);
    if (skip) { report.push(`  skip  ${line}  (${skip})`); continue; }
    const ok = [];
    const why = [];
    for (const [name, objs] of Object.entries(overlays)) {
      const r = satisfies(c, objs, validate);
      if (r) why.push(`${name}: ${r}`); else ok.push(name);
    }
    if (ok.length) report.push(`  ok    ${line}  [${ok.join(", ")}]`);
    else problems.push(`runbook: \`${line}\` fails on every overlay (${why.join("; ")})`);
  }
  return { problems, report };
}

module.exports = { checkRunbook, jsonpath, commands, parse };
