// The tests' polling helper: fn() every 50 ms until it returns something truthy (returned),
// failing the test after `ms`.
"use strict";
const assert = require("node:assert/strict");

async function until(what, fn, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const got = await fn();
    if (got) return got;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`${what}: not within ${ms} ms`);
}

module.exports = { until };
