// Renders a kustomize directory with the real `kubectl kustomize` and parses the YAML
// stream into plain objects. Throws with kubectl's message when rendering fails.
"use strict";
const { execFileSync } = require("node:child_process");
const YAML = require("yaml");

function render(dir) {
  let out;
  try {
    out = execFileSync("kubectl", ["kustomize", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    throw new Error(`kubectl kustomize ${dir} failed: ${(e.stderr || e.message).trim()}`);
  }
  return parseStream(out);
}

function parseStream(text) {
  const objects = [];
  for (const doc of YAML.parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`YAML: ${doc.errors[0].message}`);
    const value = doc.toJS();
    if (value) objects.push(value);
  }
  return objects;
}

const id = (o) => `${o.kind}/${o.metadata && o.metadata.name}`;

module.exports = { render, parseStream, id };
