// Kubelet mode: pods whose first container's image is in the --kubelet map run as real
// processes on loopback (one 127.0.X.Y address per pod), and their status comes from those
// processes: Pending until started, Running, Ready while the readiness probe answers 200,
// CrashLoopBackOff with restarts and the last exit after a crash, Terminating (deletionTimestamp)
// until the process is gone after SIGTERM (SIGKILL after the grace period). Still a fixture:
// one "node", no images, no volumes, no cgroups, no network namespaces. Driven by the
// simulated controllers' tick (lib/controllers.cjs), on the fixture's one thread.
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { byKind } = require("./resources.cjs");
const { ApiError } = require("./store.cjs");
const { PodIpPool } = require("./kubelet-config.cjs");
const { Container, kSetpriv } = require("./container.cjs");

const R = { pod: byKind("v1", "Pod") };
const kHostIp = "127.0.0.1";
const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// The port the container listens on (the one named http, else the first) and what the
// readiness probe asks: the pod's readinessProbe.httpGet if it has one, else GET /readyz.
function endpoints(c) {
  const ports = c.ports || [];
  const main = ports.find((p) => p.name === "http") || ports[0];
  const port = main ? main.containerPort : null;
  const g = c.readinessProbe && c.readinessProbe.httpGet;
  if (g) {
    const named = typeof g.port === "string" ? ports.find((p) => p.name === g.port) : null;
    const probePort = named ? named.containerPort : Number(g.port);
    if (Number.isInteger(probePort) && probePort > 0) return { port, probe: { path: g.path || "/", port: probePort } };
  }
  return { port, probe: port ? { path: "/readyz", port } : null };
}

