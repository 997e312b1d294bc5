// The in-memory object store: one global resourceVersion counter, uid, creationTimestamp,
// generation on spec change, optimistic concurrency, label and field selectors, and a bounded
// event log that watches replay from a resourceVersion. Errors are thrown as ApiError, which
// the server turns into a metav1.Status.
"use strict";
const crypto = require("node:crypto");
const { clone, isObj } = require("./patch.cjs");

class ApiError extends Error {
  constructor(code, reason, message, details) { super(message); this.code = code; this.reason = reason; this.details = details; }
}

const kEventLog = 10000; // watch replay window, in events
const kMaxObjects = 20000;

function notFound(r, name) {
  return new ApiError(404, "NotFound", `${r.qualified} "${name}" not found`, { name, group: r.group, kind: r.plural });
}
function conflict(r, name) {
  return new ApiError(409, "Conflict", `Operation cannot be fulfilled on ${r.qualified} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group: r.group, kind: r.plural });
}

// Label selector as kubectl sends it: a=b, a==b, a!=b, a in (x,y), a notin (x), a, !a.
function parseLabelSelector(s) {
  if (!s) return () => true;
  const reqs = [];
  for (const m of s.matchAll(/\s*(!?)([A-Za-z0-9_./-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9_.-]*)|\s+(in|notin)\s*\(([^)]*)\))?\s*(?:,|$)/g)) {
    if (m[0] === "") break;
    const [, neg, key, op, val, setop, set] = m;
    if (op) reqs.push((l) => (op === "!=" ? l[key] !== val : l[key] === val));
    else if (setop) { const vals = set.split(",").map((x) => x.trim()); reqs.push((l) => (setop === "in" ? vals.includes(l[key]) : !vals.includes(l[key]))); }
    else reqs.push((l) => (neg ? !(key in l) : key in l));
  }
  return (obj) => reqs.every((f) => f((obj.metadata && obj.metadata.labels) || {}));
}
function fieldValue(obj, path) {
  let cur = obj;
  for (const p of path.split(".")) cur = isObj(cur) ? cur[p] : undefined;
  return cur === undefined || cur === null ? "" : String(cur);
}
function parseFieldSelector(s) {
  if (!s) return () => true;
  const reqs = s.split(",").filter(Boolean).map((part) => {
    const m = /^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$/.exec(part.trim());
    if (!m) throw new ApiError(400, "BadRequest", `invalid field selector: ${part}`);
    return (o) => (m[2] === "!=" ? fieldValue(o, m[1]) !== m[3] : fieldValue(o, m[1]) === m[3]);
  });
  return (obj) => reqs.every((f) => f(obj));
}

class Store {
  constructor() {
    this.rv = 1;
    this.objects = new Map(); // key -> { r, obj }
    this.log = [];            // { rv, type, r, obj }
    this.watchers = new Set();
  }
  key(r, ns, name) { return `${r.qualified}/${r.namespaced ? ns : ""}/${name}`; }
  get(r, ns, name) { const e = this.objects.get(this.key(r, ns, name)); return e ? clone(e.obj) : null; }
  mustGet(r, ns, name) { const o = this.get(r, ns, name); if (!o) throw notFound(r, name); return o; }
  list(r, ns, { labelSelector, fieldSelector } = {}) {
    const lab = parseLabelSelector(labelSelector);
    const fld = parseFieldSelector(fieldSelector);
    const out = [];
    for (const e of this.objects.values()) {
      if (e.r !== r) continue;
      if (r.namespaced && ns && e.obj.metadata.namespace !== ns) continue;
      if (lab(e.obj) && fld(e.obj)) out.push(clone(e.obj));
    }
    return out.sort((a, b) => (a.metadata.namespace || "").localeCompare(b.metadata.namespace || "") || a.metadata.name.localeCompare(b.metadata.name));
  }
  // The stored objects of a kind, not copied: for readers that do not change them (the
  // simulated controllers look up pods many times a tick).
  peek(r, ns) {
    const out = [];
    for (const e of this.objects.values()) if (e.r === r && (!ns || e.obj.metadata.namespace === ns)) out.push(e.obj);
    return out;
  }
  emit(type, r, obj) {
    this.log.push({ rv: Number(obj.metadata.resourceVersion), type, r, obj: clone(obj) });
    if (this.log.length > kEventLog) this.log.splice(0, this.log.length - kEventLog);
    for (const w of this.watchers) w(type, r, obj);
  }
  oldestRv() { return this.log.length ? this.log[0].rv : this.rv; }

  create(r, ns, obj) {
    const m = obj.metadata;
    if (!m.name && m.generateName) m.name = m.generateName + crypto.randomBytes(3).toString("hex").slice(0, 5);
    if (this.objects.has(this.key(r, ns, m.name))) {
      throw new ApiError(409, "AlreadyExists", `${r.qualified} "${m.name}" already exists`, { name: m.name, group: r.group, kind: r.plural });
    }
    if (this.objects.size >= kMaxObjects) throw new ApiError(429, "TooManyRequests", `the fixture holds at most ${kMaxObjects} objects`);
    if (r.namespaced) m.namespace = ns; else delete m.namespace;
    m.uid = crypto.randomUUID();
    m.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    m.resourceVersion = String(++this.rv);
    if (obj.spec !== undefined && !["Service", "Pod", "PersistentVolumeClaim"].includes(r.kind)) m.generation = 1;
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
    this.objects.set(this.key(r, ns, m.name), { r, obj: clone(obj) });
    this.emit("ADDED", r, obj);
    return clone(obj);
  }
  // Replaces the object; a resourceVersion in obj must match the stored one (else 409).
  // which: "main" keeps the stored status, "status" keeps everything but status, "all" takes obj.
  update(r, ns, name, obj, which = "main") {
    const k = this.key(r, ns, name);
    const e = this.objects.get(k);
    if (!e) throw notFound(r, name);
    const cur = e.obj;
    const rv = obj.metadata && obj.metadata.resourceVersion;
    if (rv && rv !== cur.metadata.resourceVersion) throw conflict(r, name);
    let next;
    if (which === "status") { next = clone(cur); next.status = clone(obj.status); }
    else {
      next = clone(obj);
      if (which === "main" && hasStatusSubresource(r)) { if (cur.status === undefined) delete next.status; else next.status = clone(cur.status); }
      for (const f of ["uid", "creationTimestamp", "namespace", "name", "generation", "deletionTimestamp", "deletionGracePeriodSeconds"]) {
        if (cur.metadata[f] === undefined) delete next.metadata[f]; else next.metadata[f] = cur.metadata[f];
      }
      if (cur.metadata.generation !== undefined && JSON.stringify(cur.spec) !== JSON.stringify(next.spec)) next.metadata.generation = cur.metadata.generation + 1;
    }
    if (JSON.stringify(next) === JSON.stringify({ ...cur, metadata: { ...cur.metadata, resourceVersion: next.metadata.resourceVersion } })) {
      return clone(cur); // a no-op write keeps the resourceVersion, as the API server does
    }
    next.metadata.resourceVersion = String(++this.rv);
    e.obj = next;
    this.emit("MODIFIED", r, next);
    return clone(next);
  }
  checkPreconditions(r, name, e, preconditions) {
    if (preconditions && preconditions.resourceVersion && preconditions.resourceVersion !== e.obj.metadata.resourceVersion) throw conflict(r, name);
    if (preconditions && preconditions.uid && preconditions.uid !== e.obj.metadata.uid) {
      throw new ApiError(409, "Conflict", `Operation cannot be fulfilled on ${r.qualified} "${name}": Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${e.obj.metadata.uid}`);
    }
  }
  // A graceful deletion: sets metadata.deletionTimestamp and deletionGracePeriodSeconds (once)
  // and leaves the object for its owner (kubelet mode) to delete when it is gone.
  markDeleted(r, ns, name, graceSeconds, preconditions) {
    const e = this.objects.get(this.key(r, ns, name));
    if (!e) throw notFound(r, name);
    this.checkPreconditions(r, name, e, preconditions);
    const cur = e.obj.metadata;
    if (cur.deletionTimestamp && cur.deletionGracePeriodSeconds <= graceSeconds) return clone(e.obj);
    const next = clone(e.obj);
    const at = new Date(Date.now() + graceSeconds * 1000).toISOString().replace(/\.\d+Z$/, "Z");
    next.metadata.deletionTimestamp = cur.deletionTimestamp && cur.deletionTimestamp < at ? cur.deletionTimestamp : at;
    next.metadata.deletionGracePeriodSeconds = graceSeconds;
    next.metadata.resourceVersion = String(++this.rv);
    e.obj = next;
    this.emit("MODIFIED", r, next);
    return clone(next);
  }
  delete(r, ns, name, preconditions) {
    const k = this.key(r, ns, name);
    const e = this.objects.get(k);
    if (!e) throw notFound(r, name);
    this.checkPreconditions(r, name, e, preconditions);
    this.objects.delete(k);
    const gone = clone(e.obj);
    gone.metadata.resourceVersion = String(++this.rv);
    this.emit("DELETED", r, gone);
    return gone;
  }
  all() { return [...this.objects.values()].map((e) => ({ r: e.r, obj: clone(e.obj) })); }
}

function hasStatusSubresource(r) { return r.subresources.includes("status"); }

module.exports = { Store, ApiError, notFound, conflict, parseLabelSelector, parseFieldSelector };
