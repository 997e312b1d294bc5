#!/usr/bin/env node
// A stand-in Kubernetes API server for tests: NOT Kubernetes. It serves, over plain HTTP on
// 127.0.0.1, what the real kubectl (1.32) uses for the kinds deploy/k8s ships: discovery
// (legacy and aggregated), CRUD with resourceVersion conflicts, merge / strategic-merge / JSON
// patch, watch, Table output, metav1.Status errors, the scale and status subresources, and a
// simulated controller (lib/controllers.cjs) whose pods become ready after a delay, never, or
// crash-loop; in kubelet mode (--kubelet FILE, lib/kubelet.cjs) pods of the mapped images run
// as real processes on 127.0.X.Y instead. See tests/kube/README.md for what it does and does not do.
//
// Usage: node tests/kube/fake-apiserver.cjs [--port N] [--ready-delay-ms N] [--crash-period-ms N]
//          [--progress-deadline-ms N] [--state-dump FILE] [--log-requests]
//          [--kubelet FILE] [--crash-backoff-ms N] [--max-grace-ms N]
//          [--service-proxy] [--prometheus-sd FILE]
// Each flag may also come from the environment as FAKE_APISERVER_<FLAG> (e.g.
// FAKE_APISERVER_READY_DELAY_MS). Prints `listening http://127.0.0.1:PORT` as its first line.
// GET /__fixture/state returns every stored object; SIGTERM/SIGINT exit 0 (writing --state-dump),
// after stopping every process kubelet mode started (SIGTERM, SIGKILL after 5 s). With
// --kubelet, --service-proxy serves Services' cluster IPs on loopback (lib/service-proxy.cjs)
// and --prometheus-sd FILE keeps a Prometheus file_sd list of the real pods (lib/prometheus-sd.cjs).
"use strict";
const http = require("node:http");
const fs = require("node:fs");
const res = require("./lib/resources.cjs");
const { Store, ApiError } = require("./lib/store.cjs");
const { mergePatch, strategicMerge, jsonPatch, PatchError, clone, isObj } = require("./lib/patch.cjs");
const { table } = require("./lib/tables.cjs");
const { Controllers } = require("./lib/controllers.cjs");
const { Kubelet } = require("./lib/kubelet.cjs");
const { loadImageMap } = require("./lib/kubelet-config.cjs");
const { ServiceProxy } = require("./lib/service-proxy.cjs");
const { PrometheusSd } = require("./lib/prometheus-sd.cjs");

const kMaxBody = 3 * 1024 * 1024;      // the API server's own request limit
const kMaxWatchSeconds = 1800;         // a watch without timeoutSeconds ends after this
const kMaxWatches = 200;

function parseFlags(argv) {
  const spec = { port: "0", "ready-delay-ms": "1000", "crash-period-ms": "", "progress-deadline-ms": "", "state-dump": "", "log-requests": null,
    kubelet: "", "crash-backoff-ms": "1000", "max-grace-ms": "10000", "service-proxy": null, "prometheus-sd": "" };
  const out = {};
  for (const k of Object.keys(spec)) {
    const env = process.env[`FAKE_APISERVER_${k.toUpperCase().replace(/-/g, "_")}`];
    out[k] = env !== undefined ? env : spec[k];
  }
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m || !(m[1] in spec)) throw new Error(`unknown argument ${argv[i]} (flags: ${Object.keys(spec).map((k) => `--${k}`).join(" ")})`);
    if (spec[m[1]] === null) out[m[1]] = "1";
    else out[m[1]] = m[2] !== undefined ? m[2] : argv[++i];
    if (out[m[1]] === undefined) throw new Error(`--${m[1]} needs a value`);
  }
  const num = (k, min, max) => {
    if (out[k] === "" || out[k] === null) return null;
    const v = Number(out[k]);
    if (!Number.isInteger(v) || v < min || v > max) throw new Error(`--${k} must be an integer in [${min}, ${max}], got ${out[k]}`);
    return v;
  };
  // A switch: set by the bare flag, or by its environment variable as 1/true/yes (0/false/no/empty: off).
  const bool = (k) => {
    const v = String(out[k] ?? "").toLowerCase();
    if (["1", "true", "yes"].includes(v)) return true;
    if (["", "0", "false", "no"].includes(v)) return false;
    throw new Error(`FAKE_APISERVER_${k.toUpperCase().replace(/-/g, "_")} must be 1/true/yes or 0/false/no, got ${out[k]}`);
  };
  const serviceProxy = bool("service-proxy");
  const prometheusSd = out["prometheus-sd"] || null;
  if ((serviceProxy || prometheusSd) && !out.kubelet) throw new Error(`--${serviceProxy ? "service-proxy" : "prometheus-sd"} needs kubelet mode (--kubelet FILE)`);
  return { port: num("port", 0, 65535), readyDelayMs: num("ready-delay-ms", 0, 3600000), crashPeriodMs: num("crash-period-ms", 10, 3600000),
    progressDeadlineMs: num("progress-deadline-ms", 0, 86400000), stateDump: out["state-dump"] || null, logRequests: Boolean(out["log-requests"]),
    kubeletImages: out.kubelet ? loadImageMap(out.kubelet) : null, crashBackoffMs: num("crash-backoff-ms", 10, 600000), maxGraceMs: num("max-grace-ms", 0, 600000),
    serviceProxy, prometheusSd };
}

