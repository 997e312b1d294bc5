// Kubelet mode's Service proxy (--service-proxy): a stand-in for kube-proxy, NOT kube-proxy.
// Every Service of type ClusterIP, NodePort or LoadBalancer that has a selector when the proxy
// first sees it gets a loopback address from the pods' pool (127.0.X.Y, lock files and all, so
// it is never a pod's) as spec.clusterIP/clusterIPs, and a TCP listener on that address for
// each spec.ports[].port. Each accepted connection is piped to one ready address of the
// Service's Endpoints as they are at accept time (a selector change moves new connections;
// open ones stay where they are), at the Endpoints port of the same name, chosen uniformly at
// random (as kube-proxy's iptables mode); no ready address: the connection is reset at once
// (kube-proxy REJECTs). No node ports, no UDP/SCTP, no session affinity, no
// externalTrafficPolicy, no source NAT rules: the pod sees the proxy's connection.
// Lives on the fixture's one thread; sync() runs on its timer.
"use strict";
const net = require("node:net");
const { byKind } = require("./resources.cjs");

const R = { svc: byKind("v1", "Service"), ep: byKind("v1", "Endpoints") };
const kServedTypes = ["ClusterIP", "NodePort", "LoadBalancer"];
const isTcp = (p) => (p.protocol || "TCP") === "TCP";
const closeListener = (l) => { l.closed = true; l.listening = false; l.server.close(); };
const log = (line) => process.stderr.write(`fake-apiserver: service proxy: ${line}\n`);

class ServiceProxy {
  // ips: the kubelet's PodIpPool (one pool, so a Service address is never a pod's).
  constructor(store, ips) {
    this.store = store;
    this.ips = ips;
    this.services = new Map(); // Service uid -> { ns, name, ip, listeners: Map(port -> {server, listening, error}) }
    this.sockets = new Set();  // every open socket, client or upstream: destroyed on stop
    this.stopped = false;
  }

  // Whether the proxy takes a Service it has not seen yet.
  static wants(svc) {
    const s = svc.spec || {};
    return kServedTypes.includes(s.type || "ClusterIP") && s.clusterIP !== "None"
      && s.selector && typeof s.selector === "object" && Object.keys(s.selector).length > 0;
  }

  // For the API server's create: an address for a new Service the proxy will serve, written
  // into obj (replacing any clusterIP in the request: the fixture's service range is its
  // loopback pool), or null. The caller hands it back with unreserve() if the create fails.
  reserve(obj) {
    if (this.stopped || !ServiceProxy.wants(obj)) return null;
    const ip = this.ips.take();
    if (!ip) { log(`no free address in 127.0.1.2-127.0.255.254 for Service ${obj.metadata.name}`); return null; }
    obj.spec.clusterIP = ip;
    obj.spec.clusterIPs = [ip];
    return ip;
  }
  unreserve(ip) { this.ips.release(ip); }
  // The created Service holding a reserve()d address: served from now on.
  adopt(svc, ip) {
    this.services.set(svc.metadata.uid, { ns: svc.metadata.namespace, name: svc.metadata.name, ip, listeners: new Map() });
    this.sync();
  }

  // One pass: take new Services (an address for those without one of ours), keep their
  // clusterIP ours, follow their ports, and close what belongs to deleted Services.
  sync() {
    if (this.stopped) return;
    const live = new Set();
    for (const svc of this.store.peek(R.svc)) {
      const uid = svc.metadata.uid;
      let rec = this.services.get(uid);
      if (!rec) {
        if (!ServiceProxy.wants(svc)) continue;
        const ip = this.ips.take();
        if (!ip) continue; // logged by reserve() at create; retried next pass
        rec = { ns: svc.metadata.namespace, name: svc.metadata.name, ip, listeners: new Map() };
        this.services.set(uid, rec);
      }
      if (svc.spec.type === "ExternalName") continue; // dropped below, as a deleted one
      live.add(uid);
      if (svc.spec.clusterIP !== rec.ip || !Array.isArray(svc.spec.clusterIPs) || svc.spec.clusterIPs.length !== 1 || svc.spec.clusterIPs[0] !== rec.ip) {
        const next = JSON.parse(JSON.stringify(svc));
        next.spec.clusterIP = rec.ip;
        next.spec.clusterIPs = [rec.ip];
        try { this.store.update(R.svc, rec.ns, rec.name, next, "main"); } catch { /* written in between: next pass */ }
      }
      this.syncPorts(rec, new Set((svc.spec.ports || []).filter(isTcp).map((p) => p.port)));
    }
    for (const [uid, rec] of this.services) if (!live.has(uid)) this.drop(uid, rec);
  }

