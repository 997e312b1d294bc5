// libFuzzer target: the gateway's CMCD reader (src/gateway/core/cmcd.hpp) on what a player,
// or anyone, puts in a request target and the four CMCD header fields.
//
// The input is split at 0xFF bytes into up to five parts: a request target (the query
// parameter is found with find_cmcd_query, as the gateway does) and the CMCD-Request,
// CMCD-Object, CMCD-Status and CMCD-Session values (a missing part is an absent header).
//
// Invariants (a violation prints what failed and traps):
//   - no exception escapes; the same sources give the same report;
//   - `malformed()` is exactly "a first problem was recorded";
//   - every kept value is within the header's promises: numbers not negative (v >= 1, pr
//     finite), sid/cid/nor/nrr within their limits and printable ASCII, nrr a range;
//   - what was kept, written back as one canonical header payload, reads back to the same
//     data with no problem (the reader and the types agree);
//   - each header part, percent-encoded whole (and again with `+` for spaces, letters and
//     digits raw) and read as the query, gives the same report as read as a header (the URL
//     decoding is exact), when the encoded form fits kCmcdMaxSourceBytes.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/core/cmcd.hpp"

namespace {

using sg::gateway::CmcdData;
using sg::gateway::CmcdReport;
using sg::gateway::CmcdSources;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_cmcd: invariant broken: %s\n", what);
  std::abort();
}

template <class T>
bool same_text(const std::optional<T>& a, const std::optional<T>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || a->view() == b->view();
}

bool same_data(const CmcdData& a, const CmcdData& b) {
  return a.br == b.br && a.d == b.d && a.ot == b.ot && a.tb == b.tb && a.bl == b.bl &&
         a.dl == b.dl && a.mtp == b.mtp && same_text(a.nor, b.nor) && same_text(a.nrr, b.nrr) &&
         a.su == b.su && a.bs == b.bs && a.rtp == b.rtp && same_text(a.cid, b.cid) &&
         a.pr == b.pr && a.sf == b.sf && same_text(a.sid, b.sid) && a.st == b.st && a.v == b.v;
}

bool same_report(const CmcdReport& a, const CmcdReport& b) {
  return same_data(a.data, b.data) && a.problems == b.problems &&
         a.first_problem == b.first_problem && a.skipped_keys == b.skipped_keys;
}

template <class T>
void check_text(const std::optional<T>& t, std::size_t limit, const char* what) {
  if (!t) return;
  if (t->view().size() > limit) fail(what);
  for (const char c : t->view()) {
    if (c < 0x20 || c > 0x7e) fail(what);
  }
}

void check_number(const std::optional<std::int64_t>& n, std::int64_t minimum) {
  if (n && *n < minimum) fail("a kept number is below its minimum");
}

void check_values(const CmcdReport& r) {
  if (r.malformed() != (r.first_problem != sg::gateway::CmcdProblem::kNone)) {
    fail("malformed() disagrees with first_problem");
  }
  const CmcdData& d = r.data;
  for (const auto* n : {&d.br, &d.d, &d.tb, &d.bl, &d.dl, &d.mtp, &d.rtp}) check_number(*n, 0);
  check_number(d.v, 1);
  if (d.pr && (!std::isfinite(*d.pr) || *d.pr < 0)) fail("pr is negative or not finite");
  check_text(d.sid, sg::gateway::kCmcdMaxIdChars, "sid over its limit or not printable");
  check_text(d.cid, sg::gateway::kCmcdMaxIdChars, "cid over its limit or not printable");
  check_text(d.nor, sg::gateway::kCmcdMaxNorChars, "nor over its limit or not printable");
  check_text(d.nrr, sg::gateway::kCmcdMaxNrrChars, "nrr over its limit or not printable");
  if (d.nrr && d.nrr->view().find('-') == std::string_view::npos) fail("nrr is not a range");
}

void append_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

template <class E>
void append_token(std::string& out, const char* key, const std::optional<E>& v,
                  std::initializer_list<const char*> names) {
  if (!v) return;
  out += key;
  out += '=';
  out += *(names.begin() + static_cast<std::size_t>(*v));
  out += ',';
}

