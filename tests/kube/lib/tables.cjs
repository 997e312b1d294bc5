// meta.k8s.io/v1 Table rendering, for `kubectl get` without -o (and -o wide): the columns the
// real API server prints for the kinds we serve, NAME/AGE for the rest.
"use strict";

function age(ts, now = Date.now()) {
  if (!ts) return "<unknown>";
  const s = Math.max(0, Math.floor((now - Date.parse(ts)) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ""}`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

const col = (name, type = "string", priority = 0, format = "") => ({ name, type, format, description: name, priority });
const n = (v) => (v === undefined || v === null ? 0 : v);
const selectorString = (sel) => Object.entries(sel || {}).map(([k, v]) => `${k}=${v}`).join(",") || "<none>";

function podStatus(p) {
  const cs = (p.status && p.status.containerStatuses) || [];
  for (const c of cs) if (c.state && c.state.waiting && c.state.waiting.reason) return c.state.waiting.reason;
  if (p.metadata.deletionTimestamp) return "Terminating";
  return (p.status && p.status.phase) || "Pending";
}
function ports(svc) {
  return ((svc.spec && svc.spec.ports) || []).map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ""}/${p.protocol || "TCP"}`).join(",") || "<none>";
}

const KINDS = {
  Deployment: {
    columns: [col("Name", "string", 0, "name"), col("Ready"), col("Up-to-date", "integer"), col("Available", "integer"), col("Age"),
      col("Containers", "string", 1), col("Images", "string", 1), col("Selector", "string", 1)],
    cells: (o) => [`${n(o.status && o.status.readyReplicas)}/${n(o.spec.replicas)}`, n(o.status && o.status.updatedReplicas), n(o.status && o.status.availableReplicas),
      "AGE", o.spec.template.spec.containers.map((c) => c.name).join(","), o.spec.template.spec.containers.map((c) => c.image).join(","),
      selectorString(o.spec.selector && o.spec.selector.matchLabels)],
  },
  ReplicaSet: {
    columns: [col("Name", "string", 0, "name"), col("Desired", "integer"), col("Current", "integer"), col("Ready", "integer"), col("Age"),
      col("Containers", "string", 1), col("Images", "string", 1), col("Selector", "string", 1)],
    cells: (o) => [n(o.spec.replicas), n(o.status && o.status.replicas), n(o.status && o.status.readyReplicas), "AGE",
      o.spec.template.spec.containers.map((c) => c.name).join(","), o.spec.template.spec.containers.map((c) => c.image).join(","),
      selectorString(o.spec.selector && o.spec.selector.matchLabels)],
  },
  StatefulSet: {
    columns: [col("Name", "string", 0, "name"), col("Ready"), col("Age"), col("Containers", "string", 1), col("Images", "string", 1)],
    cells: (o) => [`${n(o.status && o.status.readyReplicas)}/${n(o.spec.replicas)}`, "AGE",
      o.spec.template.spec.containers.map((c) => c.name).join(","), o.spec.template.spec.containers.map((c) => c.image).join(",")],
  },
  Pod: {
    columns: [col("Name", "string", 0, "name"), col("Ready"), col("Status"), col("Restarts"), col("Age"),
      col("IP", "string", 1), col("Node", "string", 1), col("Nominated Node", "string", 1), col("Readiness Gates", "string", 1)],
    cells: (o) => {
      const cs = (o.status && o.status.containerStatuses) || [];
      const total = o.spec.containers.length;
      const restarts = cs.reduce((a, c) => a + n(c.restartCount), 0);
      return [`${cs.filter((c) => c.ready).length}/${total}`, podStatus(o), String(restarts), "AGE",
        (o.status && o.status.podIP) || "<none>", o.spec.nodeName || "<none>", "<none>", "<none>"];
    },
  },
  Service: {
    columns: [col("Name", "string", 0, "name"), col("Type"), col("Cluster-IP"), col("External-IP"), col("Port(s)"), col("Age"), col("Selector", "string", 1)],
    cells: (o) => {
      const type = o.spec.type || "ClusterIP";
      const ext = type === "ExternalName" ? o.spec.externalName : type === "LoadBalancer" ? "<pending>" : "<none>";
      return [type, o.spec.clusterIP || "<none>", ext, ports(o), "AGE", selectorString(o.spec.selector)];
    },
  },
  Endpoints: {
    columns: [col("Name", "string", 0, "name"), col("Endpoints"), col("Age")],
    cells: (o) => {
      const eps = [];
      for (const s of o.subsets || []) for (const a of s.addresses || []) for (const p of s.ports || []) eps.push(`${a.ip}:${p.port}`);
      return [eps.length ? (eps.length > 3 ? `${eps.slice(0, 3).join(",")} + ${eps.length - 3} more...` : eps.join(",")) : "<none>", "AGE"];
    },
  },
  HorizontalPodAutoscaler: {
    columns: [col("Name", "string", 0, "name"), col("Reference"), col("Targets"), col("MinPods", "integer"), col("MaxPods", "integer"), col("Replicas", "integer"), col("Age")],
    cells: (o) => {
      const cur = (o.status && o.status.currentMetrics) || [];
      const targets = (o.spec.metrics || []).map((m, i) => {
        const want = m.resource && m.resource.target && m.resource.target.averageUtilization;
        const have = cur[i] && cur[i].resource && cur[i].resource.current && cur[i].resource.current.averageUtilization;
        return `${m.resource ? `${m.resource.name}: ` : ""}${have === undefined ? "<unknown>" : `${have}%`}/${want === undefined ? "?" : `${want}%`}`;
      }).join(", ") || "<none>";
      return [`${o.spec.scaleTargetRef.kind}/${o.spec.scaleTargetRef.name}`, targets, n(o.spec.minReplicas || 1), o.spec.maxReplicas, n(o.status && o.status.currentReplicas), "AGE"];
    },
  },
  ConfigMap: { columns: [col("Name", "string", 0, "name"), col("Data", "integer"), col("Age")],
    cells: (o) => [Object.keys(o.data || {}).length + Object.keys(o.binaryData || {}).length, "AGE"] },
  Secret: { columns: [col("Name", "string", 0, "name"), col("Type"), col("Data", "integer"), col("Age")],
    cells: (o) => [o.type || "Opaque", Object.keys(o.data || {}).length + Object.keys(o.stringData || {}).length, "AGE"] },
  Namespace: { columns: [col("Name", "string", 0, "name"), col("Status"), col("Age")],
    cells: (o) => [(o.status && o.status.phase) || "Active", "AGE"] },
  PersistentVolumeClaim: {
    columns: [col("Name", "string", 0, "name"), col("Status"), col("Volume"), col("Capacity"), col("Access Modes"), col("StorageClass"), col("Age")],
    cells: (o) => [(o.status && o.status.phase) || "Pending", o.spec.volumeName || "", "", (o.spec.accessModes || []).map((m) => ({ ReadWriteOnce: "RWO", ReadWriteMany: "RWX", ReadOnlyMany: "ROX", ReadWriteOncePod: "RWOP" }[m] || m)).join(","),
      o.spec.storageClassName || "<unset>", "AGE"],
  },
  PodDisruptionBudget: {
    columns: [col("Name", "string", 0, "name"), col("Min Available"), col("Max Unavailable"), col("Allowed Disruptions", "integer"), col("Age")],
    cells: (o) => [o.spec.minAvailable === undefined ? "N/A" : String(o.spec.minAvailable), o.spec.maxUnavailable === undefined ? "N/A" : String(o.spec.maxUnavailable),
      n(o.status && o.status.disruptionsAllowed), "AGE"],
  },
  Lease: { columns: [col("Name", "string", 0, "name"), col("Holder"), col("Age")], cells: (o) => [(o.spec && o.spec.holderIdentity) || "", "AGE"] },
  Event: {
    columns: [col("Last Seen"), col("Type"), col("Reason"), col("Object"), col("Message")],
    cells: (o) => [age(o.lastTimestamp || o.metadata.creationTimestamp), o.type, o.reason, `${o.involvedObject.kind.toLowerCase()}/${o.involvedObject.name}`, o.message],
    noName: true,
  },
};

// includeObject: "Object" puts the whole object in each row (kubectl --sort-by asks for it),
// otherwise its metadata (PartialObjectMetadata), as the API server does.
function table(r, objs, rv, includeObject) {
  const spec = KINDS[r.kind] || { columns: [col("Name", "string", 0, "name"), col("Age")], cells: () => ["AGE"] };
  const now = Date.now();
  const rows = objs.map((o) => {
    const cells = spec.cells(o).map((c) => (c === "AGE" ? age(o.metadata.creationTimestamp, now) : c));
    return { cells: spec.noName ? cells : [o.metadata.name, ...cells],
      object: includeObject === "Object" ? { ...o, kind: r.kind, apiVersion: r.apiVersion }
        : includeObject === "None" ? null : { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata } };
  });
  return { kind: "Table", apiVersion: "meta.k8s.io/v1", metadata: { resourceVersion: rv }, columnDefinitions: spec.columns, rows };
}

module.exports = { table, age, podStatus };
