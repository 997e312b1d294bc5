// The three PATCH formats kubectl sends: JSON merge patch (RFC 7386), strategic merge patch
// (merge keys for the lists our objects carry; $patch, $setElementOrder, $retainKeys and
// $deleteFromPrimitiveList directives), and JSON patch (RFC 6902). Each throws a PatchError
// with a message for a 422/400 Status on a patch it cannot apply.
"use strict";

class PatchError extends Error {}

const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

function mergePatch(target, patch) {
  if (!isObj(patch)) return clone(patch);
  const out = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// Patch merge keys of the built-in types, by field name (the same field name has the same key
// in every type we serve, except "ports": containerPort in a container, port in a Service).
const MERGE_KEYS = {
  containers: "name", initContainers: "name", ephemeralContainers: "name", env: "name", volumes: "name",
  volumeMounts: "mountPath", volumeDevices: "devicePath", imagePullSecrets: "name", conditions: "type",
  hostAliases: "ip", topologySpreadConstraints: "topologyKey", ownerReferences: "uid",
  resourceClaims: "name", readinessGates: "conditionType",
};
function mergeKey(field, items) {
  if (field === "ports") {
    const sample = items.find(isObj);
    return sample && "containerPort" in sample ? "containerPort" : "port";
  }
  return MERGE_KEYS[field] || null;
}

function strategicMerge(target, patch) {
  if (!isObj(patch)) return clone(patch);
  if (patch.$patch === "replace") { const p = { ...patch }; delete p.$patch; return clone(p); }
  if (patch.$patch === "delete") return undefined;
  const out = isObj(target) ? { ...target } : {};
  const retain = patch.$retainKeys;
  for (const [k, v] of Object.entries(patch)) {
    if (k === "$retainKeys" || k.startsWith("$setElementOrder/")) continue;
    if (k === "$patch") throw new PatchError(`unknown $patch directive: ${v}`);
    if (k.startsWith("$deleteFromPrimitiveList/")) {
      const f = k.slice("$deleteFromPrimitiveList/".length);
      if (Array.isArray(out[f])) out[f] = out[f].filter((x) => !v.includes(x));
      continue;
    }
    if (v === null) { delete out[k]; continue; }
    if (Array.isArray(v)) { out[k] = mergeList(k, out[k], v); continue; }
    const merged = strategicMerge(out[k], v);
    if (merged === undefined) delete out[k]; else out[k] = merged;
  }
  if (Array.isArray(retain)) for (const k of Object.keys(out)) if (!retain.includes(k)) delete out[k];
  for (const [k, order] of Object.entries(patch)) {
    if (!k.startsWith("$setElementOrder/")) continue;
    const f = k.slice("$setElementOrder/".length);
    const key = mergeKey(f, order);
    if (!key || !Array.isArray(out[f])) continue;
    const rank = (x) => { const i = order.findIndex((o) => isObj(o) && o[key] === x[key]); return i < 0 ? order.length : i; };
    out[f] = [...out[f]].sort((a, b) => rank(a) - rank(b));
  }
  return out;
}

function mergeList(field, current, patch) {
  const key = mergeKey(field, patch);
  if (!key || !Array.isArray(current)) {
    return clone(patch.filter((x) => !(isObj(x) && x.$patch)));
  }
  if (patch.some((x) => isObj(x) && x.$patch === "replace")) return clone(patch.filter((x) => !(isObj(x) && x.$patch)));
  const out = current.map(clone);
  for (const item of patch) {
    if (!isObj(item)) throw new PatchError(`${field}: list items must be objects with merge key ${key}`);
    if (!(key in item)) throw new PatchError(`map: ${JSON.stringify(item)} does not contain declared merge key: ${key}`);
    const i = out.findIndex((x) => isObj(x) && x[key] === item[key]);
    if (item.$patch === "delete") { if (i >= 0) out.splice(i, 1); continue; }
    if (i >= 0) out[i] = strategicMerge(out[i], item);
    else out.push(strategicMerge({}, item));
  }
  return out;
}

function pointer(path) {
  if (path === "") return [];
  if (!path.startsWith("/")) throw new PatchError(`invalid JSON pointer ${JSON.stringify(path)}`);
  return path.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}
function locate(doc, parts) {
  let cur = doc;
  for (const p of parts.slice(0, -1)) {
    cur = Array.isArray(cur) ? cur[Number(p)] : isObj(cur) ? cur[p] : undefined;
    if (cur === undefined) throw new PatchError(`doc is missing path: /${parts.join("/")}`);
  }
  return cur;
}
function jsonPatch(target, ops) {
  if (!Array.isArray(ops)) throw new PatchError("a JSON patch is an array of operations");
  let doc = clone(target);
  const get = (path) => { const parts = pointer(path); const parent = locate(doc, parts); const last = parts[parts.length - 1];
    const v = parts.length === 0 ? doc : Array.isArray(parent) ? parent[Number(last)] : parent[last];
    if (v === undefined) throw new PatchError(`doc is missing path: ${path}`); return v; };
  const remove = (path) => { const parts = pointer(path); const parent = locate(doc, parts); const last = parts[parts.length - 1];
    if (Array.isArray(parent)) { const i = Number(last); if (!(i >= 0 && i < parent.length)) throw new PatchError(`doc is missing path: ${path}`); parent.splice(i, 1); }
    else { if (!isObj(parent) || !(last in parent)) throw new PatchError(`doc is missing path: ${path}`); delete parent[last]; } };
  const add = (path, value) => { const parts = pointer(path); if (!parts.length) { doc = clone(value); return; }
    const parent = locate(doc, parts); const last = parts[parts.length - 1];
    if (Array.isArray(parent)) { const i = last === "-" ? parent.length : Number(last);
      if (!(i >= 0 && i <= parent.length)) throw new PatchError(`index out of range: ${path}`); parent.splice(i, 0, clone(value)); }
    else if (isObj(parent)) parent[last] = clone(value);
    else throw new PatchError(`doc is missing path: ${path}`); };
  for (const op of ops) {
    if (!isObj(op) || typeof op.path !== "string") throw new PatchError("each JSON patch operation needs op and path");
    switch (op.op) {
      case "add": add(op.path, op.value); break;
      case "remove": remove(op.path); break;
      case "replace": get(op.path); remove(op.path); add(op.path, op.value); break;
      case "move": { const v = get(op.from); remove(op.from); add(op.path, v); break; }
      case "copy": add(op.path, get(op.from)); break;
      case "test": if (JSON.stringify(get(op.path)) !== JSON.stringify(op.value)) throw new PatchError(`testing value ${op.path} failed`); break;
      default: throw new PatchError(`unexpected kind: ${op.op}`);
    }
  }
  return doc;
}

module.exports = { mergePatch, strategicMerge, jsonPatch, PatchError, clone, isObj };
