// The simulated control plane, run on a timer: Deployment -> ReplicaSets -> Pods, StatefulSet
// -> Pods, pod lifecycles (ready after a delay, never ready, or crash-looping), Endpoints of
// Services, HPA and PDB status, garbage collection of owned objects, and Events for scaling.
// No scheduler, no networking: pods are placed on one fake node at once and their status is
// made up from the clock and the behaviour their template asks for, except in kubelet mode
// (lib/kubelet.cjs), where pods of the mapped images run as real processes. Pods being
// deleted (deletionTimestamp set) no longer count as replicas or endpoints, as on a cluster.
"use strict";
const crypto = require("node:crypto");
const { byKind } = require("./resources.cjs");
const { clone } = require("./patch.cjs");
const { podStatus } = require("./tables.cjs");

// A pod template annotation selecting the behaviour; an image tag ending -never-ready or
// -crashloop selects it for that container alone.
const kBehaviourAnnotation = "fixture.streamgate.dev/behaviour";
const kNode = "fixture-node";

const R = {
  dep: byKind("apps/v1", "Deployment"), rs: byKind("apps/v1", "ReplicaSet"), sts: byKind("apps/v1", "StatefulSet"),
  pod: byKind("v1", "Pod"), svc: byKind("v1", "Service"), ep: byKind("v1", "Endpoints"), ev: byKind("v1", "Event"),
  hpa: byKind("autoscaling/v2", "HorizontalPodAutoscaler"), pdb: byKind("policy/v1", "PodDisruptionBudget"),
};

const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");
const ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
function encode(buf, len) { let s = ""; for (let i = 0; i < len; i++) s += ALPHABET[buf[i] % ALPHABET.length]; return s; }
function templateHash(t) { return encode(crypto.createHash("sha256").update(JSON.stringify(t)).digest(), 10); }
function suffix() { return encode(crypto.randomBytes(5), 5); }
const owned = (o, owner) => (o.metadata.ownerReferences || []).some((ref) => ref.uid === owner.metadata.uid);
const ownerRef = (r, o) => ({ apiVersion: r.apiVersion, kind: r.kind, name: o.metadata.name, uid: o.metadata.uid, controller: true, blockOwnerDeletion: true });
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
function intOrPercent(v, total, roundUp) {
  if (v === undefined || v === null) return null;
  if (typeof v === "number") return v;
  const p = Number(String(v).replace("%", "")) * total / 100;
  return roundUp ? Math.ceil(p) : Math.floor(p);
}
function matchesSelector(sel, labels) {
  if (!sel) return false;
  const ml = sel.matchLabels || sel;
  if (typeof ml !== "object") return false;
  const ok = Object.entries(ml).every(([k, v]) => labels && labels[k] === v);
  const exprs = (sel.matchLabels ? sel.matchExpressions : null) || [];
  return ok && exprs.every((e) => (e.operator === "In" ? e.values.includes(labels[e.key]) : e.operator === "NotIn" ? !e.values.includes(labels[e.key])
    : e.operator === "Exists" ? e.key in labels : !(e.key in labels)));
}

class Controllers {
  constructor(store, opts) {
    this.store = store;
    this.readyDelayMs = opts.readyDelayMs;
    this.crashPeriodMs = opts.crashPeriodMs || Math.max(opts.readyDelayMs, 200);
    this.progressDeadlineMs = opts.progressDeadlineMs; // null: the Deployment's own
    this.progress = new Map(); // deployment uid -> { key, since }
    this.nextIp = 2;
    this.born = new Map(); // pod uid -> ms since epoch when first seen
    this.kubelet = opts.kubelet || null; // kubelet mode: runs the mapped images' pods
    this.timer = null;
  }
  start(periodMs = 50) { this.timer = setInterval(() => this.tick(), periodMs); }
  stop() { clearInterval(this.timer); }

  write(r, obj) {
    try { return this.store.update(r, obj.metadata.namespace, obj.metadata.name, obj, "all"); } catch { return null; } // a client wrote in between: next tick
  }
  tick() {
    const s = this.store;
    for (const d of s.list(R.dep)) this.deployment(d);
    for (const rs of s.list(R.rs)) this.replicaSet(rs);
    for (const st of s.list(R.sts)) this.statefulSet(st);
    this.collectGarbage();
    const pods = s.list(R.pod);
    for (const p of pods) if (this.kubelet && this.kubelet.manages(p)) this.kubelet.syncPod(p); else this.pod(p);
    const live = new Set(pods.map((p) => p.metadata.uid));
    if (this.kubelet) this.kubelet.syncOrphans(live);
    for (const uid of this.born.keys()) if (!live.has(uid)) this.born.delete(uid);
    for (const svc of s.list(R.svc)) this.endpoints(svc);
    for (const h of s.list(R.hpa)) this.hpa(h);
    for (const b of s.list(R.pdb)) this.pdb(b);
  }

