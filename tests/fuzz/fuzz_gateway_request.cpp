// libFuzzer target: the gateway's request rules on what a client wrote on one connection.
//
// Mirrors Proxy::serve (src/gateway/proxy.cpp) without sockets. The input holds zero or more
// pipelined HTTP/1.x requests; for each one:
//   1. the head is parsed with a request_parser<empty_body> (header limit 16 KiB, no body
//      limit, non-eager) fed through put(), as the gateway's HTTP server does;
//   2. framing_error() decides; a request it rejects ends the connection (the gateway answers
//      400 and closes);
//   3. the sticky keys (a header value and cookie_value() of the Cookie header) go through
//      TrackSchedule::pick_sticky on a few routes and eligibility patterns;
//   4. the upstream head is written as the proxy writes it (set_upstream_framing: chunked when
//      the client sent chunked, else Content-Length when there is a body or the method is
//      POST/PUT/PATCH; append_upstream_request_head with request id "rid" and peer
//      "127.0.0.1") and parsed again with a fresh request_parser<empty_body>, which is what
//      the upstream server sees;
//   5. the body is read with a request_parser<buffer_body> (512-byte buffer, discarded) like
//      the streamed path; the loop goes on while the client connection would stay open.
//
// Invariants (a violation prints what failed and traps):
//   - the upstream head parses, is HTTP/1.1, method and target unchanged;
//   - at most one of Content-Length / Transfer-Encoding, each at most once, and the framing is
//     the client's (same length, or chunked);
//   - no hop-by-hop field survives: Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
//     Upgrade, Proxy-Authorization, nor any field named by a Connection token (tokens split
//     on ',' and trimmed of OWS = SP / HTAB, RFC 9110 5.6.1 and 7.6.1);
//   - every end-to-end field of the client reaches the upstream with its value;
//   - exactly one X-Request-Id, equal to "rid"; exactly one X-Forwarded-For, "127.0.0.1", and
//     no other forwarding field of the client (Forwarded, X-Forwarded-Host/-Proto, X-Real-IP);
//     behind a trusted proxy one X-Forwarded-For ending with "127.0.0.1"; a Host upstream
//     when the client sent none;
//   - cookie_value() returns a substring of the header without ';';
//   - pick_sticky is deterministic, in range, only picks eligible tracks of weight > 0, places
//     the key on the cumulative weights when every track is eligible, and answers whenever
//     some weighted track is eligible;
//   - the CMCD sources found in one pass over the fields are the ones Beast's lookups find
//     (first value read, a repeat reported);
//   - HLS classification (classify_hls, what the streaming signals count) equals a reference
//     that splits the path at '/' (RFC 3986: the path ends at the first '?' or '#'); it reads
//     the path only, so the same target with its query removed, reversed or extended, or its
//     fragment removed, is classified the same; only GET and HEAD are classified, and the
//     CMCD object type turns a segment into an init section and nothing else;
//   - query_param equals a reference split of the query at '&' for every non-empty name: the
//     first pair's raw value, a view into the target's query (no '&' or '#' in it), and the same
//     value whatever the order of the pairs when the name occurs once; for `CMCD` it agrees
//     with find_cmcd_query (the CMCD reader's own scan);
//   - the session key (stream_request, as the proxy calls it with the request's CMCD data) is
//     empty for a request that is not HLS, else the CMCD sid when there is one, else the raw
//     `token` parameter, else empty; SessionTable::pin tracks a key exactly when it is not
//     empty and at most kMaxSessionKeyBytes long, and a pinned session keeps its first track;
//   - no exception escapes the rules.
//
// SG_FUZZ_TRACE=1 prints each client head and the upstream text on stderr.
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/http_types.hpp"
#include "gateway/core/hls_request.hpp"
#include "gateway/core/session_table.hpp"
#include "gateway/core/track_schedule.hpp"
#include "gateway/proxy_heads.hpp"
#include "gateway/request_cmcd.hpp"
#include "gateway/request_rules.hpp"
#include "gateway/stream_recorder.hpp"

namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace gw = sg::gateway;
using error_code = boost::system::error_code;

constexpr std::uint32_t kHeaderLimit = 16 * 1024;  // LimitsConfig::header_bytes default
// The upstream head may be a little longer than the client's (X-Request-Id, X-Forwarded-For,
// Content-Length); parse it with room to spare so only real syntax problems fail.
constexpr std::uint32_t kUpstreamHeaderLimit = 64 * 1024;
constexpr std::size_t kBodyChunk = 512;
constexpr int kMaxRequests = 64;

