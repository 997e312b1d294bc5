#!/usr/bin/env node
// Generates, from deploy/prometheus/alerts.yml (the one source of the alert and recording
// rules):
//   deploy/k8s/monitoring/prometheusrule.yaml         a prometheus-operator PrometheusRule
//   deploy/k8s/components/prometheus/rules.yaml       a ConfigMap for a plain Prometheus
// Usage: gen-prometheus-rules.cjs          write both files
//        gen-prometheus-rules.cjs --check  exit 1 (naming the file) if either is out of date
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const YAML = require("yaml");

const root = path.resolve(__dirname, "../..");
const source = path.join(root, "deploy/prometheus/alerts.yml");
const header = (what) =>
  `# GENERATED from deploy/prometheus/alerts.yml by deploy/k8s/gen-prometheus-rules.cjs: do not\n` +
  `# edit; change alerts.yml and run the generator (scripts/test checks this file is in sync).\n` +
  `# ${what}\n`;

function outputs() {
  const text = fs.readFileSync(source, "utf8");
  const rules = YAML.parse(text);
  if (!rules || !Array.isArray(rules.groups)) throw new Error(`${source}: no groups`);
  const labels = { "app.kubernetes.io/part-of": "streamgate" };
  const rule = {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: { name: "streamgate", namespace: "streamgate", labels },
    spec: { groups: rules.groups },
  };
  const configMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "streamgate-prometheus-rules", labels },
    data: { "alerts.yml": text },
  };
  const dump = (o) => YAML.stringify(o, { lineWidth: 0 });
  return {
    [path.join(root, "deploy/k8s/monitoring/prometheusrule.yaml")]:
      header("The PrometheusRule for clusters that run prometheus-operator.") + dump(rule),
    [path.join(root, "deploy/k8s/components/prometheus/rules.yaml")]:
      header("alerts.yml as it is, for the Prometheus of components/prometheus.") + dump(configMap),
  };
}

function main() {
  const check = process.argv.includes("--check");
  let stale = 0;
  for (const [file, want] of Object.entries(outputs())) {
    const rel = path.relative(root, file);
    if (check) {
      const have = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : null;
      if (have !== want) {
        console.error(`${rel}: out of sync with deploy/prometheus/alerts.yml (run deploy/k8s/gen-prometheus-rules.cjs)`);
        stale++;
      }
    } else {
      fs.writeFileSync(file, want);
      console.log(`wrote ${rel}`);
    }
  }
  process.exit(stale ? 1 : 0);
}

main();
