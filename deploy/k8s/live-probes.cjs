#!/usr/bin/env node
// Starts the built streamgate-server and streamgate-gateway once, on loopback, configured from
// the rendered manifests (the server with the ConfigMap's STREAMGATE_* values, the gateway
// with the ConfigMap's gateway.yaml: only addresses are moved to loopback and the track
// endpoints to the server), and GETs every path the manifests' probes use, on the port the
// probe names. Each must answer 200. The gateway's strict config parser also checks every key
// of gateway.yaml. The controller (sgctl --backend kubernetes controller) is run with its
// manifest's arguments against the stand-in API server tests/kube/fake-apiserver.cjs (a test
// fixture, not Kubernetes) holding the rendered blue-green overlay, beside a gateway with that
// overlay's gateway.yaml; a build whose sgctl has no `controller` command yet is reported as
// NOT checked. Usage: live-probes.cjs BUILD_DIR
"use strict";
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const http = require("node:http");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const YAML = require("yaml");
const { render } = require("./check/render.cjs");

const build = path.resolve(process.argv[2] || "build");
const overlays = ["blue-green", "canary", "dev", "production"].map((o) => render(path.join(__dirname, "overlays", o)));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on("error", reject);
  });
}

function get(port, p) {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path: p, timeout: 2000 }, (res) => { res.resume(); resolve(res.statusCode); });
    req.on("error", () => resolve(0));
    req.on("timeout", () => { req.destroy(); resolve(0); });
  });
}

async function until200(port, p, seconds, child) {
  const end = Date.now() + seconds * 1000;
  let code = 0;
  while (Date.now() < end && !(child && child.exited)) {
    code = await get(port, p);
    if (code === 200) return 200;
    await new Promise((r) => setTimeout(r, 100));
  }
  return code;
}

// Every (binary, port name, path) an httpGet probe uses, over all overlays.
function probeTargets() {
  const t = new Set();
  for (const objs of overlays) {
    for (const w of objs.filter((o) => o.spec && o.spec.template)) {
      for (const c of w.spec.template.spec.containers) {
        const bin = path.basename((c.command || [""])[0]);
        if (!bin.startsWith("streamgate-") && bin !== "sgctl") continue;
        for (const k of ["startupProbe", "livenessProbe", "readinessProbe"]) {
          if (c[k] && c[k].httpGet) t.add(`${bin} ${c[k].httpGet.port} ${c[k].httpGet.path}`);
        }
      }
    }
  }
  return [...t].map((s) => s.split(" "));
}

