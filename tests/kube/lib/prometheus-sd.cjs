// Kubelet mode's Prometheus target list (--prometheus-sd FILE): a file_sd_configs file, NOT
// kubernetes_sd. It lists every pod whose process the fixture runs that is Running and has a
// pod IP, one target group per pod, with the labels deploy/k8s/base/prometheus-scrape.yaml's
// relabelling gives a pod (namespace, pod, track from the pod label `version`) plus `app`, so a
// real Prometheus pointed at FILE scrapes the real servers under the series and labels it
// would on a cluster. The file is rewritten (temp file + rename, so Prometheus never reads half
// a file) only when its content changes; it holds `[]` from the start and after the stop.
// Lives on the fixture's one thread; sync() runs on its timer.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { byKind } = require("./resources.cjs");

const R = { pod: byKind("v1", "Pod") };
const kPortAnnotation = "prometheus.io/port";

// The port scraped: the pod annotation prometheus.io/port when it is a port number, else the
// first container's port named http, else its first port; null when there is none.
function scrapePort(pod) {
  const a = ((pod.metadata.annotations || {})[kPortAnnotation] || "").trim();
  if (/^\d{1,5}$/.test(a) && Number(a) >= 1 && Number(a) <= 65535) return Number(a);
  const ports = (pod.spec.containers[0] && pod.spec.containers[0].ports) || [];
  const p = ports.find((x) => x.name === "http") || ports[0];
  return p ? p.containerPort : null;
}

class PrometheusSd {
  // file: where to write; kubelet: which pods run for real (Kubelet.manages).
  constructor(store, kubelet, file) {
    this.store = store;
    this.kubelet = kubelet;
    this.file = path.resolve(file);
    this.written = null;
    this.write("[]\n"); // before any pod, so Prometheus can start on it; throws if FILE cannot be written
  }

  groups() {
    const out = [];
    for (const p of this.store.peek(R.pod)) {
      if (!this.kubelet.manages(p) || !p.status || p.status.phase !== "Running" || !p.status.podIP) continue;
      const port = scrapePort(p);
      if (port === null) continue;
      const labels = p.metadata.labels || {};
      out.push({ targets: [`${p.status.podIP}:${port}`],
        labels: { namespace: p.metadata.namespace, pod: p.metadata.name, track: labels.version || "", app: labels.app || "" } });
    }
    return out.sort((a, b) => a.labels.namespace.localeCompare(b.labels.namespace) || a.labels.pod.localeCompare(b.labels.pod));
  }

  // A failed write is logged (once per message) and tried again on the next pass.
  sync() {
    try { this.write(`${JSON.stringify(this.groups(), null, 2)}\n`); this.error = null; } catch (e) {
      if (e.message !== this.error) process.stderr.write(`fake-apiserver: ${e.message}\n`);
      this.error = e.message;
    }
  }
  stop() { try { this.write("[]\n"); } catch (e) { process.stderr.write(`fake-apiserver: --prometheus-sd ${this.file}: ${e.message}\n`); } }

  write(text) {
    if (text === this.written) return;
    const tmp = `${this.file}.tmp-${process.pid}`;
    try {
      fs.writeFileSync(tmp, text);
      fs.renameSync(tmp, this.file);
    } catch (e) {
      try { fs.unlinkSync(tmp); } catch { /* not written */ }
      throw new Error(`--prometheus-sd ${this.file}: cannot write it: ${e.message}`);
    }
    this.written = text;
  }
}

module.exports = { PrometheusSd, scrapePort };