function status(code, reason, message, details) {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(details ? { details } : {}), code };
}
function send(rsp, code, body, type = "application/json") {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  rsp.writeHead(code, { "Content-Type": type, "Content-Length": Buffer.byteLength(text), "Audit-Id": "fixture" });
  rsp.end(text);
}
function sendError(rsp, e) {
  if (e instanceof ApiError) return send(rsp, e.code, status(e.code, e.reason, e.message, e.details));
  if (e instanceof PatchError) return send(rsp, 422, status(422, "Invalid", e.message));
  if (e instanceof SyntaxError) return send(rsp, 400, status(400, "BadRequest", `the request body is not valid JSON: ${e.message}`));
  process.stderr.write(`fake-apiserver: internal error: ${e.stack}\n`);
  return send(rsp, 500, status(500, "InternalError", `Internal error occurred: ${e.message}`));
}
// kubectl's typed clients (e.g. `kubectl create deployment`) send protobuf; the fixture speaks JSON only.
function bodyType(req) {
  const type = (req.headers["content-type"] || "").split(";")[0].trim();
  if (type === "application/vnd.kubernetes.protobuf" || type === "application/cbor") {
    throw new ApiError(415, "UnsupportedMediaType", `the fixture reads JSON request bodies only, not ${type} (use kubectl create -f / apply -f)`);
  }
  return type;
}
function readBody(req) {
  bodyType(req);
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on("data", (c) => {
      n += c.length;
      if (n > kMaxBody) { reject(new ApiError(413, "RequestEntityTooLarge", `the request body is larger than ${kMaxBody} bytes`)); req.destroy(); return; }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
const wantsTable = (req) => /as=Table/.test(req.headers.accept || "");
const wantsAggregated = (req) => /as=APIGroupDiscoveryList/.test(req.headers.accept || "") && /v=v2(;|,|$|\s)/.test(req.headers.accept || "");
const kAggregatedType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

// Validation the API server does that kubectl users meet: names, and a Deployment's selector.
function validate(r, obj) {
  const name = obj.metadata.name;
  const errs = [];
  const dns1123 = r.kind === "Namespace" || r.kind === "Service" ? /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/ : /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
  if (!dns1123.test(name) || name.length > (r.kind === "Service" || r.kind === "Namespace" ? 63 : 253)) {
    errs.push(`metadata.name: Invalid value: "${name}": a lowercase RFC 1123 ${r.kind === "Service" || r.kind === "Namespace" ? "label" : "subdomain"} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`);
  }
  if (["Deployment", "ReplicaSet", "StatefulSet"].includes(r.kind)) {
    const sel = (obj.spec && obj.spec.selector && obj.spec.selector.matchLabels) || {};
    const labels = (obj.spec && obj.spec.template && obj.spec.template.metadata && obj.spec.template.metadata.labels) || {};
    if (!obj.spec || !obj.spec.selector) errs.push("spec.selector: Required value");
    else if (!Object.entries(sel).every(([k, v]) => labels[k] === v)) errs.push(`spec.template.metadata.labels: Invalid value: ${JSON.stringify(labels)}: \`selector\` does not match template \`labels\``);
    if (obj.spec && obj.spec.replicas !== undefined && !(Number.isInteger(obj.spec.replicas) && obj.spec.replicas >= 0)) errs.push(`spec.replicas: Invalid value: ${JSON.stringify(obj.spec.replicas)}: must be greater than or equal to 0`);
    if (!obj.spec || !obj.spec.template || !obj.spec.template.spec || !Array.isArray(obj.spec.template.spec.containers) || !obj.spec.template.spec.containers.length) errs.push("spec.template.spec.containers: Required value");
  }
  if (errs.length) {
    throw new ApiError(422, "Invalid", `${r.kind}${r.group ? `.${r.group}` : ""} "${name}" is invalid: ${errs.length > 1 ? `[${errs.join(", ")}]` : errs[0]}`,
      { name, group: r.group, kind: r.kind, causes: errs.map((m) => ({ reason: "FieldValueInvalid", message: m.slice(m.indexOf(": ") + 2), field: m.slice(0, m.indexOf(":")) })) });
  }
}

class FakeApiServer {
  constructor(opts) {
    this.opts = opts;
    this.store = new Store();
    this.kubelet = opts.kubeletImages ? new Kubelet(this.store, { images: opts.kubeletImages, crashBackoffMs: opts.crashBackoffMs ?? 1000, maxGraceMs: opts.maxGraceMs ?? 10000 }) : null;
    this.controllers = new Controllers(this.store, { ...opts, kubelet: this.kubelet });
    // Kubelet mode's stand-ins for kube-proxy and for Prometheus's pod discovery (both need real pods).
    this.proxy = this.kubelet && opts.serviceProxy ? new ServiceProxy(this.store, this.kubelet.ips) : null;
    this.sd = this.kubelet && opts.prometheusSd ? new PrometheusSd(this.store, this.kubelet, opts.prometheusSd) : null;
    this.watches = new Set();
    this.nextClusterIp = 10;
    const ns = res.byKind("v1", "Namespace");
    for (const name of ["default", "kube-system", "kube-public"]) this.store.create(ns, null, { apiVersion: "v1", kind: "Namespace", metadata: { name }, spec: { finalizers: ["kubernetes"] }, status: { phase: "Active" } });
    this.store.create(res.byKind("v1", "Service"), "default", { apiVersion: "v1", kind: "Service", metadata: { name: "kubernetes", labels: { component: "apiserver", provider: "kubernetes" } },
      spec: { type: "ClusterIP", clusterIP: "10.96.0.1", clusterIPs: ["10.96.0.1"], ports: [{ name: "https", port: 443, protocol: "TCP", targetPort: 6443 }] } });
    this.server = http.createServer((req, rsp) => this.handle(req, rsp).catch((e) => { if (!rsp.headersSent) sendError(rsp, e); else rsp.destroy(); }));
    this.server.keepAliveTimeout = 5000;
  }

  listen(port) {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, "127.0.0.1", () => {
        this.url = `http://127.0.0.1:${this.server.address().port}`;
        this.controllers.start();
        if (this.proxy || this.sd) this.standIns = setInterval(() => { if (this.proxy) this.proxy.sync(); if (this.sd) this.sd.sync(); }, 50);
        resolve(this.url);
      });
    });
  }
  async close() {
    this.controllers.stop();
    clearInterval(this.standIns);
    if (this.proxy) this.proxy.stop();
    if (this.kubelet) await this.kubelet.shutdown(5000);
    if (this.sd) this.sd.stop();
    for (const w of this.watches) w.end();
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
  state() { return { resourceVersion: String(this.store.rv), objects: this.store.all().map((e) => e.obj) }; }

  async handle(req, rsp) {
    const url = new URL(req.url, "http://fixture");
    if (this.opts.logRequests) process.stderr.write(`fake-apiserver: ${req.method} ${req.url} accept=${req.headers.accept || ""} type=${req.headers["content-type"] || ""}\n`);
    const p = url.pathname.replace(/\/+$/, "") || "/";
    const q = url.searchParams;
    if (req.method === "GET") {
      if (p === "/version") return send(rsp, 200, { major: "1", minor: "32", gitVersion: "v1.32.0-fixture", gitCommit: "fixture", gitTreeState: "clean", buildDate: "2026-01-01T00:00:00Z", goVersion: "n/a", compiler: "node", platform: `${process.platform}/${process.arch}` });
      if (["/healthz", "/livez", "/readyz"].includes(p)) return send(rsp, 200, "ok", "text/plain");
      if (p === "/__fixture/state") return send(rsp, 200, this.state());
      if (p === "/__fixture/kubelet") return this.kubelet ? send(rsp, 200, this.kubelet.describe()) : send(rsp, 404, status(404, "NotFound", "kubelet mode is off (start the fixture with --kubelet FILE)"));
      if (p === "/__fixture/services") return this.proxy ? send(rsp, 200, this.proxy.describe()) : send(rsp, 404, status(404, "NotFound", "the service proxy is off (start the fixture with --kubelet FILE --service-proxy)"));
      if (p === "/api") return wantsAggregated(req) ? send(rsp, 200, res.aggregated(true), kAggregatedType) : send(rsp, 200, res.legacyApiVersions(req.headers.host));
      if (p === "/apis") return wantsAggregated(req) ? send(rsp, 200, res.aggregated(false), kAggregatedType) : send(rsp, 200, res.apiGroupList());
      if (p === "/api/v1") return send(rsp, 200, res.apiResourceList("", "v1"));
      let m = /^\/apis\/([^/]+)$/.exec(p);
      if (m && res.GROUPS.includes(m[1])) return send(rsp, 200, { kind: "APIGroup", apiVersion: "v1", ...res.apiGroup(m[1]) });
      m = /^\/apis\/([^/]+)\/([^/]+)$/.exec(p);
      if (m && res.RESOURCES.some((r) => r.group === m[1] && r.version === m[2])) return send(rsp, 200, res.apiResourceList(m[1], m[2]));
      if (p === "/openapi/v3") return send(rsp, 200, res.openapiRoot());
      m = /^\/openapi\/v3\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(p);
      if (m) {
        const [g, v] = m[1] ? ["", "v1"] : [m[2], m[3]];
        if (res.RESOURCES.some((r) => r.group === g && r.version === v)) return send(rsp, 200, res.openapiGroupVersion(g, v));
      }
    }
    const route = this.route(p);
    if (!route) return send(rsp, 404, status(404, "NotFound", "the server could not find the requested resource"));
    return this.resource(req, rsp, route, q);
  }

  // /api/v1/... or /apis/<g>/<v>/...: [namespaces/<ns>/]<plural>[/<name>[/<sub>]]
  route(p) {
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/(.+)$/.exec(p);
    if (!m) return null;
    const [group, version] = m[1] ? ["", "v1"] : [m[2], m[3]];
    let parts = m[4].split("/").map(decodeURIComponent);
    let ns = null;
    if (parts[0] === "namespaces" && parts.length >= 3 && res.byPath(group, version, parts[2]) && res.byPath(group, version, parts[2]).namespaced) {
      ns = parts[1];
      parts = parts.slice(2);
    }
    const r = res.byPath(group, version, parts[0]);
    if (!r || parts.length > 3) return null;
    if (parts[2] && !r.subresources.includes(parts[2])) return null;
    return { r, ns, name: parts[1] || null, sub: parts[2] || null };
  }

  checkNamespace(r, ns) {
    if (!r.namespaced || !ns) return;
    if (!this.store.get(res.byKind("v1", "Namespace"), null, ns)) {
      throw new ApiError(404, "NotFound", `namespaces "${ns}" not found`, { name: ns, kind: "namespaces" });
    }
  }

  async resource(req, rsp, { r, ns, name, sub }, q) {
    const s = this.store;
    const dryRun = q.get("dryRun") === "All";
    if (r.namespaced && !ns && name) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
    if (!name) {
      if (req.method === "GET" && (q.get("watch") === "true" || q.get("watch") === "1")) return this.watch(req, rsp, r, ns, q);
      if (req.method === "GET") {
        const items = s.list(r, ns, { labelSelector: q.get("labelSelector"), fieldSelector: q.get("fieldSelector") });
        const rv = String(s.rv);
        if (wantsTable(req)) return send(rsp, 200, table(r, items, rv, q.get("includeObject")));
        return send(rsp, 200, { kind: `${r.kind}List`, apiVersion: r.apiVersion, metadata: { resourceVersion: rv }, items });
      }
      if (req.method === "POST") {
        if (!ns && r.namespaced) throw new ApiError(405, "MethodNotAllowed", "create of a namespaced resource needs a namespace in the path");
        const obj = JSON.parse(await readBody(req));
        return send(rsp, 201, this.create(r, ns, obj, dryRun));
      }
      if (req.method === "DELETE") {
        const items = s.list(r, ns, { labelSelector: q.get("labelSelector"), fieldSelector: q.get("fieldSelector") });
        if (!dryRun) for (const o of items) this.remove(r, o.metadata.namespace, o.metadata.name);
        return send(rsp, 200, { kind: `${r.kind}List`, apiVersion: r.apiVersion, metadata: { resourceVersion: String(s.rv) }, items });
      }
      throw new ApiError(405, "MethodNotAllowed", `the server does not allow this method on the requested resource`);
    }
    if (sub === "log") {
      const pod = s.mustGet(r, ns, name);
      if (this.kubelet && this.kubelet.manages(pod)) return send(rsp, 200, this.kubelet.logs(pod, q), "text/plain"); // follow=true ends at once
      const lines = [`fake-apiserver: pod ${pod.metadata.name} runs no process (a test fixture has no kubelet); this is its only log line`];
      return send(rsp, 200, `${lines.join("\n")}\n`, "text/plain");
    }
    if (sub === "scale") return this.scale(req, rsp, r, ns, name, dryRun);
    if (req.method === "GET") {
      const obj = s.mustGet(r, ns, name);
      return send(rsp, 200, wantsTable(req) ? table(r, [obj], obj.metadata.resourceVersion, q.get("includeObject")) : obj);
    }
    if (req.method === "PUT") {
      const obj = JSON.parse(await readBody(req));
      this.checkBody(r, ns, obj);
      if (obj.metadata.name !== name) throw new ApiError(400, "BadRequest", `the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
      if (!s.get(r, ns, name) && !sub) return send(rsp, 201, this.create(r, ns, obj, dryRun)); // PUT creates, as for the API server's allowCreateOnUpdate kinds
      validate(r, obj);
      if (dryRun) return send(rsp, 200, obj);
      return send(rsp, 200, s.update(r, ns, name, obj, sub === "status" ? "status" : "main"));
    }
    if (req.method === "PATCH") {
      const type = bodyType(req);
      const patch = JSON.parse(await readBody(req));
      const cur = s.mustGet(r, ns, name);
      const next = this.applyPatch(r, cur, type, patch);
      if (next.metadata.name !== name) throw new ApiError(422, "Invalid", `${r.kind} "${name}" is invalid: metadata.name: Invalid value: "${next.metadata.name}": field is immutable`);
      validate(r, next);
      // A resourceVersion in the patch is a precondition (the API server's optimistic concurrency).
      if (!(patch && patch.metadata && patch.metadata.resourceVersion)) next.metadata.resourceVersion = cur.metadata.resourceVersion;
      if (dryRun) return send(rsp, 200, next);
      return send(rsp, 200, s.update(r, ns, name, next, sub === "status" ? "status" : "main"));
    }
    if (req.method === "DELETE") {
      const body = await readBody(req);
      const opts = body ? JSON.parse(body) : {};
      s.mustGet(r, ns, name);
      if (dryRun) return send(rsp, 200, s.get(r, ns, name));
      const grace = opts.gracePeriodSeconds ?? (q.get("gracePeriodSeconds") !== null ? Number(q.get("gracePeriodSeconds")) : null);
      if (grace !== null && !(Number.isInteger(grace) && grace >= 0)) throw new ApiError(400, "BadRequest", `gracePeriodSeconds must be a non-negative integer, got ${grace}`);
      return send(rsp, 200, this.remove(r, ns, name, opts.preconditions, grace));
    }
    throw new ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
  }

  applyPatch(r, cur, type, patch) {
    switch (type) {
      case "application/merge-patch+json": return mergePatch(cur, patch);
      case "application/strategic-merge-patch+json":
        if (r.group === "monitoring.coreos.com") throw new ApiError(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json`);
        return strategicMerge(cur, patch);
      case "application/json-patch+json": return jsonPatch(cur, patch);
      default:
        throw new ApiError(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (this fixture has no server-side apply)`);
    }
  }

  checkBody(r, ns, obj) {
    if (!isObj(obj) || !isObj(obj.metadata)) throw new ApiError(400, "BadRequest", "the object has no metadata");
    if (obj.kind !== r.kind || obj.apiVersion !== r.apiVersion) {
      throw new ApiError(400, "BadRequest", `the API version in the data (${obj.apiVersion}) does not match the expected API version (${r.apiVersion}) or kind ${obj.kind} is not ${r.kind}`);
    }
    if (r.namespaced && obj.metadata.namespace && obj.metadata.namespace !== ns) {
      throw new ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
    }
  }

  create(r, ns, obj, dryRun) {
    this.checkBody(r, ns, obj);
    this.checkNamespace(r, ns);
    if (!obj.metadata.name && !obj.metadata.generateName) throw new ApiError(422, "Invalid", `${r.kind} "" is invalid: metadata.name: Required value: name or generateName is required`);
    if (obj.metadata.name) validate(r, obj);
    delete obj.metadata.resourceVersion;
    if (r.kind === "Namespace") obj.status = { phase: "Active" };
    if (r.kind === "PersistentVolumeClaim") obj.status = { phase: "Pending" };
    if (["Deployment", "ReplicaSet", "StatefulSet"].includes(r.kind) && obj.spec.replicas === undefined) obj.spec.replicas = 1;
    if (r.kind === "Deployment") {
      obj.spec.progressDeadlineSeconds ??= 600;
      obj.spec.revisionHistoryLimit ??= 10;
      obj.spec.strategy ??= { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } };
    }
    if (r.kind === "Service") {
      obj.spec = obj.spec || {};
      obj.spec.type ??= "ClusterIP";
      for (const port of obj.spec.ports || []) { port.protocol ??= "TCP"; port.targetPort ??= port.port; }
      obj.status = { loadBalancer: {} };
    }
    // With the service proxy, a Service it serves gets its loopback address (not 10.96.x.y).
    const proxyIp = r.kind === "Service" && this.proxy && !dryRun ? this.proxy.reserve(obj) : null;
    if (r.kind === "Service" && obj.spec.type !== "ExternalName" && !obj.spec.clusterIP) {
      const n = this.nextClusterIp++;
      obj.spec.clusterIP = `10.96.${Math.floor(n / 250)}.${(n % 250) + 2}`;
      obj.spec.clusterIPs = [obj.spec.clusterIP];
    }
    if (dryRun) return obj;
    if (!proxyIp) return this.store.create(r, ns, obj);
    let created;
    try { created = this.store.create(r, ns, obj); } catch (e) { this.proxy.unreserve(proxyIp); throw e; }
    this.proxy.adopt(created, proxyIp);
    return created;
  }

  // Deleting a Namespace deletes what is in it at once (no Terminating phase, no finalizers;
  // kubelet mode stops the processes of its pods afterwards). A pod goes through
  // Controllers.deletePod: at once if simulated, gracefully if it runs a process.
  remove(r, ns, name, preconditions, gracePeriodSeconds = null) {
    if (r.kind === "Pod") return this.controllers.deletePod(ns, name, preconditions, gracePeriodSeconds);
    if (r.kind === "Namespace") {
      for (const e of this.store.all()) if (e.r.namespaced && e.obj.metadata.namespace === name) { try { this.store.delete(e.r, name, e.obj.metadata.name); } catch { /* gone */ } }
    }
    return this.store.delete(r, ns, name, preconditions);
  }

  async scale(req, rsp, r, ns, name, dryRun) {
    if (!["Deployment", "ReplicaSet", "StatefulSet"].includes(r.kind)) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
    const s = this.store;
    const toScale = (o) => ({
      kind: "Scale", apiVersion: "autoscaling/v1",
      metadata: { name: o.metadata.name, namespace: o.metadata.namespace, uid: o.metadata.uid, resourceVersion: o.metadata.resourceVersion, creationTimestamp: o.metadata.creationTimestamp },
      spec: { replicas: o.spec.replicas }, status: { replicas: (o.status && o.status.replicas) || 0,
        selector: Object.entries((o.spec.selector && o.spec.selector.matchLabels) || {}).map(([k, v]) => `${k}=${v}`).join(",") },
    });
    const cur = s.mustGet(r, ns, name);
    if (req.method === "GET") return send(rsp, 200, toScale(cur));
    let next;
    if (req.method === "PUT") next = JSON.parse(await readBody(req));
    else if (req.method === "PATCH") {
      const type = bodyType(req);
      const patch = JSON.parse(await readBody(req));
      next = this.applyPatch(r, toScale(cur), type, patch);
      if (!(patch.metadata && patch.metadata.resourceVersion)) next.metadata.resourceVersion = cur.metadata.resourceVersion;
    } else throw new ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
    const n = next && next.spec && next.spec.replicas;
    if (!Number.isInteger(n) || n < 0) throw new ApiError(422, "Invalid", `Scale.autoscaling "${name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(n)}: must be greater than or equal to 0`);
    const obj = clone(cur);
    obj.spec.replicas = n;
    obj.metadata.resourceVersion = next.metadata && next.metadata.resourceVersion;
    if (dryRun) return send(rsp, 200, toScale(obj));
    return send(rsp, 200, toScale(s.update(r, ns, name, obj, "main")));
  }

  watch(req, rsp, r, ns, q) {
    if (this.watches.size >= kMaxWatches) throw new ApiError(429, "TooManyRequests", `the fixture serves at most ${kMaxWatches} watches at once`);
    const s = this.store;
    const labelSel = require("./lib/store.cjs").parseLabelSelector(q.get("labelSelector"));
    const fieldSel = require("./lib/store.cjs").parseFieldSelector(q.get("fieldSelector"));
    const match = (er, o) => er === r && (!r.namespaced || !ns || o.metadata.namespace === ns) && labelSel(o) && fieldSel(o);
    const asTable = wantsTable(req);
    const rvParam = q.get("resourceVersion") || "";
    const timeout = Math.min(Number(q.get("timeoutSeconds")) || kMaxWatchSeconds, kMaxWatchSeconds);
    rsp.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked", "Cache-Control": "no-cache, private" });
    rsp.flushHeaders(); // a client waits for the headers before it reads events (and before it can cancel)
    const write = (type, o) => rsp.write(`${JSON.stringify({ type, object: asTable && type !== "BOOKMARK" && type !== "ERROR" ? table(r, [o], o.metadata.resourceVersion, q.get("includeObject")) : o })}\n`);
    const initial = q.get("sendInitialEvents") === "true" || rvParam === "" || rvParam === "0";
    if (initial) {
      for (const o of s.list(r, ns)) if (match(r, o)) write("ADDED", o);
      if (q.get("sendInitialEvents") === "true") {
        write("BOOKMARK", { kind: r.kind, apiVersion: r.apiVersion, metadata: { resourceVersion: String(s.rv), annotations: { "k8s.io/initial-events-end": "true" } } });
      }
    } else {
      const from = Number(rvParam);
      if (!Number.isFinite(from) || from < s.oldestRv() - 1) {
        write("ERROR", status(410, "Expired", `too old resource version: ${rvParam} (${s.oldestRv() - 1})`));
        rsp.end();
        return;
      }
      for (const e of s.log) if (e.rv > from && match(e.r, e.obj)) write(e.type, e.obj);
    }
    const w = { end: () => { clearTimeout(timer); s.watchers.delete(listener); this.watches.delete(w); if (!rsp.writableEnded) rsp.end(); } };
    const listener = (type, er, o) => { if (match(er, o)) write(type, o); };
    const timer = setTimeout(() => w.end(), timeout * 1000);
    s.watchers.add(listener);
    this.watches.add(w);
    rsp.on("close", () => w.end());
  }
}

async function main() {
  let opts;
  try { opts = parseFlags(process.argv.slice(2)); } catch (e) { process.stderr.write(`fake-apiserver: ${e.message}\n`); process.exit(2); }
  let srv; // the constructor writes --prometheus-sd's first []: an unwritable FILE is a bad flag
  try { srv = new FakeApiServer(opts); } catch (e) { process.stderr.write(`fake-apiserver: ${e.message}\n`); process.exit(2); }
  const url = await srv.listen(opts.port);
  process.stdout.write(`listening ${url}\n`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    if (opts.stateDump) fs.writeFileSync(opts.stateDump, JSON.stringify(srv.state(), null, 1));
    await srv.close();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

if (require.main === module) main().catch((e) => { process.stderr.write(`fake-apiserver: ${e.message}\n`); process.exit(1); });

module.exports = { FakeApiServer, parseFlags };
