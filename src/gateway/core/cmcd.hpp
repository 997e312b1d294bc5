// CMCD: the Common Media Client Data a player sends with each request (CTA-5004, version 1),
// read strictly and cheaply by the gateway.
//
// Where it comes from. A player sends one payload either as the query parameter `CMCD=`
// (the whole payload URL-encoded, application/x-www-form-urlencoded: `%XX` and `+` for a
// space) or split over four header fields, CMCD-Request, CMCD-Object, CMCD-Status and
// CMCD-Session (not URL-encoded). A payload is a Structured Field dictionary (RFC 8941):
// `key[=value]` members separated by `,` with optional spaces or tabs around the comma;
// a Boolean true is the key alone (`bs`), false is `?0` (`?1` is true spelled out).
// Values are Integer (`-`? up to 15 digits), Decimal (up to 12 digits `.` up to 3 digits),
// String (`"..."`, printable ASCII, `\"` and `\\` the only escapes), Token (`v`, `av`) or
// Boolean. Keys are case-sensitive; upper case is accepted (RFC 8941 keys are lower case,
// but CTA-5004's own custom-key example is camelCase) and never matches a reserved key. The
// spec asks for alphabetical order (SHOULD), so order is not checked.
//
// What is kept: the version-1 keys (CmcdData). Keys we do not know, reserved or custom
// (`com.example-key`), are skipped after their value is checked to be a valid bare item,
// and counted (future versions and custom keys are legal). Not supported: inner lists and
// parameters (CMCD version 2 syntax) and byte sequences, which make the payload malformed.
//
// Malformed input is never an error for the viewer: parse_cmcd() does not throw, and a
// problem is reported in CmcdReport (the first problem and how many) for the caller to count.
//   - A syntax error (bad key, bad value syntax, a bad `%` escape, an unterminated string,
//     an empty member or trailing comma, parameters or an inner list) drops that whole
//     source (the query or that one header), as RFC 8941 drops a field that fails to parse.
//   - A known key with a value of the wrong type, outside its range (negative numbers, an
//     unknown token, a bad `nrr` range) or longer than its limit is dropped alone.
//   - A key given twice (in one source or across sources) keeps its first value.
//   - A source longer than kCmcdMaxSourceBytes is not read at all.
// Cost: one pass over each source, no heap allocation (strings are bounded in-place
// buffers), no exceptions. Pure; thread-safe (no shared state).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sg::gateway {

// Longest source read, as received (still URL-encoded for the query). hls.js sends ~300.
inline constexpr std::size_t kCmcdMaxSourceBytes = 4096;
// CTA-5004: cid and sid are at most 64 characters.
inline constexpr std::size_t kCmcdMaxIdChars = 64;
// Our limits where the spec states none: the next object's relative URL (it carries our
// playback token, ~150 characters) and the next range (two 15-digit integers and `-`).
inline constexpr std::size_t kCmcdMaxNorChars = 1024;
inline constexpr std::size_t kCmcdMaxNrrChars = 64;

// ot: the media type of the object requested.
enum class CmcdObjectType : std::uint8_t {
  kManifest,   // m
  kAudio,      // a
  kVideo,      // v
  kMuxed,      // av
  kInit,       // i
  kCaption,    // c
  kTimedText,  // tt
  kKey,        // k
  kOther,      // o
};
// sf: the streaming format.
enum class CmcdStreamingFormat : std::uint8_t { kDash, kHls, kSmooth, kOther };  // d h s o
// st: the stream type.
enum class CmcdStreamType : std::uint8_t { kVod, kLive };  // v l

// A string value of at most N characters, stored in place (the payload's escapes removed).
template <std::size_t N>
class CmcdText {
 public:
  std::string_view view() const { return {chars_.data(), size_}; }
  // False (and unchanged) when `s` is longer than N.
  bool assign(std::string_view s) {
    if (s.size() > N) return false;
    for (std::size_t i = 0; i < s.size(); ++i) chars_[i] = s[i];
    size_ = s.size();
    return true;
  }

