// Invariants of one rendered overlay. Each problem names the object and the rule:
//   "Deployment/streamgate-blue: probes: container streamgate-server has no startupProbe".
"use strict";
const YAML = require("yaml");
const { id } = require("./render.cjs");

const NAMESPACE = "streamgate";
const CLUSTER_SCOPED = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"]);
const WORKLOADS = new Set(["Deployment", "StatefulSet"]);

const find = (objs, kind, name) => objs.find((o) => o.kind === kind && o.metadata.name === name);
const matches = (selector, labels) =>
  Object.entries(selector || {}).every(([k, v]) => labels && labels[k] === v);
const podLabels = (w) => (w.spec.template.metadata && w.spec.template.metadata.labels) || {};
const portOf = (hostPort) => Number(String(hostPort).split(":").pop());

function check(objs, ctx) {
  const p = [];
  const add = (o, rule, msg) => p.push(`${id(o)}: ${rule}: ${msg}`);
  const workloads = objs.filter((o) => WORKLOADS.has(o.kind));
  const config = find(objs, "ConfigMap", "streamgate-config");
  const secrets = objs.filter((o) => o.kind === "Secret");

  for (const o of objs) {
    if (!CLUSTER_SCOPED.has(o.kind) && o.metadata.namespace !== NAMESPACE) {
      add(o, "namespace", `must be in namespace ${NAMESPACE}, is in ${o.metadata.namespace || "(none)"}`);
    }
  }
  for (const w of workloads) checkWorkload(w, objs, ctx, config, add);
  checkServices(objs, workloads, add);
  checkAutoscaling(objs, add);
  checkDisruption(objs, workloads, add);
  checkNetworkPolicies(objs, workloads, add);
  checkSecrets(secrets, add);
  checkRbac(objs, add);
  checkControllerRole(objs, add);
  checkGatewayConfig(objs, add);
  const media = find(objs, "PersistentVolumeClaim", "streamgate-media");
  if (!media) p.push("PersistentVolumeClaim/streamgate-media: media: missing");
  else if (!media.spec.accessModes.includes("ReadWriteMany")) add(media, "media", "must be ReadWriteMany");
  return p;
}

function checkWorkload(w, objs, ctx, config, add) {
  const spec = w.spec.template.spec;
  if (!matches(w.spec.selector.matchLabels, podLabels(w))) {
    add(w, "selector", `spec.selector ${JSON.stringify(w.spec.selector.matchLabels)} does not match the pod labels`);
  }
  const sc = spec.securityContext || {};
  if (w.kind === "Deployment" && !(spec.topologySpreadConstraints || []).length) add(w, "topology", "no topologySpreadConstraints");
  const ours = spec.containers.some((c) => /\/streamgate-(server|gateway)$/.test((c.command || [])[0] || ""));
  if (ours && spec.automountServiceAccountToken !== false) add(w, "serviceaccount", "automountServiceAccountToken must be false");
  const volumes = new Set((spec.volumes || []).map((v) => v.name));
  for (const t of w.spec.volumeClaimTemplates || []) volumes.add(t.metadata.name);
  for (const c of spec.containers) {
    const cname = `container ${c.name}`;
    const r = c.resources || {};
    for (const kind of ["requests", "limits"]) {
      for (const res of ["cpu", "memory"]) {
        if (!(r[kind] && r[kind][res])) add(w, "resources", `${cname} has no ${kind}.${res}`);
      }
    }
    for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"]) {
      if (!c[probe]) add(w, "probes", `${cname} has no ${probe}`);
    }
    const csc = c.securityContext || {};
    if (!(sc.runAsNonRoot || csc.runAsNonRoot)) add(w, "security", `${cname} may run as root (runAsNonRoot)`);
    if (csc.readOnlyRootFilesystem !== true) add(w, "security", `${cname} needs readOnlyRootFilesystem: true`);
    if (csc.allowPrivilegeEscalation !== false) add(w, "security", `${cname} needs allowPrivilegeEscalation: false`);
    for (const m of c.volumeMounts || []) {
      if (!volumes.has(m.name)) add(w, "volumes", `${cname} mounts ${m.name}, which is not a volume`);
    }
    checkProbePorts(w, c, add);
    checkRefs(w, c, objs, add);
    const bin = (c.command || [])[0] || "";
    if (bin.endsWith("/streamgate-server")) checkServer(w, c, config, ctx, add);
    if (bin.endsWith("/streamgate-gateway")) checkGateway(w, c, objs, ctx, add);
    if (bin.endsWith("/sgctl")) checkController(w, c, objs, ctx, add);
  }
}

