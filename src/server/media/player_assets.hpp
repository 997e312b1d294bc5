// The web player's files, built into the binary so a replica needs no path at run time:
// hls.js (the pinned npm version, from node_modules at build time) and the /watch page.
#pragma once

#include <string>
#include <string_view>

namespace sg::server::media {

// hls.min.js of the pinned hls.js release, and that release's version ("1.7.4").
std::string_view hls_js();
std::string_view hls_js_version();
// A page served with its content security policy.
struct WatchPage {
  std::string html;
  std::string content_security_policy;
};
// The /watch/{id} page for `content_id` (which must match [A-Za-z0-9-]+: it is inserted as is).
// Its inline script and style run under a fresh per-response nonce; the policy allows
// nothing else but hls.js from this origin, requests to this origin (playlists, segments),
// media from blob: URLs (Media Source Extensions) and hls.js's blob: worker.
WatchPage watch_page(std::string_view content_id);

}  // namespace sg::server::media