 private:
  std::array<char, N> chars_{};
  std::size_t size_ = 0;
};

// The version-1 keys, named as on the wire; absent when not sent (or dropped as malformed).
// Numbers are never negative.
struct CmcdData {
  // CMCD-Object
  std::optional<std::int64_t> br;  // encoded bitrate of the object, kbps
  std::optional<std::int64_t> d;   // object duration, ms
  std::optional<CmcdObjectType> ot;
  std::optional<std::int64_t> tb;  // top bitrate the client may play, kbps
  // CMCD-Request
  std::optional<std::int64_t> bl;                 // buffer length, ms
  std::optional<std::int64_t> dl;                 // deadline: ms until the buffer would run dry
  std::optional<std::int64_t> mtp;                // measured throughput, kbps
  std::optional<CmcdText<kCmcdMaxNorChars>> nor;  // next object's URL, relative, as sent
  std::optional<CmcdText<kCmcdMaxNrrChars>> nrr;  // next range: "a-b", "a-" or "-n"
  std::optional<bool> su;                         // startup: needed urgently
  // CMCD-Status
  std::optional<bool> bs;           // buffer starved since the previous request
  std::optional<std::int64_t> rtp;  // requested maximum throughput, kbps
  // CMCD-Session
  std::optional<CmcdText<kCmcdMaxIdChars>> cid;  // content id
  std::optional<double> pr;                      // playback rate (1 = real time)
  std::optional<CmcdStreamingFormat> sf;
  std::optional<CmcdText<kCmcdMaxIdChars>> sid;  // session id
  std::optional<CmcdStreamType> st;
  std::optional<std::int64_t> v;  // version; absent means 1
};

enum class CmcdProblem : std::uint8_t {
  kNone,
  kSourceTooLong,       // a source over kCmcdMaxSourceBytes (not read)
  kBadPercentEncoding,  // `%` not followed by two hex digits (query)
  kBadSyntax,           // not an RFC 8941 dictionary of bare items
  kWrongType,           // a known key with a value of another type
  kBadValue,            // a known key's value out of range or not one of its tokens
  kValueTooLong,        // a string over its key's limit
  kDuplicateKey,        // a known key sent twice
  kRepeatedSource,      // two CMCD parameters, or a CMCD header field given twice
};
const char* cmcd_problem_name(CmcdProblem problem);

// What a request carried (views into the request; they must outlive the call). Sources absent from
// the request stay nullopt.
struct CmcdSources {
  std::optional<std::string_view> query;    // the CMCD parameter's raw value, URL-encoded
  std::optional<std::string_view> request;  // CMCD-Request field value
  std::optional<std::string_view> object;   // CMCD-Object
  std::optional<std::string_view> status;   // CMCD-Status
  std::optional<std::string_view> session;  // CMCD-Session
  // The request had one of them more than once: the first is read, and it is a problem.
  bool repeated = false;

  bool any() const { return query || request || object || status || session; }
};

struct CmcdReport {
  CmcdData data;
  CmcdProblem first_problem = CmcdProblem::kNone;
  std::uint32_t problems = 0;      // every problem found, sources and keys
  std::uint32_t skipped_keys = 0;  // well-formed keys we do not use (unknown, custom)

  bool malformed() const { return problems != 0; }
};

// Reads every present source into one report. Never throws.
CmcdReport parse_cmcd(const CmcdSources& sources);

// The CMCD parameter in a request target (`/path?a=1&CMCD=...`): its raw value and how many
// times the name occurs (0: absent; more than 1 is malformed, and the first is used). Only
// the name `CMCD` exactly, as players send it. A fragment (`#...`) ends the query.
struct CmcdQueryParam {
  std::string_view value;
  std::uint32_t count = 0;
};
CmcdQueryParam find_cmcd_query(std::string_view target);

}  // namespace sg::gateway
