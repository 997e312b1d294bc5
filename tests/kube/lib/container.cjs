// One real container of kubelet mode: a process started from the image map, restarted with a
// doubling back-off when it exits (as the pod's restartPolicy says), probed for readiness, and
// stopped with SIGTERM then SIGKILL after the grace period. It only ever signals the process
// it spawned, through its ChildProcess handle (which refuses once the process is reaped, so a
// reused pid is never hit). Lives on the fixture's one thread; the Kubelet reads status().
"use strict";
const fs = require("node:fs");
const http = require("node:http");
const { spawn } = require("node:child_process");
const { commandFor, LogRing } = require("./kubelet-config.cjs");

const kProbePeriodMs = 250;
const kProbeTimeoutMs = 500;
// With util-linux setpriv the child gets PR_SET_PDEATHSIG=SIGKILL, so even a SIGKILLed
// fixture leaves no process behind; setpriv execs the command, so the pid stays the child's.
const kSetpriv = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => { try { fs.accessSync(p, fs.constants.X_OK); return true; } catch { return false; } }) || null;

const stamp = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");
const kSignals = require("node:os").constants.signals;

class Container {
  // spec: the pod's first container; vars: the ${...} values; backoff: {baseMs, maxMs};
  // restartPolicy: Always | OnFailure | Never.
  constructor({ podName, spec, entry, vars, dir, probe, backoff, restartPolicy }) {
    Object.assign(this, { podName, spec, entry, vars, dir, probe, backoff, restartPolicy });
    this.state = "creating";   // creating -> running -> (backoff -> running)* -> exited
    this.child = null;
    this.instance = 0;         // bumped per start: late probe answers of an old one are dropped
    this.restartCount = 0;
    this.ready = false;
    this.startedAt = null;
    this.last = null;          // how the last run ended (lastState.terminated)
    this.previousLast = null;  // how the run before it ended
    this.delayMs = 0;          // the back-off now running
    this.nextDelayMs = backoff.baseMs;
    this.logs = new LogRing();
    this.previousLogs = null;
    this.stopping = false;
    this.timers = new Set();
  }

  alive() { return this.child !== null; }
  // No process and none to come: the pod may go.
  gone() { return this.child === null && this.state !== "backoff" && (this.stopping || this.state === "exited"); }
  later(ms, fn) { const t = setTimeout(() => { this.timers.delete(t); fn(); }, ms); this.timers.add(t); return t; }