// The kept data as one header payload, in the spec's alphabetical order.
std::string canonical(const CmcdData& d) {
  std::string out;
  const auto number = [&](const char* key, const std::optional<std::int64_t>& v) {
    if (v) out += std::string(key) + "=" + std::to_string(*v) + ",";
  };
  const auto boolean = [&](const char* key, const std::optional<bool>& v) {
    if (v) out += std::string(key) + (*v ? "," : "=?0,");
  };
  const auto text = [&](const char* key, std::string_view v) {
    out += std::string(key) + "=";
    append_string(out, v);
    out += ',';
  };
  number("bl", d.bl);
  number("br", d.br);
  boolean("bs", d.bs);
  if (d.cid) text("cid", d.cid->view());
  number("d", d.d);
  number("dl", d.dl);
  number("mtp", d.mtp);
  if (d.nor) text("nor", d.nor->view());
  if (d.nrr) text("nrr", d.nrr->view());
  append_token(out, "ot", d.ot, {"m", "a", "v", "av", "i", "c", "tt", "k", "o"});
  if (d.pr) {
    char buf[64];
    const double whole = std::floor(*d.pr);
    if (whole == *d.pr && whole < 1e15) {
      std::snprintf(buf, sizeof buf, "%.0f", whole);
    } else {
      std::snprintf(buf, sizeof buf, "%.3f", *d.pr);
    }
    out += std::string("pr=") + buf + ",";
  }
  number("rtp", d.rtp);
  append_token(out, "sf", d.sf, {"d", "h", "s", "o"});
  if (d.sid) text("sid", d.sid->view());
  append_token(out, "st", d.st, {"v", "l"});
  boolean("su", d.su);
  number("tb", d.tb);
  number("v", d.v);
  if (!out.empty()) out.pop_back();
  return out;
}

std::string percent_encode(std::string_view s, bool plus_for_space) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (plus_for_space && plain) {
      out += ch;
    } else if (plus_for_space && c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

void check_query_equals_header(std::string_view header) {
  CmcdSources as_header;
  as_header.request = header;
  const CmcdReport expected = sg::gateway::parse_cmcd(as_header);
  for (const bool plus : {false, true}) {
    const std::string encoded = percent_encode(header, plus);
    if (encoded.size() > sg::gateway::kCmcdMaxSourceBytes) continue;
    CmcdSources as_query;
    as_query.query = encoded;
    if (!same_report(sg::gateway::parse_cmcd(as_query), expected)) {
      fail("a header read as a percent-encoded query gives another report");
    }
  }
}

void run(std::string_view data) {
  std::optional<std::string_view> parts[5];
  std::size_t count = 0;
  while (count < 5) {
    const auto split = data.find('\xff');
    parts[count++] = data.substr(0, split);
    if (split == std::string_view::npos) break;
    data.remove_prefix(split + 1);
  }
  const sg::gateway::CmcdQueryParam param = sg::gateway::find_cmcd_query(*parts[0]);
  CmcdSources s;
  if (param.count > 0) s.query = param.value;
  s.repeated = param.count > 1;
  s.request = parts[1];
  s.object = parts[2];
  s.status = parts[3];
  s.session = parts[4];

  const CmcdReport r = sg::gateway::parse_cmcd(s);
  check_values(r);
  if (!same_report(r, sg::gateway::parse_cmcd(s))) fail("the same sources gave another report");

  const std::string again = canonical(r.data);
  CmcdSources back;
  back.session = again;
  const CmcdReport reread = sg::gateway::parse_cmcd(back);
  if (reread.malformed() || !same_data(reread.data, r.data)) {
    std::fprintf(stderr, "canonical: %s\n", again.c_str());
    fail("the kept data written back does not read back the same");
  }
  for (std::size_t i = 1; i < count; ++i) check_query_equals_header(*parts[i]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 1 << 14) return 0;
  try {
    run(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_cmcd: exception escaped: %s\n", e.what());
    std::abort();
  }
  return 0;
}
