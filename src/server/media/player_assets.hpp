// The web player's files, built into the binary so a replica needs no path at run time:
// hls.js (the pinned npm version, from node_modules at build time) and the /watch page.
#pragma once

#include <string>
#include <string_view>

namespace sg::server::media {

// hls.min.js of the pinned hls.js release, and that release's version ("1.7.4").
std::string_view hls_js();
std::string_view hls_js_version();
// The /watch/{id} page for `content_id` (which must match [A-Za-z0-9-]+: it is inserted as is).
std::string watch_page(std::string_view content_id);

}  // namespace sg::server::media