  event(involved, r, type, reason, message) {
    const ts = now();
    this.store.create(R.ev, involved.metadata.namespace, {
      apiVersion: "v1", kind: "Event", metadata: { name: `${involved.metadata.name}.${crypto.randomBytes(8).toString("hex")}` },
      involvedObject: { apiVersion: r.apiVersion, kind: r.kind, name: involved.metadata.name, namespace: involved.metadata.namespace, uid: involved.metadata.uid },
      type, reason, message, source: { component: r.kind === "Deployment" ? "deployment-controller" : "fixture-controller" },
      firstTimestamp: ts, lastTimestamp: ts, count: 1, reportingComponent: "fake-apiserver", reportingInstance: "fixture",
    });
  }

  deployment(d) {
    const ns = d.metadata.namespace;
    const want = d.spec.replicas === undefined ? 1 : d.spec.replicas;
    const hash = templateHash(d.spec.template);
    const mine = this.store.list(R.rs, ns).filter((rs) => owned(rs, d));
    let cur = mine.find((rs) => rs.metadata.labels && rs.metadata.labels["pod-template-hash"] === hash);
    const maxRev = Math.max(0, ...mine.map((rs) => Number((rs.metadata.annotations || {})["deployment.kubernetes.io/revision"] || 0)));
    if (d.spec.paused) return;
    if (!cur) {
      const labels = { ...(d.spec.template.metadata && d.spec.template.metadata.labels), "pod-template-hash": hash };
      const template = clone(d.spec.template);
      template.metadata = { ...(template.metadata || {}), labels };
      cur = this.store.create(R.rs, ns, {
        apiVersion: "apps/v1", kind: "ReplicaSet",
        metadata: { name: `${d.metadata.name}-${hash}`, labels, ownerReferences: [ownerRef(R.dep, d)],
          annotations: { "deployment.kubernetes.io/revision": String(maxRev + 1), "deployment.kubernetes.io/desired-replicas": String(want) } },
        spec: { replicas: 0, selector: { matchLabels: { ...(d.spec.selector.matchLabels || {}), "pod-template-hash": hash } }, template },
      });
    } else if (maxRev > Number(cur.metadata.annotations["deployment.kubernetes.io/revision"]) && mine.some((rs) => rs !== cur && rs.spec.replicas > 0)) {
      cur.metadata.annotations["deployment.kubernetes.io/revision"] = String(maxRev + 1); // a rollback makes an old ReplicaSet current again
      cur = this.write(R.rs, cur) || cur;
    }
    const old = mine.filter((rs) => rs.metadata.uid !== cur.metadata.uid);
    const scale = (rs, n) => {
      if (rs.spec.replicas === n) return rs;
      const from = rs.spec.replicas;
      rs.spec.replicas = n;
      const w = this.write(R.rs, rs);
      if (w) this.event(d, R.dep, "Normal", "ScalingReplicaSet", `Scaled ${n > from ? "up" : "down"} replica set ${rs.metadata.name} from ${from} to ${n}`);
      return w || rs;
    };
    cur = scale(cur, want);
    const curReady = (cur.status && cur.status.readyReplicas) || 0;
    if (curReady >= want) for (const rs of old) scale(rs, 0);

    const pods = this.store.peek(R.pod, ns).filter((p) => active(p) && (mine.some((rs) => owned(p, rs)) || owned(p, cur)));
    const updated = pods.filter((p) => owned(p, cur));
    const ready = pods.filter(isReady);
    const status = {
      observedGeneration: d.metadata.generation, replicas: pods.length, updatedReplicas: updated.length,
      readyReplicas: ready.length, availableReplicas: ready.length, unavailableReplicas: Math.max(0, pods.length - ready.length),
    };
    for (const k of ["replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"]) if (!status[k]) delete status[k];
    const maxUnavailable = intOrPercent(d.spec.strategy && d.spec.strategy.rollingUpdate && d.spec.strategy.rollingUpdate.maxUnavailable, want, false) ?? Math.floor(want / 4);
    const complete = updated.length === want && pods.length === want && ready.length >= want;
    const p = this.progress.get(d.metadata.uid);
    const key = `${hash}/${updated.length}/${ready.length}/${pods.length}`;
    if (!p || p.key !== key) this.progress.set(d.metadata.uid, { key, since: Date.now() });
    const deadline = this.progressDeadlineMs ?? (d.spec.progressDeadlineSeconds ?? 600) * 1000;
    const stuck = !complete && Date.now() - this.progress.get(d.metadata.uid).since > deadline;
    const prev = (d.status && d.status.conditions) || [];
    const cond = (type, st, reason, message) => {
      const old = prev.find((c) => c.type === type);
      const changed = !old || old.status !== st;
      const progressed = old && old.reason !== reason;
      return { type, status: st, lastUpdateTime: changed || progressed ? now() : old.lastUpdateTime,
        lastTransitionTime: changed ? now() : old.lastTransitionTime, reason, message };
    };
    const avail = ready.length >= want - maxUnavailable;
    status.conditions = [
      cond("Available", avail ? "True" : "False", avail ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
        avail ? "Deployment has minimum availability." : "Deployment does not have minimum availability."),
      complete ? cond("Progressing", "True", "NewReplicaSetAvailable", `ReplicaSet "${cur.metadata.name}" has successfully progressed.`)
        : stuck ? cond("Progressing", "False", "ProgressDeadlineExceeded", `ReplicaSet "${cur.metadata.name}" has timed out progressing.`)
          : cond("Progressing", "True", "ReplicaSetUpdated", `ReplicaSet "${cur.metadata.name}" is progressing.`),
    ];
    const rev = cur.metadata.annotations["deployment.kubernetes.io/revision"];
    const annotations = { ...(d.metadata.annotations || {}), "deployment.kubernetes.io/revision": rev };
    if (!same(d.status, status) || !same(d.metadata.annotations, annotations)) {
      d.status = status;
      d.metadata.annotations = annotations;
      this.write(R.dep, d);
    }
  }