class Kubelet {
  // images: from loadImageMap; crashBackoffMs: the first restart delay (doubling to 8x);
  // maxGraceMs: the cap on a pod's terminationGracePeriodSeconds.
  constructor(store, { images, crashBackoffMs, maxGraceMs }) {
    this.store = store;
    this.images = images;
    this.backoff = { baseMs: crashBackoffMs, maxMs: crashBackoffMs * 8 };
    this.maxGraceMs = maxGraceMs;
    this.ips = new PodIpPool();
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "fake-apiserver-kubelet-"));
    fs.mkdirSync(path.join(this.dir, "media"));
    fs.mkdirSync(path.join(this.dir, "pods"));
    this.pods = new Map(); // pod uid -> { container, ip, dir, graceMs, ns, name }
    this.onExit = () => this.killAll();
    process.on("exit", this.onExit); // a crashing fixture still takes its processes with it
  }

  // The map entry for a pod spec's first container, or null (then the pod is simulated).
  entryFor(spec) {
    const c = (spec && spec.containers && spec.containers[0]) || {};
    const command = (Array.isArray(c.command) && typeof c.command[0] === "string" && c.command[0]) || "";
    const byCommand = command ? this.images.get(`command:${command.slice(command.lastIndexOf("/") + 1)}`) : null;
    if (byCommand) return byCommand;
    const image = c.image || "";
    const repo = image.includes(":") ? image.slice(0, image.lastIndexOf(":")) : image;
    return this.images.get(image) || this.images.get(`${repo}:*`) || null;
  }
  manages(pod) { return this.pods.has(pod.metadata.uid) || this.entryFor(pod.spec) !== null; }
  graceMs(pod, requestedSeconds) {
    const spec = pod.spec.terminationGracePeriodSeconds ?? 30;
    const s = requestedSeconds === undefined || requestedSeconds === null ? spec : requestedSeconds;
    return Math.min(Math.max(0, s) * 1000, this.maxGraceMs);
  }

  // First sight of a pod: an address and a directory, then its container starts.
  admit(pod) {
    const ip = this.ips.take();
    if (!ip) return null;
    const m = pod.metadata;
    const c0 = pod.spec.containers[0];
    const entry = this.entryFor(pod.spec);
    const { port, probe } = endpoints(c0);
    const dir = path.join(this.dir, "pods", `${m.namespace}_${m.name}_${m.uid.slice(0, 8)}`);
    fs.mkdirSync(dir, { recursive: true });
    const tag = c0.image.includes(":") ? c0.image.slice(c0.image.lastIndexOf(":") + 1) : "latest";
    const vars = { POD_IP: ip, POD_NAME: m.name, POD_NAMESPACE: m.namespace, PORT: port === null ? "" : String(port),
      POD_DIR: dir, FIXTURE_DIR: this.dir, IMAGE: c0.image, IMAGE_TAG: tag };
    const container = new Container({ podName: m.name, spec: c0, entry, vars, dir, probe, backoff: this.backoff, restartPolicy: pod.spec.restartPolicy || "Always" });
    const rec = { container, ip, dir, graceMs: this.graceMs(pod), ns: m.namespace, name: m.name, startTime: now() };
    this.pods.set(m.uid, rec);
    container.start();
    return rec;
  }
  release(uid) {
    const rec = this.pods.get(uid);
    if (!rec) return;
    this.pods.delete(uid);
    this.ips.release(rec.ip);
    fs.rmSync(rec.dir, { recursive: true, force: true });
  }

  // One tick for one real pod (a copy from the store): start it, stop it once it is being
  // deleted, remove it once its process is gone, and write the status it has now.
  syncPod(p) {
    const uid = p.metadata.uid;
    let rec = this.pods.get(uid);
    if (!rec && p.metadata.deletionTimestamp) { this.remove(p); return; }
    if (!rec) rec = this.admit(p);
    if (rec && p.metadata.deletionTimestamp) {
      if (p.metadata.deletionGracePeriodSeconds !== undefined) rec.graceMs = Math.min(p.metadata.deletionGracePeriodSeconds * 1000, this.maxGraceMs);
      rec.container.stop(rec.graceMs);
    }
    if (rec && rec.container.stopping && rec.container.gone()) { this.remove(p); this.release(uid); return; }
    const status = this.podStatus(p, rec);
    if (!same(p.status, status)) {
      p.status = status;
      try { this.store.update(R.pod, p.metadata.namespace, p.metadata.name, p, "all"); } catch { /* written in between: next tick */ }
    }
  }
  remove(p) { try { this.store.delete(R.pod, p.metadata.namespace, p.metadata.name); } catch { /* gone already */ } }

  // Processes whose pod object is gone (force deletion, a deleted namespace): stopped, then freed.
  syncOrphans(liveUids) {
    for (const [uid, rec] of this.pods) {
      if (liveUids.has(uid)) continue;
      rec.container.stop(rec.graceMs);
      if (rec.container.gone()) this.release(uid);
    }
  }

  // A deletion with gracePeriodSeconds 0 (kubectl delete --force --grace-period=0): kill now.
  forceStop(uid) { const rec = this.pods.get(uid); if (rec) { rec.graceMs = 0; rec.container.stop(0); } }

  podStatus(p, rec) {
    const prev = p.status || {};
    const prevConds = prev.conditions || [];
    const cond = (type, st) => { const o = prevConds.find((c) => c.type === type); return { type, status: st, lastProbeTime: null, lastTransitionTime: o && o.status === st ? o.lastTransitionTime : now() }; };
    const others = p.spec.containers.slice(1).map((c) => ({ name: c.name, image: c.image, imageID: "", ready: false, started: false, restartCount: 0, lastState: {},
      state: { waiting: { reason: "NotRunByFixture", message: "kubelet mode runs a pod's first container only" } } }));
    if (!rec) {
      return { phase: "Pending", hostIP: kHostIp, qosClass: "Burstable", conditions: [cond("PodScheduled", "True"), cond("Initialized", "True"), cond("ContainersReady", "False"), cond("Ready", "False")],
        containerStatuses: [{ name: p.spec.containers[0].name, image: p.spec.containers[0].image, imageID: "", ready: false, started: false, restartCount: 0, lastState: {},
          state: { waiting: { reason: "ContainerCreating", message: "no free pod IP in 127.0.1.2-127.0.255.254" } } }, ...others] };
    }
    const c = rec.container;
    const cs = c.status();
    const ready = cs.ready && !others.length;
    const phase = c.state === "creating" ? "Pending" : c.state === "exited" && !c.stopping ? (c.last.exitCode === 0 ? "Succeeded" : "Failed") : "Running";
    return { phase, hostIP: kHostIp, hostIPs: [{ ip: kHostIp }], podIP: rec.ip, podIPs: [{ ip: rec.ip }], startTime: rec.startTime, qosClass: "Burstable",
      conditions: [cond("PodScheduled", "True"), cond("Initialized", "True"), cond("ContainersReady", ready ? "True" : "False"), cond("Ready", ready ? "True" : "False")],
      containerStatuses: [cs, ...others] };
  }

  // GET pods/<name>/log for a real pod: PodLogOptions tailLines, limitBytes, previous, container.
  logs(p, q) {
    const rec = this.pods.get(p.metadata.uid);
    const first = p.spec.containers[0].name;
    const want = q.get("container") || first;
    if (!p.spec.containers.some((c) => c.name === want)) throw new ApiError(400, "BadRequest", `container ${want} is not valid for pod ${p.metadata.name}`);
    if (want !== first) throw new ApiError(400, "BadRequest", `container "${want}" in pod "${p.metadata.name}" is not run by the fixture (kubelet mode runs a pod's first container only)`);
    if (!rec || rec.container.instance === 0) throw new ApiError(400, "BadRequest", `container "${want}" in pod "${p.metadata.name}" is waiting to start: ContainerCreating`);
    const num = (k) => {
      const v = q.get(k);
      if (v === null) return null;
      if (!/^\d+$/.test(v)) throw new ApiError(400, "BadRequest", `${k}: must be a non-negative integer, got ${v}`);
      return Number(v);
    };
    const opts = { tailLines: num("tailLines"), limitBytes: num("limitBytes") };
    if (q.get("previous") === "true") {
      if (!rec.container.previousLogs) throw new ApiError(400, "BadRequest", `previous terminated container "${want}" in pod "${p.metadata.name}" not found`);
      return rec.container.previousLogs.read(opts);
    }
    return rec.container.logs.read(opts);
  }

  // The fixture's stop: SIGTERM to every process, SIGKILL to those left after waitMs.
  async shutdown(waitMs = 5000) {
    for (const rec of this.pods.values()) rec.container.stop(waitMs);
    const deadline = Date.now() + waitMs + 2000; // SIGKILLed processes are reaped at once
    while ([...this.pods.values()].some((rec) => rec.container.alive()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.killAll();
    process.removeListener("exit", this.onExit);
  }
  killAll() {
    for (const rec of this.pods.values()) rec.container.killNow();
    this.ips.releaseAll();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
  // GET /__fixture/kubelet: what runs, for tests (e.g. to check a pid is gone).
  describe() {
    return { dir: this.dir, setpriv: Boolean(kSetpriv), pods: [...this.pods].map(([uid, r]) => ({ namespace: r.ns, name: r.name, uid, ip: r.ip,
      pid: r.container.pid(), state: r.container.state, stopping: r.container.stopping, restartCount: r.container.restartCount })) };
  }
}

module.exports = { Kubelet };
