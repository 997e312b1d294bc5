// Validates objects against the Kubernetes OpenAPI schemas shipped by the npm package
// kubernetes-models (pinned in package.json; its 4.5.x line is generated from Kubernetes
// v1.33.0, the nearest release to 1.32 any package in our registries provides). Only API
// versions that Kubernetes 1.32 serves as GA are accepted, so nothing newer than 1.32 is used
// by apiVersion; fields added in 1.33 would still pass (see README, "Kubernetes manifests").
// Unknown fields are rejected too (strict.cjs), as `kubectl --validate=strict` does.
"use strict";
const { id } = require("./render.cjs");
const { strictProblems } = require("./strict.cjs");

// apiVersion -> module directory inside kubernetes-models.
const GA_IN_1_32 = {
  v1: "v1",
  "apps/v1": "apps/v1",
  "autoscaling/v2": "autoscaling/v2",
  "policy/v1": "policy/v1",
  "networking.k8s.io/v1": "networking.k8s.io/v1",
  "rbac.authorization.k8s.io/v1": "rbac.authorization.k8s.io/v1",
  "coordination.k8s.io/v1": "coordination.k8s.io/v1",
  "batch/v1": "batch/v1",
};

function modelFor(apiVersion, kind) {
  const dir = GA_IN_1_32[apiVersion];
  if (!dir) return null;
  try {
    return require(`kubernetes-models/${dir}/${kind}`)[kind];
  } catch {
    return null;
  }
}

// Returns a list of "OBJECT: schema: message" strings.
function validateSchema(objects) {
  const problems = [];
  for (const o of objects) {
    const Model = modelFor(o.apiVersion, o.kind);
    if (!Model) {
      problems.push(`${id(o)}: schema: ${o.apiVersion} ${o.kind} is not a GA kind of Kubernetes 1.32`);
      continue;
    }
    try {
      new Model(o).validate();
    } catch (e) {
      const errors = e.errors || e.details || [{ instancePath: "", message: e.message }];
      for (const err of errors) {
        const where = err.instancePath || "/";
        const extra = err.params && err.params.missingProperty ? ` (${err.params.missingProperty})` : "";
        problems.push(`${id(o)}: schema: ${where} ${err.message}${extra}`);
      }
    }
  }
  problems.push(...strictProblems(objects, (apiVersion) => GA_IN_1_32[apiVersion]));
  return problems;
}

module.exports = { validateSchema };
