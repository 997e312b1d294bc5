// What our binaries actually serve, read from their source: the server's route table
// (src/server/content_api.cpp, constexpr kRoute* = "/...") and the gateway's admin paths
// answered without a token (src/gateway/admin_api.cpp, target.path == "/..."), and sgctl's
// control API paths answered without a token (src/platform/engine/control_api.cpp,
// path == "/..." && req.method() == ... in handle(), before the bearer check).
"use strict";
const fs = require("node:fs");
const path = require("node:path");

function serverRoutes(root) {
  const text = fs.readFileSync(path.join(root, "src/server/content_api.cpp"), "utf8");
  const routes = new Set();
  for (const m of text.matchAll(/constexpr std::string_view kRoute\w+ = "(\/[^"{}]*)";/g)) routes.add(m[1]);
  if (!routes.has("/livez")) throw new Error("src/server/content_api.cpp: no route table found (kRoute*)");
  return routes;
}

function gatewayAdminRoutes(root) {
  const text = fs.readFileSync(path.join(root, "src/gateway/admin_api.cpp"), "utf8");
  const routes = new Set();
  for (const m of text.matchAll(/target\.path == "(\/[^"]*)"/g)) routes.add(m[1]);
  if (!routes.has("/health")) throw new Error("src/gateway/admin_api.cpp: no /health route found");
  return routes;
}

function controlApiOpenRoutes(root) {
  const text = fs.readFileSync(path.join(root, "src/platform/engine/control_api.cpp"), "utf8");
  const routes = new Set();
  for (const m of text.matchAll(/path == "(\/[^"]*)" && req\.method\(\) == bhttp::verb::get/g)) routes.add(m[1]);
  if (!routes.has("/health")) throw new Error("src/platform/engine/control_api.cpp: no token-free /health route found");
  return routes;
}

module.exports = { serverRoutes, gatewayAdminRoutes, controlApiOpenRoutes };