  newPod(owner, ownerR, name, template, extraLabels = {}) {
    const spec = clone(template.spec);
    spec.nodeName = kNode;
    spec.restartPolicy = spec.restartPolicy || "Always";
    // A real pod (kubelet mode) gets its loopback address when its process is set up.
    const ip = this.kubelet && this.kubelet.entryFor(spec) ? undefined : `10.244.${Math.floor(this.nextIp / 250)}.${(this.nextIp++ % 250) + 2}`;
    return this.store.create(R.pod, owner.metadata.namespace, {
      apiVersion: "v1", kind: "Pod",
      metadata: { name, labels: { ...((template.metadata && template.metadata.labels) || {}), ...extraLabels },
        annotations: { ...((template.metadata && template.metadata.annotations) || {}) }, ownerReferences: [ownerRef(ownerR, owner)] },
      spec, status: { phase: "Pending", ...(ip ? { podIP: ip } : {}), hostIP: "10.0.0.1", qosClass: "Burstable" },
    });
  }

  replicaSet(rs) {
    const ns = rs.metadata.namespace;
    const want = rs.spec.replicas === undefined ? 1 : rs.spec.replicas;
    let pods = this.store.peek(R.pod, ns).filter((p) => active(p) && owned(p, rs));
    while (pods.length < want) pods.push(this.newPod(rs, R.rs, `${rs.metadata.name}-${suffix()}`, rs.spec.template));
    if (pods.length > want) {
      const gone = [...pods].sort((a, b) => Number(isReady(a)) - Number(isReady(b)) || b.metadata.creationTimestamp.localeCompare(a.metadata.creationTimestamp)).slice(0, pods.length - want);
      for (const p of gone) this.deletePod(ns, p.metadata.name);
      pods = pods.filter((p) => !gone.includes(p));
    }
    const ready = pods.filter(isReady).length;
    const status = { replicas: pods.length, fullyLabeledReplicas: pods.length, readyReplicas: ready, availableReplicas: ready, observedGeneration: rs.metadata.generation };
    for (const k of ["fullyLabeledReplicas", "readyReplicas", "availableReplicas"]) if (!status[k]) delete status[k];
    if (!same(rs.status, status)) { rs.status = status; this.write(R.rs, rs); }
  }