[[noreturn]] void violation(const std::string& what, const std::string& detail) {
  std::fprintf(stderr, "\n*** fuzz_gateway_request invariant violated: %s\n%s\n", what.c_str(),
               detail.c_str());
  std::fflush(stderr);
  __builtin_trap();
}

bool trace() {
  static const bool on = std::getenv("SG_FUZZ_TRACE") != nullptr;
  return on;
}

template <class F>
auto no_throw(const char* where, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    violation(std::string("exception escaped ") + where, e.what());
  }
}

// ---- routes for stickiness ----------------------------------------------------------------

struct Route {
  gw::TrackSchedule schedule;
};

const std::vector<Route>& routes() {
  static const std::vector<Route> r = [] {
    std::vector<std::vector<gw::TrackWeight>> specs = {
        {{"stable", 95}, {"canary", 5}},
        {{"blue", 50}, {"green", 50}},
        {{"blue", 0}, {"green", 100}},
        {{"only", 100}},
        {{"a", 33}, {"b", 0}, {"c", 33}, {"d", 34}},
    };
    std::vector<Route> out;
    for (auto& s : specs) {
      auto created = gw::TrackSchedule::create(s);
      if (!created) {
        std::fprintf(stderr, "schedule: %s\n", created.error().message.c_str());
        std::abort();
      }
      out.push_back(Route{std::move(*created)});
    }
    return out;
  }();
  return r;
}

void check_sticky(std::string_view key) {
  for (const Route& route : routes()) {
    const gw::TrackSchedule& s = route.schedule;
    const std::size_t n = s.track_count();
    // All eligible, none, only the first, all but the first, and every other one.
    std::vector<std::vector<bool>> patterns = {std::vector<bool>(n, true),
                                               std::vector<bool>(n, false)};
    std::vector<bool> first(n, false), rest(n, true), alternate(n, false);
    first[0] = true;
    rest[0] = false;
    for (std::size_t i = 0; i < n; i += 2) alternate[i] = true;
    patterns.push_back(first);
    patterns.push_back(rest);
    patterns.push_back(alternate);
    for (const auto& eligible : patterns) {
      const auto a = no_throw("pick_sticky", [&] { return s.pick_sticky(key, eligible); });
      const auto b = no_throw("pick_sticky", [&] { return s.pick_sticky(key, eligible); });
      const std::string detail = "key '" + std::string(key) + "', " + std::to_string(n) + " tracks";
      if (a != b) violation("pick_sticky is not deterministic", detail);
      bool any = false;
      for (std::size_t i = 0; i < n; ++i) any = any || (eligible[i] && s.weights()[i].weight > 0);
      if (!a) {
        if (any) violation("pick_sticky found no track although one is eligible", detail);
        continue;
      }
      if (*a >= n) violation("pick_sticky out of range", detail);
      if (!eligible[*a]) violation("pick_sticky picked an ineligible track", detail);
      if (s.weights()[*a].weight <= 0) violation("pick_sticky picked a track of weight 0", detail);
    }
    // Every track eligible: the key's point on the cumulative weights decides.
    const int point = static_cast<int>(gw::stable_hash(key) % gw::TrackSchedule::kTotalWeight);
    std::size_t expected = 0;
    for (int upper = 0; expected < n; ++expected) {
      upper += s.weights()[expected].weight;
      if (point < upper) break;
    }
    if (s.pick_sticky(key, std::vector<bool>(n, true)) != std::optional<std::size_t>(expected)) {
      violation("pick_sticky ignores the cumulative weights", "key '" + std::string(key) + "'");
    }
  }
}

void check_cookie(std::string_view header, std::string_view name) {
  const std::string v = no_throw("cookie_value", [&] { return gw::cookie_value(header, name); });
  if (v.empty()) return;
  if (header.find(v) == std::string_view::npos)
    violation("cookie_value is not part of the header", std::string(header));
  if (v.find(';') != std::string::npos) violation("cookie_value contains ';'", std::string(header));
  check_sticky(v);
}

// ---- the upstream head ----------------------------------------------------------------------

bool is_ows(char c) { return c == ' ' || c == '\t'; }