function probes(c) {
  return ["livenessProbe", "readinessProbe", "startupProbe"].filter((k) => c[k]).map((k) => [k, c[k]]);
}

function containerPort(c, port) {
  return (c.ports || []).find((p) => p.name === port || p.containerPort === port);
}

function checkProbePorts(w, c, add) {
  for (const [kind, pr] of probes(c)) {
    const action = pr.httpGet || pr.tcpSocket;
    if (action && !containerPort(c, action.port)) {
      add(w, "probes", `${kind} of ${c.name} uses port ${action.port}, which the container does not declare`);
    }
  }
}

// envFrom / secretKeyRef / configMapKeyRef must name objects (and keys) of the render, except
// streamgate-secrets where an overlay leaves it out on purpose (created out of band).
function checkRefs(w, c, objs, add) {
  for (const ef of c.envFrom || []) {
    if (ef.configMapRef && !find(objs, "ConfigMap", ef.configMapRef.name)) add(w, "references", `${c.name}: envFrom ConfigMap ${ef.configMapRef.name} is not rendered`);
  }
  for (const e of c.env || []) {
    const ref = e.valueFrom && e.valueFrom.secretKeyRef;
    if (!ref) continue;
    const s = find(objs, "Secret", ref.name);
    if (!s) continue;
    const keys = { ...(s.data || {}), ...(s.stringData || {}) };
    if (!(ref.key in keys) && !ref.optional) add(w, "references", `${c.name}: env ${e.name} needs key ${ref.key} of Secret ${ref.name}`);
  }
}

function preStopSeconds(c) {
  const ps = c.lifecycle && c.lifecycle.preStop;
  return ps && ps.sleep ? ps.sleep.seconds : 0;
}

function checkServer(w, c, config, ctx, add) {
  if (!config) return add(w, "config", "ConfigMap streamgate-config is not rendered");
  const listen = portOf(config.data.STREAMGATE_LISTEN);
  const http = containerPort(c, "http");
  if (!http || http.containerPort !== listen) add(w, "ports", `port http must be ${listen} (STREAMGATE_LISTEN)`);
  for (const [kind, pr] of probes(c)) {
    if (!pr.httpGet) { add(w, "probes", `${kind} of ${c.name} must be an httpGet on the server`); continue; }
    if (!ctx.serverRoutes.has(pr.httpGet.path)) add(w, "probes", `${kind} path ${pr.httpGet.path} is not a route of streamgate-server`);
  }
  if (c.readinessProbe && c.readinessProbe.httpGet && !["/readyz", "/ready"].includes(c.readinessProbe.httpGet.path)) {
    add(w, "probes", "readinessProbe must use /readyz or /ready (they turn 503 when draining)");
  }
  const need = preStopSeconds(c) + Number(config.data.STREAMGATE_DRAIN_DELAY) + Number(config.data.STREAMGATE_GRACE_PERIOD);
  const tgps = w.spec.template.spec.terminationGracePeriodSeconds;
  if (!(tgps >= need)) add(w, "drain", `terminationGracePeriodSeconds ${tgps} < preStop + drain delay + grace period = ${need}`);
  if (!preStopSeconds(c)) add(w, "drain", `${c.name} has no preStop sleep`);
  const mounts = (c.volumeMounts || []).map((m) => m.mountPath);
  if (!mounts.includes(config.data.STREAMGATE_MEDIA_DIR)) add(w, "media", `STREAMGATE_MEDIA_DIR ${config.data.STREAMGATE_MEDIA_DIR} is not mounted`);
  const labels = podLabels(w);
  if (labels.app !== "streamgate" || !labels.version) add(w, "labels", "server pods need app=streamgate and version=<track>");
  if (w.metadata.name !== `streamgate-${labels.version}`) add(w, "labels", `name must be streamgate-${labels.version}`);
}