  statefulSet(st) {
    const ns = st.metadata.namespace;
    const want = st.spec.replicas === undefined ? 1 : st.spec.replicas;
    const rev = `${st.metadata.name}-${templateHash(st.spec.template)}`;
    const pods = this.store.peek(R.pod, ns).filter((p) => owned(p, st)); // a terminating pod holds its name
    for (let i = 0; i < want; i++) {
      const name = `${st.metadata.name}-${i}`;
      // Ordered start: pod i is made once pods 0..i-1 are ready (podManagementPolicy OrderedReady).
      if (!pods.find((p) => p.metadata.name === name)) {
        if (st.spec.podManagementPolicy !== "Parallel" && pods.filter((p) => isReady(p)).length < i) break;
        pods.push(this.newPod(st, R.sts, name, st.spec.template, { "controller-revision-hash": rev, "statefulset.kubernetes.io/pod-name": name, "apps.kubernetes.io/pod-index": String(i) }));
      }
    }
    for (const p of pods) if (active(p) && Number(p.metadata.name.slice(st.metadata.name.length + 1)) >= want) this.deletePod(ns, p.metadata.name);
    const live = pods.filter((p) => active(p) && Number(p.metadata.name.slice(st.metadata.name.length + 1)) < want);
    const ready = live.filter(isReady).length;
    const status = { observedGeneration: st.metadata.generation, replicas: live.length, readyReplicas: ready, currentReplicas: live.length,
      updatedReplicas: live.length, availableReplicas: ready, currentRevision: rev, updateRevision: rev, collisionCount: 0 };
    if (!ready) { delete status.readyReplicas; delete status.availableReplicas; }
    if (!same(st.status, status)) { st.status = status; this.write(R.sts, st); }
  }

  collectGarbage() {
    const uids = new Set([...this.store.objects.values()].map((e) => e.obj.metadata.uid));
    for (const r of [R.rs, R.pod]) {
      for (const o of this.store.peek(r)) {
        const refs = o.metadata.ownerReferences || [];
        if (!refs.length || !refs.every((ref) => !uids.has(ref.uid)) || o.metadata.deletionTimestamp) continue;
        try { if (r === R.pod) this.deletePod(o.metadata.namespace, o.metadata.name); else this.store.delete(r, o.metadata.namespace, o.metadata.name); } catch { /* gone already */ }
      }
    }
  }

  // Pod status from its age and behaviour: Pending (ContainerCreating) for half the ready delay,
  // then Running; ready after the ready delay, never (never-ready), or crash-looping.
  pod(p) {
    // creationTimestamp has whole seconds; the pod's age is measured from when it was first seen.
    if (!this.born.has(p.metadata.uid)) this.born.set(p.metadata.uid, Date.now());
    const t = Date.now() - this.born.get(p.metadata.uid);
    const started = t >= this.readyDelayMs / 2;
    const all = (p.metadata.annotations || {})[kBehaviourAnnotation];
    const prevCs = (p.status && p.status.containerStatuses) || [];
    const startedAt = new Date(this.born.get(p.metadata.uid) + this.readyDelayMs / 2).toISOString().replace(/\.\d+Z$/, "Z");
    const cs = p.spec.containers.map((c) => {
      const tag = (c.image || "").split(":").pop();
      const b = all || (tag.endsWith("-never-ready") ? "never-ready" : tag.endsWith("-crashloop") ? "crashloop" : "ready");
      const base = { name: c.name, image: c.image, imageID: `fixture://${c.image}`, containerID: `fixture://${p.metadata.uid.slice(0, 8)}-${c.name}` };
      if (!started) return { ...base, ready: false, started: false, restartCount: 0, state: { waiting: { reason: "ContainerCreating" } } };
      if (b === "crashloop") {
        const restarts = Math.floor((t - this.readyDelayMs / 2) / this.crashPeriodMs) + 1;
        return { ...base, ready: false, started: false, restartCount: restarts,
          state: { waiting: { reason: "CrashLoopBackOff", message: `back-off restarting failed container ${c.name} in pod ${p.metadata.name}` } },
          lastState: { terminated: { exitCode: 1, reason: "Error", startedAt, finishedAt: startedAt } } };
      }
      const ready = b !== "never-ready" && t >= this.readyDelayMs;
      const prev = prevCs.find((x) => x.name === c.name);
      return { ...base, ready, started: true, restartCount: prev ? prev.restartCount : 0, state: { running: { startedAt } } };
    });
    const allReady = cs.every((c) => c.ready);
    const prevConds = (p.status && p.status.conditions) || [];
    const cond = (type, st) => { const o = prevConds.find((c) => c.type === type); return { type, status: st, lastProbeTime: null, lastTransitionTime: o && o.status === st ? o.lastTransitionTime : now() }; };
    const status = { ...(p.status || {}), phase: started ? "Running" : "Pending", startTime: p.metadata.creationTimestamp,
      conditions: [cond("PodScheduled", "True"), cond("Initialized", "True"), cond("ContainersReady", allReady ? "True" : "False"), cond("Ready", allReady ? "True" : "False")],
      containerStatuses: cs };
    if (!same(p.status, status)) { p.status = status; this.write(R.pod, p); }
  }

