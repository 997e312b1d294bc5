// Kubelet mode's inputs and bookkeeping: the image map (which images run as real processes,
// and how), the pod IP pool on loopback (127.0.X.Y, reserved across fixture processes by lock
// files), and the bounded log ring each container writes to.
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

// The variables a map entry's args and env values may use, as ${NAME}.
const kVars = ["POD_IP", "POD_NAME", "POD_NAMESPACE", "PORT", "POD_DIR", "FIXTURE_DIR", "IMAGE", "IMAGE_TAG"];

// What every real container gets before the map entry's env (which overrides it). The
// STREAMGATE_* keys are how streamgate-server takes its listen address, storage, media
// directory and version (src/server/config.cpp); other executables ignore them.
const kDefaultEnv = {
  HOME: "${POD_DIR}", TMPDIR: "${POD_DIR}",
  POD_IP: "${POD_IP}", POD_NAME: "${POD_NAME}", POD_NAMESPACE: "${POD_NAMESPACE}", PORT: "${PORT}",
  STREAMGATE_LISTEN: "${POD_IP}:${PORT}",
  STREAMGATE_STORAGE: "sqlite:${FIXTURE_DIR}/streamgate.db",
  STREAMGATE_MEDIA_DIR: "${FIXTURE_DIR}/media",
  STREAMGATE_VERSION_LABEL: "${IMAGE_TAG}",
};
// Taken from the fixture's own environment when set (a kubelet passes no host environment).
const kPassEnv = ["PATH", "LANG", "LD_LIBRARY_PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"];

function checkVars(text, where) {
  for (const m of text.matchAll(/\$\{([^}]*)\}/g)) {
    if (!kVars.includes(m[1])) throw new Error(`${where}: unknown variable \${${m[1]}} (known: ${kVars.map((v) => `\${${v}}`).join(" ")})`);
  }
}
function expand(text, vars) { return text.replace(/\$\{([A-Z_]+)\}/g, (_, k) => vars[k] ?? ""); }

// Reads and checks the --kubelet file: {"IMAGE": {"exec": "/abs/path", "args": [...], "env": {...}}}.
// An image key may end in ":*" to match every tag of that repository (an exact key wins). A key
// "command:NAME" matches a container whose command[0] is NAME or ends in /NAME, whatever its
// image, and wins over image keys (our images hold both the server and the gateway).
function loadImageMap(file) {
  let text;
  try { text = fs.readFileSync(file, "utf8"); } catch (e) { throw new Error(`--kubelet ${file}: cannot read it: ${e.message}`); }
  let map;
  try { map = JSON.parse(text); } catch (e) { throw new Error(`--kubelet ${file}: not valid JSON: ${e.message}`); }
  if (!map || typeof map !== "object" || Array.isArray(map)) throw new Error(`--kubelet ${file}: must be a JSON object mapping an image to {"exec", "args", "env"}`);
  const out = new Map();
  for (const [image, e] of Object.entries(map)) {
    const at = `--kubelet ${file}: "${image}"`;
    if (!/^[^\s]+:[^\s:/]+$/.test(image)) throw new Error(`${at}: the key must be an image REPOSITORY:TAG (or REPOSITORY:*, or command:NAME)`);
    if (!e || typeof e !== "object" || Array.isArray(e)) throw new Error(`${at}: must be an object {"exec", "args", "env"}`);
    for (const k of Object.keys(e)) if (!["exec", "args", "env"].includes(k)) throw new Error(`${at}: unknown key "${k}" (keys: exec, args, env)`);
    if (typeof e.exec !== "string" || !path.isAbsolute(e.exec)) throw new Error(`${at}.exec: must be an absolute path, got ${JSON.stringify(e.exec)}`);
    try { fs.accessSync(e.exec, fs.constants.X_OK); if (!fs.statSync(e.exec).isFile()) throw new Error("not a file"); } catch { throw new Error(`${at}.exec: ${e.exec} is not an executable file`); }
    const args = e.args === undefined ? [] : e.args;
    if (!Array.isArray(args) || !args.every((a) => typeof a === "string")) throw new Error(`${at}.args: must be an array of strings`);
    args.forEach((a, i) => checkVars(a, `${at}.args[${i}]`));
    const env = e.env === undefined ? {} : e.env;
    if (!env || typeof env !== "object" || Array.isArray(env)) throw new Error(`${at}.env: must be an object of strings`);
    for (const [k, v] of Object.entries(env)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`${at}.env: "${k}" is not an environment variable name`);
      if (typeof v !== "string") throw new Error(`${at}.env.${k}: must be a string, got ${JSON.stringify(v)}`);
      checkVars(v, `${at}.env.${k}`);
    }
    out.set(image, { image, exec: e.exec, args, env });
  }
  return out;
}