function gatewayConfig(objs) {
  const cm = find(objs, "ConfigMap", "streamgate-gateway-config");
  return cm ? YAML.parse(cm.data["gateway.yaml"]) : null;
}

function checkGateway(w, c, objs, ctx, add) {
  const cfg = gatewayConfig(objs);
  if (!cfg) return add(w, "config", "ConfigMap streamgate-gateway-config is not rendered");
  const http = containerPort(c, "http");
  const admin = containerPort(c, "admin");
  if (!http || http.containerPort !== portOf(cfg.listen)) add(w, "ports", `port http must be ${portOf(cfg.listen)} (gateway.yaml listen)`);
  if (!admin || admin.containerPort !== portOf(cfg.admin.listen)) add(w, "ports", `port admin must be ${portOf(cfg.admin.listen)} (gateway.yaml admin.listen)`);
  for (const [kind, pr] of probes(c)) {
    if (!pr.httpGet || pr.httpGet.port !== "admin") { add(w, "probes", `${kind} must GET the admin port`); continue; }
    if (!ctx.gatewayRoutes.has(pr.httpGet.path)) add(w, "probes", `${kind} path ${pr.httpGet.path} is not served by the gateway's admin listener`);
  }
  const grace = Number((c.args || [])[(c.args || []).indexOf("--grace-period") + 1] || 25);
  const tgps = w.spec.template.spec.terminationGracePeriodSeconds;
  if (!(tgps >= preStopSeconds(c) + grace)) add(w, "drain", `terminationGracePeriodSeconds ${tgps} < preStop + --grace-period ${grace}`);
  if (podLabels(w).app === "streamgate") add(w, "labels", "gateway pods must not carry app=streamgate (the runbook's -l app=streamgate means servers)");
}

// The value following `flag` in a container's args, or undefined.
function argValue(c, flag) {
  const args = c.args || [];
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

// `$(NAME)` in args is expanded by the kubelet from the container's env.
function expand(c, value) {
  return String(value).replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name) => {
    const e = (c.env || []).find((x) => x.name === name);
    return e && e.value !== undefined ? e.value : all;
  });
}