// Connection tokens as RFC 9110 defines them: comma-separated, OWS (SP / HTAB) around.
std::vector<std::string> connection_tokens(const sg::http::RequestHeader& head) {
  std::vector<std::string> out;
  for (const auto& f : head) {
    if (f.name() != bhttp::field::connection) continue;
    std::string_view v = f.value();
    while (true) {
      const auto comma = v.find(',');
      std::string_view t = v.substr(0, comma);
      while (!t.empty() && is_ows(t.front())) t.remove_prefix(1);
      while (!t.empty() && is_ows(t.back())) t.remove_suffix(1);
      if (!t.empty()) out.emplace_back(t);
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  return out;
}

// All Transfer-Encoding codings of a head, lower case, joined with ','.
std::string coding_list(const sg::http::RequestHeader& head) {
  std::string out;
  for (auto [it, end] = head.equal_range(bhttp::field::transfer_encoding); it != end; ++it) {
    for (const auto& coding : bhttp::token_list(it->value())) {
      if (!out.empty()) out += ',';
      for (char c : coding) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) { return beast::iequals(a, b); }

bool is_hop_by_hop(std::string_view name) {
  for (std::string_view h :
       {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
        "upgrade", "proxy-authorization", "proxy-authenticate", "content-length", "expect"}) {
    if (iequals(name, h)) return true;
  }
  return false;
}

void check_upstream(const sg::http::RequestHeader& client, bool chunked,
                    std::optional<std::uint64_t> length) {
  // The head as the proxy writes it (Proxy::serve).
  gw::RequestHeadParts parts{"rid", "127.0.0.1"};
  no_throw("set_upstream_framing", [&] {
    gw::set_upstream_framing(parts, client, chunked, length);
    return 0;
  });
  std::string text;
  no_throw("append_upstream_request_head", [&] {
    gw::append_upstream_request_head(text, client, parts);
    return 0;
  });
  const bool has_body = chunked || length.value_or(0) > 0;
  if (trace()) std::fprintf(stderr, "--- upstream:\n%s", text.c_str());

  bhttp::request_parser<bhttp::empty_body> p;
  p.header_limit(kUpstreamHeaderLimit);
  p.body_limit(boost::none);
  p.eager(false);
  error_code ec;
  std::size_t used = p.put(boost::asio::buffer(text.data(), text.size()), ec);
  if (ec || !p.is_header_done() || used != text.size()) {
    violation("the upstream head does not parse: " + (ec ? ec.message() : "incomplete"), text);
  }
  const auto& u = p.get().base();
  if (u.version() != 11) violation("upstream head is not HTTP/1.1", text);
  if (u.method_string() != client.method_string() || u.target() != client.target())
    violation("method or target changed", text);
  if (u.method() != client.method()) violation("method changed", text);

  const auto cl = u.count(bhttp::field::content_length);
  const auto te = u.count(bhttp::field::transfer_encoding);
  if (cl > 1 || te > 1 || (cl && te)) violation("conflicting framing upstream", text);
  if (chunked && !p.chunked()) violation("chunked body not chunked upstream", text);
  if (!chunked && te) violation("Transfer-Encoding upstream for a non-chunked body", text);
  if (chunked) {
    // The body still carries the client's other transfer codings (Beast only removes the
    // chunked framing); an upstream told "chunked" alone would take them for content.
    const std::string client_te = coding_list(client);
    const std::string up_te = coding_list(u);
    if (client_te != up_te) {
      violation("transfer codings changed: client '" + client_te + "', upstream '" + up_te + "'",
                text);
    }
  }
  if (length && !chunked && has_body && (!p.content_length() || *p.content_length() != *length))
    violation("Content-Length changed", text);

  for (auto f : {bhttp::field::connection, bhttp::field::keep_alive, bhttp::field::proxy_connection,
                 bhttp::field::te, bhttp::field::trailer, bhttp::field::upgrade,
                 bhttp::field::proxy_authorization}) {
    if (u.count(f) != 0)
      violation("hop-by-hop field " + std::string(bhttp::to_string(f)) + " upstream", text);
  }
  const auto named = connection_tokens(client);
  auto is_named = [&](std::string_view name) {
    for (const auto& t : named) {
      if (iequals(t, name)) return true;
    }
    return false;
  };
  for (const auto& t : named) {
    // These the gateway sets itself after stripping.
    if (iequals(t, "content-length") || iequals(t, "transfer-encoding") ||
        iequals(t, "x-request-id") || iequals(t, "x-forwarded-for"))
      continue;
    if (u.find(t) != u.end()) violation("field '" + t + "' named by Connection upstream", text);
  }
  // End-to-end fields pass unchanged; forwarding fields of a client (not a trusted proxy) do
  // not pass at all.
  auto forwarding = [](std::string_view name) {
    for (const char* f :
         {"x-forwarded-for", "forwarded", "x-forwarded-host", "x-forwarded-proto", "x-real-ip"}) {
      if (iequals(name, f)) return true;
    }
    return false;
  };
  for (const auto& f : u) {
    if (forwarding(f.name_string()) &&
        !(iequals(f.name_string(), "x-forwarded-for") && f.value() == "127.0.0.1"))
      violation("a client's forwarding field reached the upstream", text);
  }
  if (client.count(bhttp::field::host) == 0 && u.count(bhttp::field::host) != 1)
    violation("a request without Host went upstream without exactly one", text);
  for (const auto& f : client) {
    const std::string_view name = f.name_string();
    if (is_hop_by_hop(name) || is_named(name) || iequals(name, "x-request-id") || forwarding(name))
      continue;
    bool found = false;
    for (auto [it, end] = u.equal_range(name); it != end && !found; ++it)
      found = it->value() == f.value();
    if (!found) violation("end-to-end field '" + std::string(name) + "' lost", text);
  }
  if (u.count("X-Request-Id") != 1 || u["X-Request-Id"] != "rid")
    violation("X-Request-Id is not exactly 'rid'", text);
  if (u.count("X-Forwarded-For") != 1 || u["X-Forwarded-For"] != "127.0.0.1")
    violation("X-Forwarded-For is not exactly the peer address", text);
  // Behind a trusted proxy its X-Forwarded-For values are kept, in one field, peer last.
  parts.trust_forwarded = true;
  std::string trusted;
  no_throw("append_upstream_request_head", [&] {
    gw::append_upstream_request_head(trusted, client, parts);
    return 0;
  });
  bhttp::request_parser<bhttp::empty_body> tp;
  tp.header_limit(kUpstreamHeaderLimit);
  tp.body_limit(boost::none);  // the body is not parsed here; a large Content-Length is fine
  tp.eager(false);
  tp.put(boost::asio::buffer(trusted.data(), trusted.size()), ec);
  if (ec || !tp.is_header_done()) violation("the trusted upstream head does not parse", trusted);
  const auto& t = tp.get().base();
  const std::string_view xff = t["X-Forwarded-For"];
  if (t.count("X-Forwarded-For") != 1 || !xff.ends_with("127.0.0.1"))
    violation("a trusted proxy's X-Forwarded-For does not end with the peer", trusted);
}

// ---- one connection -------------------------------------------------------------------------

struct Wire {
  std::string_view bytes;
};

// Feeds the wire to `parser` until `done(parser)`, an error, or (buffer_body) a full body
// buffer. Running out of bytes is the end of the stream.
template <class Parser, class Done>
error_code feed(Parser& parser, Wire& wire, Done done) {
  error_code ec;
  while (!done(parser)) {
    if (wire.bytes.empty()) {
      if (parser.got_some()) {
        parser.put_eof(ec);
      } else {
        ec = bhttp::error::end_of_stream;
      }
      return ec;
    }
    const std::size_t n = parser.put(boost::asio::buffer(wire.bytes.data(), wire.bytes.size()), ec);
    wire.bytes.remove_prefix(n);
    if (ec == bhttp::error::need_more) {
      ec = {};
      if (n == 0) wire.bytes = {};  // an incomplete element and no more bytes come
      continue;
    }
    if (ec) return ec;
  }
  return ec;
}

// The proxy's one-pass scan for CMCD sources agrees with Beast's own lookups: a CMCD-* field
// is found when Beast finds it (any case), its first value is the one read, a second one is
// reported, and so is a repeated CMCD query parameter.
void check_cmcd(const sg::http::RequestHeader& head) {
  const gw::CmcdSources s =
      no_throw("request_cmcd_sources", [&] { return gw::request_cmcd_sources(head); });
  bool repeated = gw::find_cmcd_query(head.target()).count > 1;
  const std::pair<const char*, const std::optional<std::string_view>*> fields[] = {
      {"CMCD-Request", &s.request},
      {"CMCD-Object", &s.object},
      {"CMCD-Status", &s.status},
      {"CMCD-Session", &s.session}};
  for (const auto& [name, slot] : fields) {
    const auto n = head.count(name);
    if ((n > 0) != slot->has_value()) violation("CMCD field found or missed", name);
    if (n > 0 && **slot != head.find(name)->value()) violation("not the first CMCD value", name);
    repeated = repeated || n > 1;
  }
  if (repeated != s.repeated) violation("a repeated CMCD source is not reported", "");
  const auto report = no_throw("read_request_cmcd", [&] { return gw::read_request_cmcd(head); });
  if (report.has_value() != s.any()) violation("CMCD read without a source or not read", "");
  if (report && s.repeated && !report->malformed()) violation("a repeat is not malformed", "");
}

// ---- HLS classification, query parameters, the session key ---------------------------------

// The parts of a request target as RFC 3986 reads them: the path ends at the first '?' or
// '#'; a query only when a '?' comes first, ending at the next '#'.
struct TargetParts {
  std::string_view path;
  std::optional<std::string_view> query;
  std::optional<std::string_view> fragment;  // with its '#'
};

TargetParts split_target(std::string_view target) {
  TargetParts t;
  const std::size_t end = target.find_first_of("?#");
  t.path = target.substr(0, end);
  if (end == std::string_view::npos) return t;
  std::string_view rest = target.substr(end);
  if (rest.front() == '?') {
    const std::size_t hash = rest.find('#');
    t.query = rest.substr(1, hash == std::string_view::npos ? std::string_view::npos : hash - 1);
    if (hash == std::string_view::npos) return t;
    rest.remove_prefix(hash);
  }
  t.fragment = rest;
  return t;
}

// The reference classification: /api/v1/content/{id}/hls/{name}, each part one non-empty
// path segment ({id} and {name} with no '/'), read by splitting at '/'.
gw::HlsKind reference_kind(bool get_or_head, std::string_view target,
                           std::optional<gw::CmcdObjectType> ot) {
  if (!get_or_head) return gw::HlsKind::kNone;
  std::vector<std::string_view> segs;
  std::string_view path = split_target(target).path;
  if (path.empty() || path.front() != '/') return gw::HlsKind::kNone;
  path.remove_prefix(1);
  while (true) {
    const std::size_t slash = path.find('/');
    segs.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  if (segs.size() != 6 || segs[0] != "api" || segs[1] != "v1" || segs[2] != "content" ||
      segs[3].empty() || segs[4] != "hls" || segs[5].empty()) {
    return gw::HlsKind::kNone;
  }
  if (segs[5].ends_with(".m3u8")) return gw::HlsKind::kPlaylist;
  return ot == gw::CmcdObjectType::kInit ? gw::HlsKind::kInit : gw::HlsKind::kSegment;
}

struct QueryPair {
  std::string_view name;
  std::string_view value;  // empty when the pair has no '='
};

std::vector<QueryPair> query_pairs(std::string_view query) {
  std::vector<QueryPair> out;
  while (true) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const std::size_t eq = pair.find('=');
    out.push_back({pair.substr(0, eq),
                   eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1)});
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

std::string show(std::optional<std::string_view> v) {
  return v ? "'" + std::string(*v) + "'" : std::string("none");
}

// The same target with the pairs of its query `query` in reverse order (fragment kept),
// rebuilt from the raw pair texts so a pair without '=' stays one.
std::string reversed_query(const TargetParts& t, std::string_view query) {
  std::vector<std::string_view> raw;
  while (true) {
    const std::size_t amp = query.find('&');
    raw.push_back(query.substr(0, amp));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  std::string out(t.path);
  out += '?';
  for (std::size_t i = raw.size(); i-- > 0;) {
    out += raw[i];
    if (i > 0) out += '&';
  }
  if (t.fragment) out += *t.fragment;
  return out;
}

void check_query_param(std::string_view target, const TargetParts& t, std::string_view name) {
  const auto got = no_throw("query_param", [&] { return gw::query_param(target, name); });
  std::optional<std::string_view> want;
  if (t.query) {
    for (const QueryPair& p : query_pairs(*t.query)) {
      if (p.name == name) {
        want = p.value;
        break;
      }
    }
  }
  const std::string detail = "target '" + std::string(target) + "', name '" + std::string(name) +
                             "': got " + show(got) + ", want " + show(want);
  if (got.has_value() != want.has_value() || (got && *got != *want)) {
    violation("query_param differs from the split of the query", detail);
  }
  if (got && !got->empty()) {
    // A view into the query itself, not a copy and not the path or the fragment.
    const char* q0 = t.query->data();
    if (got->data() < q0 || got->data() + got->size() > q0 + t.query->size())
      violation("query_param's value is not inside the query", detail);
    if (got->find_first_of("&#") != std::string_view::npos)
      violation("query_param's value crosses a '&' or '#'", detail);
  }
}

// Classification and query scanning on `target`, and the same on rewritten targets.
void check_hls_target(bool get_or_head, std::string_view target,
                      std::optional<gw::CmcdObjectType> ot) {
  const auto kind =
      no_throw("classify_hls", [&] { return gw::classify_hls(get_or_head, target, ot); });
  const std::string t_text = "target '" + std::string(target) + "'";
  if (kind != reference_kind(get_or_head, target, ot)) {
    violation(std::string("classify_hls gives ") + gw::hls_kind_name(kind) + ", the reference " +
                  gw::hls_kind_name(reference_kind(get_or_head, target, ot)),
              t_text);
  }
  if (gw::classify_hls(get_or_head, target, ot) != kind)
    violation("classify_hls is not deterministic", t_text);
  if (gw::classify_hls(false, target, ot) != gw::HlsKind::kNone)
    violation("a request other than GET/HEAD is classified", t_text);
  // The object type only tells an init section from a segment.
  const auto plain = gw::classify_hls(get_or_head, target, std::nullopt);
  const bool init_ot = ot == gw::CmcdObjectType::kInit;
  const auto expect_plain = kind == gw::HlsKind::kInit ? gw::HlsKind::kSegment : kind;
  if (plain != expect_plain || (kind == gw::HlsKind::kInit && !init_ot))
    violation("the CMCD object type changes more than init vs segment", t_text);

  // The path alone decides: the query and the fragment do not count, nor their order.
  const TargetParts parts = split_target(target);
  std::vector<std::string> rewritten = {std::string(parts.path),
                                        std::string(parts.path) + "?x=1&token=t&CMCD=ot%3Dv",
                                        std::string(target) + (parts.query ? "&" : "?") + "a=b"};
  if (parts.query) rewritten.push_back(std::string(parts.path) + "?" + std::string(*parts.query));
  std::vector<QueryPair> pairs;
  std::string reversed;
  if (parts.query) {
    pairs = query_pairs(*parts.query);
    reversed = reversed_query(parts, *parts.query);
    rewritten.push_back(reversed);
  }
  for (const std::string& r : rewritten) {
    if (gw::classify_hls(get_or_head, r, ot) != kind)
      violation("classification depends on the query or fragment", t_text + " vs '" + r + "'");
  }

  // Names only: an empty name is no parameter (query_param does not see a trailing empty
  // pair, which no caller could ask for).
  for (std::string_view name : {"token", "CMCD", "sid"}) check_query_param(target, parts, name);
  std::size_t checked = 0;
  for (const QueryPair& p : pairs) {
    if (p.name.empty()) continue;
    if (++checked > 16) break;  // bounded work per target
    check_query_param(target, parts, p.name);
    int occurrences = 0;
    for (const QueryPair& q : pairs) occurrences += q.name == p.name;
    if (occurrences == 1 && gw::query_param(reversed, p.name) != gw::query_param(target, p.name)) {
      violation("query_param depends on the order of the pairs",
                t_text + " vs '" + reversed + "', name '" + std::string(p.name) + "'");
    }
  }

  // The CMCD reader's own scan finds the same first CMCD parameter.
  const gw::CmcdQueryParam c = gw::find_cmcd_query(target);
  const auto q = gw::query_param(target, "CMCD");
  if ((c.count > 0) != q.has_value() || (q && c.value != *q))
    violation("find_cmcd_query and query_param disagree on CMCD",
              t_text + ": find_cmcd_query count " + std::to_string(c.count) + " value '" +
                  std::string(c.value) + "', query_param " + show(q));
}

// The session key as the proxy derives it, and what the session table does with it.
void check_session(const sg::http::RequestHeader& head, gw::SessionTable& sessions) {
  const auto report = no_throw("read_request_cmcd", [&] { return gw::read_request_cmcd(head); });
  const gw::CmcdData* data = report ? &report->data : nullptr;
  const gw::StreamRequest req =
      no_throw("stream_request", [&] { return gw::stream_request(head, data); });
  const std::string_view target = head.target();
  const bool get_or_head = head.method() == bhttp::verb::get || head.method() == bhttp::verb::head;
  const auto ot = data ? data->ot : std::nullopt;
  check_hls_target(get_or_head, target, ot);
  const std::string t_text = "target '" + std::string(target) + "', key '" + req.session + "'";
  if (req.kind != gw::classify_hls(get_or_head, target, ot))
    violation("stream_request's kind is not classify_hls's", t_text);
  if (req.kind == gw::HlsKind::kNone) {
    if (!req.session.empty() || req.starved || req.throughput_kbps)
      violation("a request that is not HLS has streaming data", t_text);
    return;
  }
  std::string want;
  if (data && data->sid) {
    want = std::string(data->sid->view());
  } else if (const auto token = gw::query_param(target, "token")) {
    want = std::string(*token);
  }
  if (req.session != want)
    violation("the session key is not sid, else token", t_text + ", want '" + want + "'");
  if (req.starved != (data && data->bs.value_or(false)) ||
      req.throughput_kbps != (data ? data->mtp : std::nullopt))
    violation("bs or mtp not the CMCD data's", t_text);

  // Pinning: a key is tracked when it is not empty and not too long; a session keeps the
  // track it was first pinned to.
  const auto now = gw::SessionTable::Clock::time_point{} + std::chrono::hours(1);
  const auto pinned = no_throw("pin", [&] { return sessions.pin(req.session, "stable", now); });
  const bool trackable = !req.session.empty() && req.session.size() <= gw::kMaxSessionKeyBytes;
  if (pinned.has_value() != trackable) violation("pin tracks the wrong keys", t_text);
  if (!pinned) return;
  const auto again = sessions.pin(req.session, "canary", now);
  if (again != pinned) violation("a pinned session changed track", t_text + ": " + show(again));
  if (sessions.pinned_track(req.session, now) != pinned)
    violation("pinned_track does not answer the pin", t_text);
}

// One request; returns whether the client connection stays open.
bool exchange(Wire& wire, gw::SessionTable& sessions) {
  bhttp::request_parser<bhttp::empty_body> head_parser;
  head_parser.header_limit(kHeaderLimit);
  head_parser.body_limit(boost::none);
  head_parser.eager(false);
  if (feed(head_parser, wire, [](const auto& p) { return p.is_header_done(); })) return false;
  const sg::http::RequestHeader& head = head_parser.get().base();
  if (trace()) {
    std::fprintf(stderr, "--- client: %s %s\n", std::string(head.method_string()).c_str(),
                 std::string(head.target()).c_str());
  }
  const bool keep_alive = head_parser.get().keep_alive();
  check_cmcd(head);
  check_session(head, sessions);
  if (no_throw("framing_error", [&] { return gw::framing_error(head); })) return false;
  (void)no_throw("retry_allowed", [&] { return gw::retry_allowed(head); });

  // Stickiness: a header and two cookie names.
  if (auto v = head["X-Viewer-Id"]; !v.empty()) check_sticky(v);
  const std::string_view cookie = head[bhttp::field::cookie];
  check_cookie(cookie, "sg-viewer");
  check_cookie(cookie, "sid");

  const bool chunked = head_parser.chunked();
  const auto length = head_parser.content_length();
  check_upstream(head, chunked, length ? std::optional<std::uint64_t>(*length) : std::nullopt);

  // The body, streamed and discarded.
  bhttp::request_parser<bhttp::buffer_body> body(std::move(head_parser));
  body.eager(true);
  char chunk[kBodyChunk];
  while (!body.is_done()) {
    body.get().body().data = chunk;
    body.get().body().size = sizeof chunk;
    error_code ec = feed(body, wire, [](const auto& p) { return p.is_done(); });
    if (ec == bhttp::error::need_buffer) continue;
    if (ec) return false;
  }
  return keep_alive;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Wire wire{std::string_view(reinterpret_cast<const char*>(data), size)};
  // One table per input, so each input is reproducible alone; a few entries at most.
  gw::SessionTable sessions(gw::SessionTableOptions{4096, std::chrono::seconds(300)});
  for (int i = 0; i < kMaxRequests && !wire.bytes.empty(); ++i) {
    if (!exchange(wire, sessions)) break;
  }
  return 0;
}
