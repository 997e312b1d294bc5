// Unknown-field check, as `kubectl --validate=strict` would do against a server: the
// kubernetes-models schemas accept extra properties, so the field names of each type are read
// from the package's type declarations (.d.ts, generated from the same OpenAPI spec) and
// every field of an object must be one of its type's. Returns "Kind/name: strict: ..." lines.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { id } = require("./render.cjs");

const modelsRoot = path.dirname(require.resolve("kubernetes-models/package.json"));
const machineryRoot = path.dirname(require.resolve("@kubernetes-models/apimachinery/package.json", { paths: [modelsRoot] }));
const cache = new Map();

function resolveImport(fromFile, spec) {
  if (spec.startsWith(".")) return path.resolve(path.dirname(fromFile), `${spec}.d.ts`);
  const prefix = "@kubernetes-models/apimachinery/";
  if (spec.startsWith(prefix)) return path.join(machineryRoot, `${spec.slice(prefix.length)}.d.ts`);
  return null;
}

// { props: Map(field -> type text), imports: Map(type name -> file) } or null (no interface).
function load(file) {
  if (cache.has(file)) return cache.get(file);
  let result = null;
  if (file && fs.existsSync(file)) {
    const text = fs.readFileSync(file, "utf8");
    const imports = new Map();
    for (const m of text.matchAll(/^import \{ (\w+) \} from "([^"]+)";$/gm)) imports.set(m[1], resolveImport(file, m[2]));
    const start = text.search(/^export interface I\w+ (?:extends \w+ )?\{$/m);
    if (start >= 0) {
      const body = text.slice(start, text.indexOf("\n}", start));
      const props = new Map();
      for (const m of body.matchAll(/^ {4}"([^"]+)"\??: (.*?);?$/gm)) props.set(m[1], m[2]);
      result = { props, imports };
    }
  }
  cache.set(file, result);
  return result;
}

function walk(value, file, where, out) {
  const type = load(file);
  if (!type || value === null || typeof value !== "object" || Array.isArray(value)) return;
  for (const [key, v] of Object.entries(value)) {
    if (!type.props.has(key)) { out.push(`${where}.${key}: unknown field`); continue; }
    const t = type.props.get(key);
    const arr = /^Array<(\w+)>$/.exec(t);
    const one = /^(\w+)$/.exec(t);
    const name = arr ? arr[1] : one ? one[1] : null;
    const next = name && type.imports.get(name);
    if (!next) continue;
    if (arr && Array.isArray(v)) v.forEach((item, i) => walk(item, next, `${where}.${key}[${i}]`, out));
    else walk(v, next, `${where}.${key}`, out);
  }
}

function strictProblems(objects, dirFor) {
  const problems = [];
  for (const o of objects) {
    const dir = dirFor(o.apiVersion);
    if (!dir) continue; // reported by the schema check
    const file = path.join(modelsRoot, dir, `${o.kind}.d.ts`);
    if (!load(file)) { problems.push(`${id(o)}: strict: no type declaration for ${o.apiVersion} ${o.kind}`); continue; }
    const out = [];
    walk(o, file, "", out);
    for (const f of out) problems.push(`${id(o)}: strict: ${f.slice(1)}`);
  }
  return problems;
}

module.exports = { strictProblems };