  start() {
    if (this.stopping || this.child) return;
    const { exec, args, env } = commandFor(this.entry, this.vars);
    if (this.instance > 0) { this.previousLogs = this.logs; this.logs = new LogRing(); }
    const instance = ++this.instance;
    const startedMs = Date.now();
    let child;
    try {
      child = spawn(kSetpriv || exec, kSetpriv ? ["--pdeathsig", "KILL", "--", exec, ...args] : args, { cwd: this.dir, env, stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      this.exited(startedMs, null, null, `StartError: ${e.message}`);
      return;
    }
    this.child = child;
    this.state = "running";
    this.startedAt = stamp(startedMs);
    this.ready = false;
    const ring = this.logs;
    child.stdout.on("data", (d) => ring.push(d));
    child.stderr.on("data", (d) => ring.push(d));
    let done = false;
    const finish = (code, signal, startError) => {
      if (done) return;
      done = true;
      if (this.child === child) this.child = null;
      if (instance === this.instance) this.exited(startedMs, code, signal, startError);
    };
    child.once("exit", (code, signal) => finish(code, signal, null));
    child.once("error", (e) => { if (child.pid === undefined) finish(null, null, `StartError: ${e.message}`); });
    this.probeLoop(instance);
  }

  exited(startedMs, code, signal, startError) {
    const signo = signal ? kSignals[signal] : null;
    const exitCode = startError ? 128 : code !== null ? code : 128 + (signo || 0);
    this.previousLast = this.last;
    this.last = { exitCode, reason: startError ? "StartError" : exitCode === 0 ? "Completed" : "Error", ...(signo ? { signal: signo } : {}),
      ...(startError ? { message: startError.slice("StartError: ".length) } : {}),
      startedAt: stamp(startedMs), finishedAt: stamp(Date.now()), containerID: `fixture://${this.podName}/${this.instance}` };
    this.ready = false;
    const restart = !this.stopping && (this.restartPolicy === "Always" || (this.restartPolicy === "OnFailure" && exitCode !== 0));
    if (!restart) { this.state = "exited"; return; }
    // As a kubelet: the back-off doubles per exit up to its cap and starts over after a run
    // twice as long as the cap.
    if (Date.now() - startedMs >= 2 * this.backoff.maxMs) this.nextDelayMs = this.backoff.baseMs;
    this.delayMs = this.nextDelayMs;
    this.nextDelayMs = Math.min(this.nextDelayMs * 2, this.backoff.maxMs);
    this.restartCount += 1;
    this.state = "backoff";
    this.later(this.delayMs, () => { if (this.state === "backoff" && !this.stopping) this.start(); });
  }

  // GET http://podIP:port/path every kProbePeriodMs while this instance runs; ready while 200.
  probeLoop(instance) {
    if (instance !== this.instance || !this.child) return;
    if (!this.probe) { this.ready = true; return; }
    const req = http.get({ host: this.vars.POD_IP, port: this.probe.port, path: this.probe.path, agent: false, timeout: kProbeTimeoutMs,
      headers: { "User-Agent": "kube-probe/1.32" } }, (rsp) => {
      rsp.resume();
      if (instance === this.instance && this.child) this.ready = rsp.statusCode === 200;
    });
    req.on("timeout", () => req.destroy(new Error("probe timeout")));
    req.on("error", () => { if (instance === this.instance) this.ready = false; });
    req.on("close", () => this.later(kProbePeriodMs, () => this.probeLoop(instance)));
  }

  // SIGTERM now (none if graceMs is 0), SIGKILL after graceMs; no restart afterwards.
  stop(graceMs) {
    if (this.stopping && graceMs >= this.graceLeftMs()) return;
    this.stopping = true;
    this.stopDeadline = Date.now() + graceMs;
    if (this.state === "backoff") this.state = "exited";
    if (!this.child) return;
    const child = this.child;
    if (graceMs > 0 && !this.termSent) { this.termSent = true; child.kill("SIGTERM"); }
    clearTimeout(this.killTimer);
    this.killTimer = this.later(graceMs, () => { if (this.child === child) child.kill("SIGKILL"); });
  }
  graceLeftMs() { return this.stopDeadline === undefined ? Infinity : Math.max(0, this.stopDeadline - Date.now()); }
  // For the fixture's exit path: synchronous, no waiting.
  killNow() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.stopping = true;
    if (this.child) this.child.kill("SIGKILL");
  }
  pid() { return this.child ? this.child.pid : null; }

  status() {
    const base = { name: this.spec.name, image: this.spec.image, imageID: `fixture://${this.entry.exec}`, restartCount: this.restartCount,
      ...(this.last ? { lastState: { terminated: this.last } } : { lastState: {} }) };
    if (this.state === "creating") return { ...base, ready: false, started: false, state: { waiting: { reason: "ContainerCreating" } } };
    if (this.state === "running") {
      return { ...base, containerID: `fixture://${this.podName}/${this.instance}`, ready: this.ready, started: true, state: { running: { startedAt: this.startedAt } } };
    }
    if (this.state === "backoff") {
      return { ...base, ready: false, started: false, state: { waiting: { reason: "CrashLoopBackOff",
        message: `back-off ${Math.round(this.delayMs / 100) / 10}s restarting failed container=${this.spec.name} pod=${this.podName}` } } };
    }
    // exited for good: its last run is the current state, not the last one
    const { containerID, ...terminated } = this.last;
    return { ...base, lastState: this.previousLast ? { terminated: this.previousLast } : {}, containerID, ready: false, started: false, state: { terminated } };
  }
}

module.exports = { Container, kProbePeriodMs, kProbeTimeoutMs, kSetpriv };
