// The resource kinds the fixture serves, and the discovery documents kubectl reads for them:
// legacy (/api, /apis, /api/v1, /apis/<g>/<v>), aggregated (apidiscovery.k8s.io/v2) and a
// minimal OpenAPI v3 (paths only: it tells kubectl that PATCH takes fieldValidation, so
// kubectl asks the server to validate instead of validating against schemas we do not serve).
"use strict";

const RW = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

// [group, version, plural, Kind, namespaced, shortNames, subresources, categories]
const TABLE = [
  ["", "v1", "namespaces", "Namespace", false, ["ns"], ["status"], []],
  ["", "v1", "configmaps", "ConfigMap", true, ["cm"], [], []],
  ["", "v1", "secrets", "Secret", true, [], [], []],
  ["", "v1", "serviceaccounts", "ServiceAccount", true, ["sa"], [], []],
  ["", "v1", "services", "Service", true, ["svc"], ["status"], ["all"]],
  ["", "v1", "endpoints", "Endpoints", true, ["ep"], [], []],
  ["", "v1", "pods", "Pod", true, ["po"], ["status", "log"], ["all"]],
  ["", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, ["pvc"], ["status"], []],
  ["", "v1", "events", "Event", true, ["ev"], [], []],
  ["apps", "v1", "deployments", "Deployment", true, ["deploy"], ["scale", "status"], ["all"]],
  ["apps", "v1", "replicasets", "ReplicaSet", true, ["rs"], ["scale", "status"], ["all"]],
  ["apps", "v1", "statefulsets", "StatefulSet", true, ["sts"], ["scale", "status"], ["all"]],
  ["autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true, ["hpa"], ["status"], ["all"]],
  ["policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true, ["pdb"], ["status"], []],
  ["networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", true, ["netpol"], [], []],
  ["rbac.authorization.k8s.io", "v1", "roles", "Role", true, [], [], []],
  ["rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true, [], [], []],
  ["rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false, [], [], []],
  ["rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false, [], [], []],
  ["coordination.k8s.io", "v1", "leases", "Lease", true, [], [], []],
  ["monitoring.coreos.com", "v1", "prometheusrules", "PrometheusRule", true, ["promrule"], [], []],
];

const RESOURCES = TABLE.map(([group, version, plural, kind, namespaced, shortNames, subresources, categories]) => ({
  group, version, plural, kind, namespaced, shortNames, subresources, categories,
  singular: kind.toLowerCase(),
  apiVersion: group ? `${group}/${version}` : version,
  // "deployments.apps" as the API server names a resource in its messages.
  qualified: group ? `${plural}.${group}` : plural,
}));

function byPath(group, version, plural) {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural) || null;
}
function byKind(apiVersion, kind) {
  return RESOURCES.find((r) => r.apiVersion === apiVersion && r.kind === kind) || null;
}

const GROUPS = [...new Set(RESOURCES.filter((r) => r.group).map((r) => r.group))];

function subKind(r, sub) {
  if (sub === "scale") return { group: "autoscaling", version: "v1", kind: "Scale" };
  if (sub === "log") return { group: "", version: "v1", kind: "Pod" };
  return { group: r.group, version: r.version, kind: r.kind };
}
function subVerbs(sub) { return sub === "log" ? ["get"] : ["get", "patch", "update"]; }

function apiResourceList(group, version) {
  const resources = [];
  for (const r of RESOURCES.filter((x) => x.group === group && x.version === version)) {
    resources.push({ name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: RW,
      ...(r.shortNames.length ? { shortNames: r.shortNames } : {}), ...(r.categories.length ? { categories: r.categories } : {}) });
    for (const s of r.subresources) {
      const k = subKind(r, s);
      resources.push({ name: `${r.plural}/${s}`, singularName: "", namespaced: r.namespaced, group: k.group || undefined,
        version: k.version, kind: k.kind, verbs: subVerbs(s) });
    }
  }
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: group ? `${group}/${version}` : version, resources };
}

function apiGroup(group) {
  const versions = [...new Set(RESOURCES.filter((r) => r.group === group).map((r) => r.version))]
    .map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
  return { name: group, versions, preferredVersion: versions[0] };
}

// Aggregated discovery (apidiscovery.k8s.io/v2): one document for /api, one for /apis.
function aggregated(legacy) {
  const groups = legacy ? [""] : GROUPS;
  const items = groups.map((g) => {
    const versions = [...new Set(RESOURCES.filter((r) => r.group === g).map((r) => r.version))];
    return {
      metadata: { name: g, creationTimestamp: null },
      versions: versions.map((v) => ({
        version: v, freshness: "Current",
        resources: RESOURCES.filter((r) => r.group === g && r.version === v).map((r) => ({
          resource: r.plural, singularResource: r.singular, scope: r.namespaced ? "Namespaced" : "Cluster",
          responseKind: { group: r.group, version: r.version, kind: r.kind }, verbs: RW,
          ...(r.shortNames.length ? { shortNames: r.shortNames } : {}), ...(r.categories.length ? { categories: r.categories } : {}),
          subresources: r.subresources.map((s) => ({ subresource: s, responseKind: subKind(r, s), verbs: subVerbs(s) })),
        })),
      })),
    };
  });
  return { kind: "APIGroupDiscoveryList", apiVersion: "apidiscovery.k8s.io/v2", metadata: {}, items };
}

function legacyApiVersions(serverAddress) {
  return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }] };
}
function apiGroupList() {
  return { kind: "APIGroupList", apiVersion: "v1", groups: GROUPS.map(apiGroup) };
}

// OpenAPI v3: the root lists one document per group-version; each document has the paths,
// with the GVK extension and the fieldValidation parameter on PATCH, and no schemas.
function openapiRoot() {
  const paths = {};
  for (const gv of new Set(RESOURCES.map((r) => r.apiVersion))) {
    const p = gv.includes("/") ? `apis/${gv}` : `api/${gv}`;
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=fixture` };
  }
  return { paths };
}
function openapiGroupVersion(group, version) {
  const paths = {};
  const params = ["dryRun", "fieldManager", "fieldValidation", "force"].map((name) => ({ name, in: "query", schema: { type: "string" } }));
  for (const r of RESOURCES.filter((x) => x.group === group && x.version === version)) {
    const base = `/${group ? `apis/${group}` : "api"}/${version}${r.namespaced ? "/namespaces/{namespace}" : ""}/${r.plural}/{name}`;
    const gvk = { group: r.group, version: r.version, kind: r.kind };
    const op = (action) => ({ operationId: `${action}${r.kind}`, "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk,
      parameters: params, responses: { 200: { description: "OK" } } });
    paths[base] = { get: op("get"), put: op("put"), patch: op("patch"), delete: op("delete") };
  }
  return { openapi: "3.0.0", info: { title: "StreamGate fake API server (test fixture)", version: "v1.32.0" }, paths, components: { schemas: {} } };
}

module.exports = { RESOURCES, byPath, byKind, apiResourceList, aggregated, legacyApiVersions, apiGroupList, apiGroup, openapiRoot, openapiGroupVersion, GROUPS };
