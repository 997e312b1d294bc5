// Drives Debian's headless Chromium (playwright-core, never a downloaded browser) through
// the /watch page of streamgate-server behind the gateway:
//   node watch_page.cjs BASE_URL PLAYABLE_ID BROKEN_ID
// Checks: the page plays past 5 s of media time without a player error, seeks to 14 s and
// plays on past 15.5 s; every request goes to BASE_URL (no outside host), media requests
// carry CMCD; a page for media without HLS shows the server's reason. Exit 0 on success,
// 1 with the reason on stderr. Bounded: every wait has a timeout and the browser is closed.
"use strict";
const path = require("path");
const fs = require("fs");
const os = require("os");
const { chromium } = require(path.join(__dirname, "..", "..", "node_modules", "playwright-core"));

const [base, playableId, brokenId] = process.argv.slice(2);
const executablePath = process.env.SG_CHROMIUM || "/usr/bin/chromium";

function fail(message) {
  throw new Error(message);
}

async function playUntil(page, seconds, timeoutMs) {
  await page.waitForFunction(
    (t) => window.sgPlayer && (window.sgPlayer.fatal || document.getElementById("video").currentTime > t),
    seconds, { timeout: timeoutMs, polling: 100 });
  const state = await page.evaluate(() => ({
    time: document.getElementById("video").currentTime,
    errors: window.sgPlayer.errors,
    fatal: window.sgPlayer.fatal,
  }));
  // A non-fatal stall is hls.js saying the buffer ran dry for a moment and it recovered: a
  // CPU-starved host (a busy CI machine) causes it, the media cannot. Anything else fails.
  const recoverable = new Set(["mediaError bufferStalledError", "mediaError bufferNudgeOnStall"]);
  const stalls = state.errors.filter((e) => recoverable.has(e));
  if (stalls.length > 0) console.log(`recovered stalls before ${seconds} s: ${stalls.length}`);
  const errors = state.errors.filter((e) => !recoverable.has(e));
  if (state.fatal || errors.length > 0) {
    fail(`player error before ${seconds} s: ${JSON.stringify(state.errors)}`);
  }
  return state.time;
}

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "sg-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--autoplay-policy=no-user-gesture-required"],
  });
  try {
    const page = await context.newPage();
    const requests = [];
    page.on("request", (r) => requests.push(r.url()));
    page.on("console", (m) => console.log(`[page ${m.type()}] ${m.text()}`));
    const started = Date.now();
    const response = await page.goto(`${base}/watch/${playableId}`, { timeout: 15000 });
    if (!response || response.status() !== 200) fail(`GET /watch answered ${response && response.status()}`);
    const t1 = await playUntil(page, 5.5, 40000);
    console.log(`played to ${t1.toFixed(2)} s after ${Date.now() - started} ms`);
    await page.evaluate(() => { document.getElementById("video").currentTime = 14; });
    const t2 = await playUntil(page, 15.5, 30000);
    console.log(`after the seek to 14 s, played to ${t2.toFixed(2)} s`);

    // blob: URLs are the MediaSource objects the page makes itself.
    const outside = requests.filter((u) => !u.startsWith(base) && !u.startsWith("blob:"));
    if (outside.length > 0) fail(`requests to other hosts: ${outside.join(", ")}`);
    const media = requests.filter((u) => u.includes("/hls/") && u.includes(".mp4"));
    if (media.length === 0) fail("no fMP4 requests seen");
    if (!media.every((u) => u.includes("token=") && u.includes("CMCD="))) {
      fail(`fMP4 requests without token or CMCD: ${media.filter((u) => !u.includes("CMCD=")).join(", ")}`);
    }
    if (!requests.some((u) => u.includes("/static/hls.js/"))) fail("hls.js was not loaded from us");

    const broken = await context.newPage();
    await broken.goto(`${base}/watch/${brokenId}`, { timeout: 15000 });
    await broken.waitForFunction(() => window.sgPlayer && window.sgPlayer.fatal, null, { timeout: 15000 });
    const shown = await broken.textContent("#error");
    if (!shown.includes("hls_unavailable") || !shown.includes("not media")) {
      fail(`the page for media without HLS shows: ${shown}`);
    }
    console.log(`broken media page shows: ${shown}`);
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(`FAILED: ${e.message}`);
  process.exit(1);
});
