#include "server/media/player_assets.hpp"
#include "common/random_hex.hpp"

#include <cstddef>

// The files are included verbatim by the assembler (.incbin), with their paths from CMake.
#define SG_STR2(x) #x
#define SG_STR(x) SG_STR2(x)
#define SG_EMBED(name, path)                                   \
  asm(".section .rodata\n"                                     \
      ".global " #name "_begin\n"                              \
      ".balign 16\n" #name "_begin:\n"                         \
      ".incbin \"" path "\"\n"                                 \
      ".global " #name "_end\n" #name "_end:\n"                \
      ".byte 0\n"                                              \
      ".previous\n");                                          \
  extern "C" const char name##_begin[];                        \
  extern "C" const char name##_end[];

SG_EMBED(sg_hls_js, SG_HLS_JS_PATH)
SG_EMBED(sg_watch_html, SG_WATCH_HTML_PATH)

namespace sg::server::media {
namespace {

std::string_view view(const char* begin, const char* end) {
  return std::string_view(begin, static_cast<std::size_t>(end - begin));
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

// 128 random bits as hex: a CSP nonce (the grammar allows base64 characters; hex is a subset).
}  // namespace

std::string_view hls_js() { return view(sg_hls_js_begin, sg_hls_js_end); }
std::string_view hls_js_version() { return SG_HLS_JS_VERSION; }

WatchPage watch_page(std::string_view content_id) {
  const std::string nonce = secure_random_hex(32);  // must not be guessable
  WatchPage page;
  page.html = std::string(view(sg_watch_html_begin, sg_watch_html_end));
  replace_all(page.html, "@HLS_JS_VERSION@", hls_js_version());
  replace_all(page.html, "@CONTENT_ID@", content_id);
  replace_all(page.html, "@NONCE@", nonce);
  page.content_security_policy =
      "default-src 'none'; script-src 'self' 'nonce-" + nonce + "'; style-src 'nonce-" + nonce +
      "'; img-src data:; connect-src 'self'; media-src 'self' blob:; worker-src blob:; "
      "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
  return page;
}

}  // namespace sg::server::media