  syncPorts(rec, want) {
    for (const [port, l] of rec.listeners) if (!want.has(port)) { closeListener(l); rec.listeners.delete(port); }
    for (const port of want) {
      if (rec.listeners.has(port) || !Number.isInteger(port) || port < 1 || port > 65535) continue;
      const server = net.createServer({ allowHalfOpen: true }, (sock) => this.accept(rec, port, sock));
      const l = { server, listening: false, error: null, closed: false };
      rec.listeners.set(port, l); // a failed bind stays recorded: logged once, not retried
      server.on("error", (e) => {
        if (l.listening) { log(`${rec.ns}/${rec.name} ${rec.ip}:${port}: ${e.message}`); return; }
        l.error = e.code || e.message;
        log(`${rec.ns}/${rec.name}: cannot listen on ${rec.ip}:${port} (${e.message}); that port is not served`);
      });
      // A listener closed before its bind completed would otherwise listen on.
      server.listen({ host: rec.ip, port }, () => { if (l.closed) server.close(); else l.listening = true; });
    }
  }

  // A Service gone (or now ExternalName): no more listeners, the address back to the pool.
  // Connections already piped to a pod stay open, as through kube-proxy.
  drop(uid, rec) {
    for (const l of rec.listeners.values()) closeListener(l);
    rec.listeners.clear();
    this.services.delete(uid);
    this.ips.release(rec.ip);
  }

  // The ready endpoints for Service port `port`, read from the store now.
  targets(rec, port) {
    const svc = this.store.get(R.svc, rec.ns, rec.name);
    const sp = svc && (svc.spec.ports || []).find((p) => p.port === port && isTcp(p));
    const ep = this.store.get(R.ep, rec.ns, rec.name);
    if (!sp || !ep) return [];
    const out = [];
    for (const subset of ep.subsets || []) {
      const epPort = (subset.ports || []).find((p) => (p.name || "") === (sp.name || "") && isTcp(p));
      if (!epPort) continue;
      for (const a of subset.addresses || []) out.push({ ip: a.ip, port: epPort.port });
    }
    return out;
  }

  accept(rec, port, client) {
    if (this.stopped) { client.destroy(); return; }
    const targets = this.targets(rec, port);
    if (!targets.length) { client.resetAndDestroy(); return; } // no ready endpoint: REJECT
    const t = targets[Math.floor(Math.random() * targets.length)];
    const upstream = net.connect({ host: t.ip, port: t.port, allowHalfOpen: true });
    const both = [client, upstream];
    const kill = () => { for (const s of both) s.destroy(); };
    for (const s of both) {
      this.sockets.add(s);
      s.on("error", kill);
      s.on("close", () => { this.sockets.delete(s); });
    }
    // pipe() gives backpressure (no unbounded buffering) and passes each side's FIN on.
    client.pipe(upstream);
    upstream.pipe(client);
  }

  // The fixture's stop: listeners closed, every proxied connection destroyed, addresses freed.
  stop() {
    this.stopped = true;
    for (const [uid, rec] of this.services) this.drop(uid, rec);
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  // GET /__fixture/services: {"NAMESPACE/NAME": {ip, ports: [{port, listening, error}]}}.
  describe() {
    const out = {};
    for (const rec of this.services.values()) {
      out[`${rec.ns}/${rec.name}`] = { ip: rec.ip, ports: [...rec.listeners].map(([port, l]) => ({ port, listening: l.listening, error: l.error })) };
    }
    return out;
  }
}

module.exports = { ServiceProxy };