// The command line and environment of one container start.
function commandFor(entry, vars) {
  const env = {};
  for (const k of kPassEnv) if (process.env[k] !== undefined) env[k] = process.env[k];
  for (const [k, v] of Object.entries({ ...kDefaultEnv, ...entry.env })) env[k] = expand(v, vars);
  return { exec: entry.exec, args: entry.args.map((a) => expand(a, vars)), env };
}

// Pod IPs 127.0.X.Y (X 1..255, Y 2..254), handed out in order and wrapping, so a freed address
// comes back last. Each address in use is reserved by a lock file holding the fixture's pid, so
// two fixtures on one machine (ctest -j) never share one; a lock whose pid is gone is stale.
class PodIpPool {
  constructor() {
    this.dir = path.join(os.tmpdir(), "fake-apiserver-pod-ips");
    fs.mkdirSync(this.dir, { recursive: true });
    this.next = 0;
    this.held = new Set();
  }
  static ip(i) { return `127.0.${Math.floor(i / 253) + 1}.${(i % 253) + 2}`; }
  // An address, or null when all 64515 are taken.
  take() {
    const n = 255 * 253;
    for (let k = 0; k < n; k++) {
      const ip = PodIpPool.ip((this.next + k) % n);
      if (this.held.has(ip) || !this.lock(ip)) continue;
      this.next = (this.next + k + 1) % n;
      this.held.add(ip);
      return ip;
    }
    return null;
  }
  lock(ip) {
    const file = path.join(this.dir, ip);
    for (let attempt = 0; attempt < 2; attempt++) {
      try { fs.writeFileSync(file, String(process.pid), { flag: "wx" }); return true; } catch (e) { if (e.code !== "EEXIST") throw e; }
      let owner = NaN;
      try { owner = Number(fs.readFileSync(file, "utf8")); } catch { /* removed meanwhile */ }
      if (Number.isInteger(owner) && owner > 0 && fs.existsSync(`/proc/${owner}`)) return false;
      try { fs.unlinkSync(file); } catch { /* another fixture took it over */ }
    }
    return false;
  }
  release(ip) {
    if (!this.held.delete(ip)) return;
    try { fs.unlinkSync(path.join(this.dir, ip)); } catch { /* already gone */ }
  }
  releaseAll() { for (const ip of [...this.held]) this.release(ip); }
}

const kLogRingBytes = 256 * 1024;

// The last kLogRingBytes of a container's stdout and stderr, interleaved as they arrived.
class LogRing {
  constructor() { this.chunks = []; this.bytes = 0; this.truncated = false; }
  push(buf) {
    this.chunks.push(buf);
    this.bytes += buf.length;
    while (this.bytes > kLogRingBytes) {
      const over = this.bytes - kLogRingBytes;
      if (this.chunks[0].length <= over) { this.bytes -= this.chunks.shift().length; } else { this.chunks[0] = this.chunks[0].subarray(over); this.bytes -= over; }
      this.truncated = true;
    }
  }
  // As the API server's PodLogOptions: the last tailLines lines, then at most limitBytes bytes.
  read({ tailLines = null, limitBytes = null } = {}) {
    let text = Buffer.concat(this.chunks).toString("utf8");
    if (this.truncated) text = text.slice(text.indexOf("\n") + 1); // no partial first line
    if (tailLines !== null && text !== "") {
      const endsWithNewline = text.endsWith("\n");
      const lines = (endsWithNewline ? text.slice(0, -1) : text).split("\n");
      text = tailLines === 0 ? "" : lines.slice(-tailLines).join("\n") + (endsWithNewline ? "\n" : "");
    }
    if (limitBytes !== null) text = Buffer.from(text, "utf8").subarray(0, limitBytes).toString("utf8");
    return text;
  }
}

module.exports = { loadImageMap, commandFor, PodIpPool, LogRing, kDefaultEnv, kVars };