// sgctl's kubernetes controller (docs/kubernetes.md): probes on its control API's token-free
// routes, on a port the kubelet can reach; its state dir on a volume; its ServiceAccount bound
// to a Role; and the gateway admin port reachable through a Service and the NetworkPolicy.
function checkController(w, c, objs, ctx, add) {
  const args = c.args || [];
  if (argValue(c, "--backend") !== "kubernetes" || !args.includes("controller")) add(w, "controller", `${c.name} must run \`sgctl --backend kubernetes controller\``);
  const listen = argValue(c, "--control-listen");
  if (!listen) add(w, "controller", "no --control-listen: the control API's port is random, so no probe can reach it");
  else {
    const host = listen.slice(0, listen.lastIndexOf(":"));
    if (["127.0.0.1", "localhost", "::1", "[::1]"].includes(host)) add(w, "controller", `--control-listen ${listen} is loopback: the kubelet's probes cannot reach it`);
    else if (!args.includes("--insecure-listen")) add(w, "controller", `--control-listen ${listen} is not loopback: sgctl refuses it without --insecure-listen`);
    const port = containerPort(c, "control");
    if (!port || port.containerPort !== portOf(listen)) add(w, "ports", `port control must be ${portOf(listen)} (--control-listen)`);
  }
  for (const [kind, pr] of probes(c)) {
    if (!pr.httpGet || pr.httpGet.port !== "control") { add(w, "probes", `${kind} must GET the control port`); continue; }
    if (!ctx.controlRoutes.has(pr.httpGet.path)) add(w, "probes", `${kind} path ${pr.httpGet.path} is not a token-free route of sgctl's control API`);
  }
  const env = Object.fromEntries((c.env || []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
  const stateDir = env.SG_STATE_DIR;
  const mounts = (c.volumeMounts || []).map((m) => m.mountPath);
  if (!stateDir) add(w, "controller", "no SG_STATE_DIR");
  else if (!mounts.includes(stateDir)) add(w, "controller", `SG_STATE_DIR ${stateDir} is not a mounted volume (the root filesystem is read-only)`);
  const tokenFile = argValue(c, "--gateway-token-file");
  if (tokenFile && !mounts.some((m) => tokenFile.startsWith(`${m}/`))) add(w, "controller", `--gateway-token-file ${tokenFile} is on no mounted volume`);
  const labels = podLabels(w);
  if (labels.app === "streamgate") add(w, "labels", "controller pods must not carry app=streamgate (the runbook's -l app=streamgate means servers)");
  const spec = w.spec.template.spec;
  if (spec.automountServiceAccountToken === false) add(w, "serviceaccount", "kubectl in the controller needs its ServiceAccount token (automountServiceAccountToken)");
  const sa = spec.serviceAccountName;
  const bound = objs.some((b) => b.kind === "RoleBinding" && (b.subjects || []).some((s) => s.kind === "ServiceAccount" && s.name === sa)
    && find(objs, "Role", b.roleRef.name));
  if (!sa || !find(objs, "ServiceAccount", sa)) add(w, "serviceaccount", `ServiceAccount ${sa || "(default)"} is not rendered`);
  else if (!bound) add(w, "rbac", `ServiceAccount ${sa} is bound to no rendered Role`);
  // The gateways it configures: one --gateway-admin Service port, or (the default) every pod
  // labelled --gateway-selector (app=streamgate-gateway) at its container port "admin".
  const admin = expand(c, argValue(c, "--gateway-admin") || "");
  let gatewayPods, adminPort, what;
  if (admin) {
    const [host, port] = admin.split(":");
    const svc = host && find(objs, "Service", host);
    const svcPort = svc && svc.spec.ports.find((p) => p.port === Number(port));
    if (!svcPort) return add(w, "controller", `gateway admin ${admin} is not a port of a rendered Service`);
    gatewayPods = objs.filter((o) => WORKLOADS.has(o.kind) && matches(svc.spec.selector, podLabels(o)));
    adminPort = svcPort.targetPort;
    what = admin;
  } else {
    const selector = argValue(c, "--gateway-selector") || "app=streamgate-gateway";
    const [key, value] = selector.split("=");
    gatewayPods = objs.filter((o) => WORKLOADS.has(o.kind) && podLabels(o)[key] === value);
    if (gatewayPods.length === 0) return add(w, "controller", `--gateway-selector ${selector} matches no rendered workload`);
    adminPort = "admin";
    what = `pods ${selector}, port admin`;
    if (!gatewayPods.every((g) => g.spec.template.spec.containers.some((gc) => containerPort(gc, "admin")))) {
      add(w, "controller", `a workload matching ${selector} has no container port named admin`);
    }
  }
  const admits = objs.some((n) => n.kind === "NetworkPolicy" && gatewayPods.some((g) => matches(n.spec.podSelector.matchLabels, podLabels(g)))
    && (n.spec.ingress || []).some((r) => (r.from || []).some((f) => f.podSelector && !f.namespaceSelector && matches(f.podSelector.matchLabels, labels))
      && (r.ports || []).some((p) => p.port === adminPort || gatewayPods.some((g) => g.spec.template.spec.containers.some((gc) => {
        const cp = containerPort(gc, adminPort);
        return cp && cp.containerPort === p.port;
      })))));
  if (!admits) add(w, "networkpolicy", `no NetworkPolicy admits its pods to ${what} (the gateway's admin port)`);
}

// What sgctl's kubernetes backend does through kubectl (docs/kubernetes.md), as Role rules:
// the controller's Role must grant exactly these, no fewer and no more.
const CONTROLLER_GRANTS = [
  "apps deployments * get", "apps deployments * list", "apps deployments * patch",
  " pods * get", " pods * list", " pods * patch", " pods/log * get", " services * get", " services * list", " services * patch",
  " configmaps streamgate-rollout-state get", " configmaps streamgate-rollout-state update", " configmaps * create",
  " configmaps streamgate-control-requests get", " configmaps streamgate-control-requests patch",
  "coordination.k8s.io leases streamgate-controller get", "coordination.k8s.io leases streamgate-controller update",
  "coordination.k8s.io leases * create",
];

function grants(role) {
  const out = new Set();
  for (const r of role.rules || []) {
    for (const g of r.apiGroups || []) for (const res of r.resources || []) for (const v of r.verbs || []) {
      for (const n of r.resourceNames && r.resourceNames.length ? r.resourceNames : ["*"]) out.add(`${g} ${res} ${n} ${v}`);
    }
  }
  return out;
}

function checkControllerRole(objs, add) {
  const role = find(objs, "Role", "streamgate-controller");
  if (!role) return;
  const have = grants(role);
  // A grant on every name covers a grant on one.
  const covered = (g) => have.has(g) || have.has(g.replace(/^(\S* \S+) \S+ /, "$1 * "));
  const missing = CONTROLLER_GRANTS.filter((g) => !covered(g));
  const extra = [...have].filter((g) => !CONTROLLER_GRANTS.includes(g));
  const show = (g) => { const [grp, res, name, verb] = g.split(" "); return `${verb} ${grp ? `${grp}/` : ""}${res}${name === "*" ? "" : ` ${name}`}`; };
  if (missing.length) add(role, "rbac", `lacks what the kubernetes backend does: ${missing.map(show).join(", ")}`);
  if (extra.length) add(role, "rbac", `grants more than the kubernetes backend does: ${extra.map(show).join(", ")}`);
}

function checkGatewayConfig(objs, add) {
  const cfg = gatewayConfig(objs);
  if (!cfg) return;
  const cm = find(objs, "ConfigMap", "streamgate-gateway-config");
  const weights = (cfg.route && cfg.route.weights) || {};
  const sum = Object.values(weights).reduce((a, b) => a + b, 0);
  if (sum !== 100) add(cm, "gateway", `route.weights sum to ${sum}, not 100`);
  for (const [track, t] of Object.entries(cfg.tracks || {})) {
    if (!(track in weights)) add(cm, "gateway", `track ${track} has no weight`);
    for (const ep of t.endpoints) {
      const [host, port] = ep.split(":");
      const svc = find(objs, "Service", host);
      if (!svc) add(cm, "gateway", `track ${track}: endpoint ${ep} names no rendered Service`);
      else if (!svc.spec.ports.some((p) => p.port === Number(port))) add(cm, "gateway", `track ${track}: Service ${host} has no port ${port}`);
    }
  }
  const sc = cfg.health_check && cfg.health_check.path;
  if (sc && sc !== "/readyz" && sc !== "/ready") add(cm, "gateway", `health_check.path ${sc} is not a readiness route`);
}

function checkServices(objs, workloads, add) {
  for (const s of objs.filter((o) => o.kind === "Service")) {
    if (s.spec.type === "ExternalName") continue;
    const pods = workloads.filter((w) => matches(s.spec.selector, podLabels(w)));
    if (!pods.length) { add(s, "selector", `selector ${JSON.stringify(s.spec.selector)} matches no pod template`); continue; }
    for (const port of s.spec.ports) {
      const ok = pods.every((w) => w.spec.template.spec.containers.some((c) => containerPort(c, port.targetPort || port.port)));
      if (!ok) add(s, "ports", `targetPort ${port.targetPort} is not a port of every selected pod`);
      if (port.targetPort === "admin" && s.spec.type !== "ClusterIP") add(s, "exposure", "the gateway admin port must stay cluster-internal");
    }
    if (s.spec.type === "LoadBalancer" && s.metadata.name !== "streamgate-gateway") add(s, "exposure", "only streamgate-gateway may be a LoadBalancer");
  }
  for (const name of ["streamgate-active", "streamgate-preview", "streamgate-stable", "streamgate-canary"]) {
    const s = find(objs, "Service", name);
    if (!s) continue;
    const ports = s.spec.ports.map((p) => p.port).sort();
    if (ports.join() !== "80,9090") add(s, "ports", `must expose 80 and 9090, exposes ${ports}`);
    if (!s.spec.selector.version) add(s, "selector", "must select by version");
  }
}

function checkAutoscaling(objs, add) {
  const hpas = objs.filter((o) => o.kind === "HorizontalPodAutoscaler");
  const servers = objs.filter((o) => o.kind === "Deployment" && podLabels(o).app === "streamgate");
  for (const h of hpas) {
    const t = h.spec.scaleTargetRef;
    if (!find(objs, t.kind, t.name)) add(h, "hpa", `scaleTargetRef ${t.kind}/${t.name} is not rendered`);
    const cpu = (h.spec.metrics || []).find((m) => m.type === "Resource" && m.resource.name === "cpu");
    if (!cpu || cpu.resource.target.averageUtilization !== 70) add(h, "hpa", "needs a CPU target of 70 % utilization");
    if (h.spec.minReplicas !== 2 || h.spec.maxReplicas !== 10) add(h, "hpa", "min 2, max 10");
  }
  for (const d of servers) {
    const mine = hpas.filter((h) => h.spec.scaleTargetRef.name === d.metadata.name);
    if (mine.length !== 1) add(d, "hpa", `needs exactly one HPA, has ${mine.length}`);
  }
  if (servers.length && !find(objs, "HorizontalPodAutoscaler", "streamgate-hpa-cpu")) {
    p_missing(add, "HorizontalPodAutoscaler/streamgate-hpa-cpu");
  }
}
function p_missing(add, what) { add({ kind: what.split("/")[0], metadata: { name: what.split("/")[1] } }, "hpa", "missing (the runbook's name)"); }

function checkDisruption(objs, workloads, add) {
  const pdbs = objs.filter((o) => o.kind === "PodDisruptionBudget");
  for (const w of workloads.filter((x) => x.kind === "Deployment")) {
    if (!pdbs.some((b) => matches(b.spec.selector.matchLabels, podLabels(w)))) add(w, "pdb", "no PodDisruptionBudget selects its pods");
  }
  for (const b of pdbs) {
    if (!workloads.some((w) => matches(b.spec.selector.matchLabels, podLabels(w)))) add(b, "pdb", "selects no pods");
  }
}

function checkNetworkPolicies(objs, workloads, add) {
  const nps = objs.filter((o) => o.kind === "NetworkPolicy");
  if (!nps.some((n) => Object.keys(n.spec.podSelector || {}).length === 0 || Object.keys(n.spec.podSelector.matchLabels || {}).length === 0)) {
    p_net(add);
  }
  for (const w of workloads) {
    const own = nps.filter((n) => n.spec.podSelector.matchLabels && matches(n.spec.podSelector.matchLabels, podLabels(w)));
    if (!own.length) add(w, "networkpolicy", "no NetworkPolicy allows traffic to its pods (default deny)");
  }
}
function p_net(add) { add({ kind: "NetworkPolicy", metadata: { name: "default-deny-ingress" } }, "networkpolicy", "missing default deny"); }

function checkSecrets(secrets, add) {
  for (const s of secrets) {
    if (!(s.metadata.annotations && s.metadata.annotations["streamgate.io/template"] === "true")) add(s, "secret", "only templates may be shipped (annotation streamgate.io/template)");
    if (s.data && Object.keys(s.data).length) add(s, "secret", "templates use stringData placeholders, not data");
    for (const [k, v] of Object.entries(s.stringData || {})) {
      if (v !== "" && !String(v).startsWith("REPLACE-ME")) add(s, "secret", `key ${k} holds a value that is not a REPLACE-ME placeholder`);
    }
  }
}

function checkRbac(objs, add) {
  for (const o of objs.filter((x) => x.kind === "ClusterRole" || x.kind === "ClusterRoleBinding")) add(o, "rbac", "nothing cluster-wide");
  for (const r of objs.filter((x) => x.kind === "Role")) {
    for (const rule of r.rules) {
      if (rule.verbs.includes("*") || rule.resources.includes("*") || rule.apiGroups.includes("*")) add(r, "rbac", "no wildcards");
      if (rule.resources.includes("secrets")) add(r, "rbac", "the controller must not read Secrets");
      if (rule.verbs.includes("delete") || rule.verbs.includes("deletecollection")) add(r, "rbac", `no delete (${rule.resources})`);
    }
  }
}

module.exports = { check, matches, podLabels, find };
