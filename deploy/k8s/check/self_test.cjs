// Breaks copies of rendered objects on purpose and requires the matching rule to fire, so a
// check that can no longer fail is itself reported. Returns problems ("self-test: ...").
"use strict";
const { validateSchema } = require("./schema.cjs");
const { check } = require("./invariants.cjs");
const { checkRunbook } = require("./runbook.cjs");

const clone = (x) => JSON.parse(JSON.stringify(x));
const get = (objs, kind, name) => objs.find((o) => o.kind === kind && o.metadata.name === name);
const server = (objs) => get(objs, "Deployment", "streamgate-blue").spec.template.spec;

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