function start(bin, args, env, log) {
  const out = fs.openSync(log, "w");
  const child = spawn(path.join(build, bin), args, { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", out, out] });
  child.on("exit", (code, sig) => { child.exited = `${code ?? sig}`; });
  return child;
}

async function probe(targets, ports, tmp, log, problems, note, child) {
  for (const [bin, portName, p] of targets) {
    const port = ports[bin] && ports[bin][portName];
    if (!port) { problems.push(`${bin}: probe port ${portName} is not one the binary listens on`); continue; }
    const code = await until200(port, p, 15, child);
    if (code === 200) { console.log(`live-probes: ${bin} ${note} ${portName} ${p} -> 200`); continue; }
    const tail = fs.readFileSync(`${tmp}/${log}`, "utf8").trim().split("\n").slice(-3).join(" | ");
    problems.push(`${bin} ${note}: GET ${p} on port ${portName} answered ${code || "nothing"} (log: ${tail})`);
  }
}

async function stop(child) {
  if (child.exited) return;
  child.kill("SIGTERM");
  for (let i = 0; i < 100 && !child.exited; i++) await new Promise((r) => setTimeout(r, 50));
  if (!child.exited) child.kill("SIGKILL");
}

const root = path.resolve(__dirname, "../..");

// The controller Deployment's container (the first that runs sgctl), or null.
function controllerContainer() {
  for (const objs of overlays) {
    for (const w of objs.filter((o) => o.kind === "Deployment")) {
      const c = w.spec.template.spec.containers.find((x) => path.basename((x.command || [""])[0]) === "sgctl");
      if (c) return c;
    }
  }
  return null;
}

// Runs the controller as its manifest says, with its addresses moved to loopback, against the
// fixture; GETs its probe paths. Every process it starts is pushed on `children`.
async function probeController(targets, tmp, children, problems) {
  const c = controllerContainer();
  if (!c || !targets.length) return;
  const sgctl = path.join(build, "src/cli/sgctl");
  const { execFileSync } = require("node:child_process");
  const help = execFileSync(sgctl, ["--help"], { encoding: "utf8" });
  if (!/^ {2}controller\b/m.test(help)) {
    console.log("live-probes: sgctl controller: NOT checked: this sgctl has no `controller` command (sgctl's kubernetes backend is not built yet)");
    return;
  }
  const fixture = spawn(process.execPath, [path.join(root, "tests/kube/fake-apiserver.cjs"), "--port", "0", "--ready-delay-ms", "200"], { stdio: ["ignore", "pipe", "pipe"] });
  fixture.on("exit", (code, sig) => { fixture.exited = `${code ?? sig}`; });
  children.push(fixture);
  const url = await new Promise((resolve) => {
    let out = "";
    fixture.stdout.on("data", (d) => { out += d; const m = /^listening (http:\/\/127\.0\.0\.1:\d+)$/m.exec(out); if (m) resolve(m[1]); });
    fixture.on("exit", () => resolve(null));
    setTimeout(() => resolve(null), 10000);
  });
  if (!url) { problems.push("sgctl controller: the stand-in API server did not start"); return; }
  const kubeconfig = path.join(tmp, "kubeconfig");
  fs.writeFileSync(kubeconfig, `apiVersion: v1\nkind: Config\nclusters: [{name: fixture, cluster: {server: "${url}"}}]\n` +
    "users: [{name: fixture, user: {}}]\ncontexts: [{name: fixture, context: {cluster: fixture, user: fixture}}]\ncurrent-context: fixture\n");
  const env = { KUBECONFIG: kubeconfig, HOME: tmp };
  const blueGreen = overlays[0];
  fs.writeFileSync(path.join(tmp, "blue-green.yaml"), blueGreen.map((o) => YAML.stringify(o)).join("---\n"));
  try {
    execFileSync("kubectl", ["apply", "-f", path.join(tmp, "blue-green.yaml")], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    problems.push(`sgctl controller: kubectl apply of the blue-green overlay to the stand-in API server failed: ${String(e.stderr || e.message).trim()}`);
    return;
  }
  // The gateway the controller talks to, with the blue-green overlay's gateway.yaml.
  const [gp, ap, cp] = [await freePort(), await freePort(), await freePort()];
  const cfg = YAML.parse(blueGreen.find((x) => x.kind === "ConfigMap" && x.metadata.name === "streamgate-gateway-config").data["gateway.yaml"]);
  cfg.listen = `127.0.0.1:${gp}`;
  cfg.admin.listen = `127.0.0.1:${ap}`;
  for (const t of Object.values(cfg.tracks)) t.endpoints = [`127.0.0.1:${gp}`];
  fs.writeFileSync(`${tmp}/controller-gateway.yaml`, YAML.stringify(cfg));
  const adminToken = "live-probe-admin-token";
  children.push(start("src/gateway/streamgate-gateway", ["--config", `${tmp}/controller-gateway.yaml`], { STREAMGATE_ADMIN_TOKEN: adminToken }, `${tmp}/controller-gateway.log`));
  const state = path.join(tmp, "controller-state");
  fs.mkdirSync(state, { mode: 0o700 });
  fs.writeFileSync(path.join(state, "gateway-admin-token"), adminToken, { mode: 0o600 });
  const moved = { "--control-listen": `127.0.0.1:${cp}`, "--gateway-admin": `127.0.0.1:${ap}`, "--gateway-token-file": path.join(state, "gateway-admin-token") };
  const args = (c.args || []).map((a, i, all) => moved[all[i - 1]] ?? a);
  const cenv = { ...Object.fromEntries((c.env || []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value])), ...env, SG_STATE_DIR: state,
    STREAMGATE_GATEWAY_ADMIN: `127.0.0.1:${ap}` };
  const controller = start("src/cli/sgctl", args, cenv, `${tmp}/controller.log`);
  children.push(controller);
  await probe(targets, { sgctl: { control: cp } }, tmp, "controller.log", problems, "controller (stand-in API server)", controller);
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sg-live-probes-"));
  const children = [];
  const problems = [];
  try {
    const cm = overlays[0].find((o) => o.kind === "ConfigMap" && o.metadata.name === "streamgate-config").data;
    const [sp, gp, ap] = [await freePort(), await freePort(), await freePort()];
    fs.mkdirSync(path.join(tmp, "media"));
    const env = { ...cm, STREAMGATE_LISTEN: `127.0.0.1:${sp}`, STREAMGATE_STORAGE: `sqlite:${tmp}/sg.db`,
      STREAMGATE_CACHE: "memory", STREAMGATE_MEDIA_DIR: `${tmp}/media`, STREAMGATE_DRAIN_DELAY: "0",
      STREAMGATE_GRACE_PERIOD: "2", STREAMGATE_API_TOKENS: "live-probe-token" };
    const server = start("src/server/streamgate-server", [], env, `${tmp}/server.log`);
    children.push(server);
    const ports = { "streamgate-server": { http: sp }, "streamgate-gateway": { http: gp, admin: ap } };
    const targets = probeTargets();
    await probe(targets.filter((t) => t[0] === "streamgate-server"), ports, tmp, "server.log", problems, "", server);
    // One gateway per distinct gateway.yaml (blue-green and canary differ), one after another.
    const configs = new Set(overlays.map((o) => o.find((x) => x.kind === "ConfigMap" && x.metadata.name === "streamgate-gateway-config"))
      .filter(Boolean).map((g) => g.data["gateway.yaml"]));
    for (const text of configs) {
      const cfg = YAML.parse(text);
      cfg.listen = `127.0.0.1:${gp}`;
      cfg.admin.listen = `127.0.0.1:${ap}`;
      for (const t of Object.values(cfg.tracks)) t.endpoints = [`127.0.0.1:${sp}`];
      fs.writeFileSync(`${tmp}/gateway.yaml`, YAML.stringify(cfg));
      const gateway = start("src/gateway/streamgate-gateway", ["--config", `${tmp}/gateway.yaml`], { STREAMGATE_ADMIN_TOKEN: "live-probe-admin-token" }, `${tmp}/gateway.log`);
      children.push(gateway);
      await probe(targets.filter((t) => t[0] === "streamgate-gateway"), ports, tmp, "gateway.log", problems, `tracks ${Object.keys(cfg.tracks).join("+")}`, gateway);
      await stop(gateway);
    }
    await probeController(targets.filter((t) => t[0] === "sgctl"), tmp, children, problems);
  } finally {
    for (const c of children) await stop(c);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  for (const p of problems) console.error(`FAIL live-probes: ${p}`);
  process.exit(problems.length ? 1 : 0);
}

main();