  // Deletes a pod: a simulated one at once; a real one (kubelet mode) gracefully, by setting
  // its deletionTimestamp, so its process gets SIGTERM and the object goes when the process has
  // (gracePeriodSeconds: null for the pod's own terminationGracePeriodSeconds; 0 kills at once).
  deletePod(ns, name, preconditions, gracePeriodSeconds = null) {
    const p = this.store.get(R.pod, ns, name);
    if (!p || !this.kubelet || !this.kubelet.manages(p)) return this.store.delete(R.pod, ns, name, preconditions);
    const grace = gracePeriodSeconds ?? p.spec.terminationGracePeriodSeconds ?? 30;
    if (grace === 0) {
      const gone = this.store.delete(R.pod, ns, name, preconditions);
      this.kubelet.forceStop(p.metadata.uid);
      return gone;
    }
    return this.store.markDeleted(R.pod, ns, name, grace, preconditions);
  }

  endpoints(svc) {
    if (!svc.spec.selector || svc.spec.type === "ExternalName") return;
    const ns = svc.metadata.namespace;
    const pods = this.store.peek(R.pod, ns).filter((p) => active(p) && matchesSelector(svc.spec.selector, p.metadata.labels || {}) && p.status && p.status.podIP);
    const addr = (p) => ({ ip: p.status.podIP, nodeName: kNode, targetRef: { kind: "Pod", namespace: ns, name: p.metadata.name, uid: p.metadata.uid } });
    const port = (sp) => {
      let tp = sp.targetPort === undefined ? sp.port : sp.targetPort;
      if (typeof tp === "string") {
        const named = pods.flatMap((p) => p.spec.containers.flatMap((c) => c.ports || [])).find((cp) => cp.name === tp);
        tp = named ? named.containerPort : sp.port;
      }
      return { ...(sp.name ? { name: sp.name } : {}), port: tp, protocol: sp.protocol || "TCP" };
    };
    const ready = pods.filter(isReady).map(addr);
    const notReady = pods.filter((p) => !isReady(p)).map(addr);
    const subsets = pods.length ? [{ ...(ready.length ? { addresses: ready } : {}), ...(notReady.length ? { notReadyAddresses: notReady } : {}), ports: (svc.spec.ports || []).map(port) }] : [];
    const cur = this.store.get(R.ep, ns, svc.metadata.name);
    if (!cur) {
      this.store.create(R.ep, ns, { apiVersion: "v1", kind: "Endpoints", metadata: { name: svc.metadata.name, labels: { ...(svc.metadata.labels || {}) } }, subsets });
    } else if (!same(cur.subsets || [], subsets)) { cur.subsets = subsets; this.write(R.ep, cur); }
  }

  hpa(h) {
    const ref = h.spec.scaleTargetRef;
    const target = ref.kind === "Deployment" ? this.store.get(R.dep, h.metadata.namespace, ref.name) : ref.kind === "StatefulSet" ? this.store.get(R.sts, h.metadata.namespace, ref.name) : null;
    const status = { currentReplicas: target ? (target.status && target.status.replicas) || 0 : 0, desiredReplicas: target ? target.spec.replicas : 0 };
    if (!same({ currentReplicas: h.status && h.status.currentReplicas, desiredReplicas: h.status && h.status.desiredReplicas }, status)) {
      h.status = { ...(h.status || {}), ...status };
      this.write(R.hpa, h);
    }
  }

  pdb(b) {
    const pods = this.store.peek(R.pod, b.metadata.namespace).filter((p) => active(p) && matchesSelector(b.spec.selector, p.metadata.labels || {}));
    const healthy = pods.filter(isReady).length;
    const expected = pods.length;
    const desired = b.spec.minAvailable !== undefined ? intOrPercent(b.spec.minAvailable, expected, true) : Math.max(0, expected - intOrPercent(b.spec.maxUnavailable, expected, true));
    const status = { observedGeneration: b.metadata.generation, disruptionsAllowed: Math.max(0, healthy - desired), currentHealthy: healthy, desiredHealthy: desired, expectedPods: expected };
    const { conditions, ...prev } = (b.status || {});
    if (!same(prev, status)) { b.status = { ...status, ...(conditions ? { conditions } : {}) }; this.write(R.pdb, b); }
  }
}

function active(p) { return !p.metadata.deletionTimestamp; }
function isReady(p) { return ((p.status && p.status.conditions) || []).some((c) => c.type === "Ready" && c.status === "True"); }

module.exports = { Controllers, kBehaviourAnnotation, podStatus };
