// Breaks copies of rendered objects on purpose and requires the matching rule to fire, so a
// check that can no longer fail is itself reported. Returns problems ("self-test: ...").
"use strict";
const { validateSchema } = require("./schema.cjs");
const { check } = require("./invariants.cjs");
const { checkRunbook } = require("./runbook.cjs");

const clone = (x) => JSON.parse(JSON.stringify(x));
const get = (objs, kind, name) => objs.find((o) => o.kind === kind && o.metadata.name === name);
const server = (objs) => get(objs, "Deployment", "streamgate-blue").spec.template.spec;
const controller = (objs) => get(objs, "Deployment", "streamgate-controller").spec.template;
const setArg = (o, flag, value) => { const a = controller(o).spec.containers[0].args; a[a.indexOf(flag) + 1] = value; };
const rule = (o, resource) => get(o, "Role", "streamgate-controller").rules.find((r) => r.resources.includes(resource) && r.resourceNames);

const CASES = [
  ["schema: a port given as text", (o) => { server(o).containers[0].ports[0].containerPort = "http"; }, "schema: /spec/template/spec/containers/0/ports/0/containerPort"],
  ["a misspelt field", (o) => { server(o).containers[0].readinesProbe = server(o).containers[0].readinessProbe; delete server(o).containers[0].readinessProbe; }, "strict: spec.template.spec.containers[0].readinesProbe: unknown field"],
  ["no memory limit", (o) => { delete server(o).containers[0].resources.limits.memory; }, "resources: container streamgate-server has no limits.memory"],
  ["no startup probe", (o) => { delete server(o).containers[0].startupProbe; }, "probes: container streamgate-server has no startupProbe"],
  ["probe path the server does not serve", (o) => { server(o).containers[0].livenessProbe.httpGet.path = "/healthz"; }, "is not a route of streamgate-server"],
  ["gateway probe not on its admin routes", (o) => { get(o, "Deployment", "streamgate-gateway").spec.template.spec.containers[0].readinessProbe.httpGet.path = "/ready"; }, "not served by the gateway's admin listener"],
  ["grace period shorter than the drain", (o) => { server(o).terminationGracePeriodSeconds = 20; }, "drain: terminationGracePeriodSeconds 20"],
  ["Service selecting nothing", (o) => { get(o, "Service", "streamgate-active").spec.selector.version = "purple"; }, "Service/streamgate-active: selector"],
  ["writable root filesystem", (o) => { server(o).containers[0].securityContext.readOnlyRootFilesystem = false; }, "readOnlyRootFilesystem"],
  ["a real-looking secret", (o) => { get(o, "Secret", "streamgate-secrets").stringData["api-token"] = "hunter22hunter22"; }, "not a REPLACE-ME placeholder"],
  ["HPA on a missing Deployment", (o) => { get(o, "HorizontalPodAutoscaler", "streamgate-hpa-green").spec.scaleTargetRef.name = "streamgate-grey"; }, "scaleTargetRef Deployment/streamgate-grey"],
  ["admin port on the LoadBalancer", (o) => { get(o, "Service", "streamgate-gateway").spec.ports.push({ name: "admin", port: 8081, targetPort: "admin" }); }, "cluster-internal"],
  ["controller probe on a path its control API lacks", (o) => { controller(o).spec.containers[0].readinessProbe.httpGet.path = "/ready"; }, "is not a token-free route of sgctl's control API"],
  ["controller's control API on loopback", (o) => { setArg(o, "--control-listen", "127.0.0.1:9091"); }, "is loopback: the kubelet's probes cannot reach it"],
  ["controller's state dir not mounted", (o) => { controller(o).spec.containers[0].volumeMounts.shift(); }, "SG_STATE_DIR /var/lib/streamgate-controller is not a mounted volume"],
  ["controller not admitted to the gateway admin port", (o) => { delete controller(o).metadata.labels["app.kubernetes.io/component"]; }, "no NetworkPolicy admits its pods to pods app=streamgate-gateway, port admin"],
  ["controller Role granting more", (o) => { get(o, "Role", "streamgate-controller").rules[1].verbs.push("watch"); }, "grants more than the kubernetes backend does: watch pods"],
  ["controller Role lacking the Lease update", (o) => { rule(o, "leases").verbs = ["get"]; }, "lacks what the kubernetes backend does: update coordination.k8s.io/leases streamgate-controller"],
  ["gateway track naming no Service", (o) => { const cm = get(o, "ConfigMap", "streamgate-gateway-config"); cm.data["gateway.yaml"] = cm.data["gateway.yaml"].replace("streamgate-active:9090", "streamgate-nowhere:9090"); }, "names no rendered Service"],
];

function selfTest(objs, ctx) {
  const problems = [];
  for (const [what, breakIt, expect] of CASES) {
    const broken = clone(objs);
    breakIt(broken);
    const found = [...validateSchema(broken), ...check(broken, ctx)];
    if (!found.some((f) => f.includes(expect))) problems.push(`self-test: "${what}" was not caught (expected a problem with "${expect}")`);
  }
  const broken = clone(objs);
  delete get(broken, "Service", "streamgate-active").spec.selector.version;
  const runbook = "kubectl get service streamgate-active -n streamgate -o jsonpath='{.spec.selector.version}'\n";
  if (!checkRunbook(runbook, { broken }, validateSchema).problems.length) problems.push("self-test: a runbook jsonpath that does not resolve was not caught");
  return problems;
}

module.exports = { selfTest };
