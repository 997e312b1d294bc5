// The CMCD reader: an RFC 8941 dictionary parser restricted to what CTA-5004 version 1 uses,
// reading the query form through an on-the-fly URL decoder so nothing is copied first.
#include "gateway/core/cmcd.hpp"

#include <array>

namespace sg::gateway {
namespace {

constexpr int kEnd = -1;        // end of the source
constexpr int kBadEscape = -2;  // a `%` not followed by two hex digits

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One source, one decoded character at a time. For the query form `%XX` is one character
// and `+` a space (application/x-www-form-urlencoded, which URLSearchParams writes).
class SourceReader {
 public:
  SourceReader(std::string_view raw, bool url_encoded) : raw_(raw), url_encoded_(url_encoded) {}

  int peek() {
    if (pos_ >= raw_.size()) return kEnd;
    const char c = raw_[pos_];
    if (!url_encoded_) return static_cast<unsigned char>(c);
    if (c == '+') return ' ';
    if (c != '%') return static_cast<unsigned char>(c);
    const int hi = pos_ + 2 < raw_.size() ? hex_value(raw_[pos_ + 1]) : -1;
    const int lo = hi >= 0 ? hex_value(raw_[pos_ + 2]) : -1;
    if (lo < 0) {
      bad_escape_ = true;
      return kBadEscape;
    }
    return hi * 16 + lo;
  }
  void advance() {
    if (pos_ >= raw_.size()) return;
    pos_ += url_encoded_ && raw_[pos_] == '%' ? 3 : 1;
  }
  bool bad_escape() const { return bad_escape_; }

 private:
  std::string_view raw_;
  std::size_t pos_ = 0;
  bool url_encoded_;
  bool bad_escape_ = false;
};

bool is_digit(int c) { return c >= '0' && c <= '9'; }
bool is_lcalpha(int c) { return c >= 'a' && c <= 'z'; }
bool is_alpha(int c) { return is_lcalpha(c) || (c >= 'A' && c <= 'Z'); }
// RFC 8941 keys are lower case; CTA-5004 calls keys case-sensitive and its own custom-key
// example is camelCase, so upper case is read too (and matches no reserved key).
bool is_key_start(int c) { return is_alpha(c) || c == '*'; }
bool is_key_char(int c) {
  return is_alpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.' || c == '*';
}
// RFC 9110 tchar, plus ":" and "/" (RFC 8941 sf-token).
bool is_token_char(int c) {
  if (is_alpha(c) || is_digit(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
    case ':':
    case '/':
      return true;
    default:
      return false;
  }
}

enum class ItemType : std::uint8_t { kInteger, kDecimal, kString, kToken, kBoolean };

// A parsed bare item. String and token characters live in the parser's scratch buffer;
// `text_too_long` says they did not all fit (the value is then longer than any limit).
struct Item {
  ItemType type = ItemType::kBoolean;
  std::int64_t integer = 0;
  double decimal = 0;
  bool boolean = true;
  std::string_view text;
  bool text_too_long = false;
};

enum class Key : std::uint8_t {
  kBr,
  kBl,
  kBs,
  kCid,
  kD,
  kDl,
  kMtp,
  kNor,
  kNrr,
  kOt,
  kPr,
  kRtp,
  kSf,
  kSid,
  kSt,
  kSu,
  kTb,
  kV,
  kUnknown,
};

struct KeyName {
  std::string_view name;
  Key key;
};
constexpr std::array<KeyName, 18> kKeys{{
    {"bl", Key::kBl},
    {"br", Key::kBr},
    {"bs", Key::kBs},
    {"cid", Key::kCid},
    {"d", Key::kD},
    {"dl", Key::kDl},
    {"mtp", Key::kMtp},
    {"nor", Key::kNor},
    {"nrr", Key::kNrr},
    {"ot", Key::kOt},
    {"pr", Key::kPr},
    {"rtp", Key::kRtp},
    {"sf", Key::kSf},
    {"sid", Key::kSid},
    {"st", Key::kSt},
    {"su", Key::kSu},
    {"tb", Key::kTb},
    {"v", Key::kV},
}};

Key lookup_key(std::string_view name) {
  for (const auto& k : kKeys) {
    if (k.name == name) return k.key;
  }
  return Key::kUnknown;
}

std::optional<CmcdObjectType> object_type(std::string_view t) {
  if (t == "m") return CmcdObjectType::kManifest;
  if (t == "a") return CmcdObjectType::kAudio;
  if (t == "v") return CmcdObjectType::kVideo;
  if (t == "av") return CmcdObjectType::kMuxed;
  if (t == "i") return CmcdObjectType::kInit;
  if (t == "c") return CmcdObjectType::kCaption;
  if (t == "tt") return CmcdObjectType::kTimedText;
  if (t == "k") return CmcdObjectType::kKey;
  if (t == "o") return CmcdObjectType::kOther;
  return std::nullopt;
}
std::optional<CmcdStreamingFormat> streaming_format(std::string_view t) {
  if (t == "d") return CmcdStreamingFormat::kDash;
  if (t == "h") return CmcdStreamingFormat::kHls;
  if (t == "s") return CmcdStreamingFormat::kSmooth;
  if (t == "o") return CmcdStreamingFormat::kOther;
  return std::nullopt;
}
std::optional<CmcdStreamType> stream_type(std::string_view t) {
  if (t == "v") return CmcdStreamType::kVod;
  if (t == "l") return CmcdStreamType::kLive;
  return std::nullopt;
}

// "a-b" (a <= b), "a-" or "-n": at most 15 digits each.
bool is_range(std::string_view s) {
  const auto dash = s.find('-');
  if (dash == std::string_view::npos) return false;
  const std::string_view a = s.substr(0, dash);
  const std::string_view b = s.substr(dash + 1);
  if (a.empty() && b.empty()) return false;
  for (const std::string_view part : {a, b}) {
    if (part.size() > 15) return false;
    for (const char c : part) {
      if (!is_digit(c)) return false;
    }
  }
  if (a.empty() || b.empty()) return true;
  // Same digit count after leading zeros decide the order; compare as numbers.
  std::int64_t x = 0;
  std::int64_t y = 0;
  for (const char c : a) x = x * 10 + (c - '0');
  for (const char c : b) y = y * 10 + (c - '0');
  return x <= y;
}

void note(CmcdReport& report, CmcdProblem problem) {
  if (report.problems == 0) report.first_problem = problem;
  ++report.problems;
}

// Parses one source into a report. Keys seen (in this source or earlier ones) are bits of
// `seen`, so a repeated key is found even when its first value was dropped.
class DictParser {
 public:
  DictParser(SourceReader& in, CmcdReport& report, std::uint32_t& seen)
      : in_(in), report_(report), seen_(seen) {}

  // False on a syntax error (the caller drops the source); key problems are noted.
  bool parse() {
    while (in_.peek() == ' ') in_.advance();
    if (in_.peek() == kEnd) return true;
    for (;;) {
      if (!parse_member()) return false;
      skip_ows();
      if (in_.peek() == kEnd) return true;
      if (in_.peek() != ',') return false;
      in_.advance();
      skip_ows();
      if (in_.peek() == kEnd) return false;  // a trailing comma
    }
  }

 private:
  static constexpr std::size_t kLongestKnownKey = 3;
  static constexpr std::size_t kScratchChars = kCmcdMaxNorChars;

  void skip_ows() {
    while (in_.peek() == ' ' || in_.peek() == '\t') in_.advance();
  }

  bool parse_member() {
    std::array<char, kLongestKnownKey> name{};
    std::size_t length = 0;
    int c = in_.peek();
    if (!is_key_start(c)) return false;
    for (; is_key_char(c); c = in_.peek()) {
      if (length < name.size()) name[length] = static_cast<char>(c);
      ++length;
      in_.advance();
    }
    const Key key = length <= name.size() ? lookup_key({name.data(), length}) : Key::kUnknown;
    Item item;  // a key alone is Boolean true
    if (in_.peek() == '=') {
      in_.advance();
      if (!parse_item(item)) return false;
    }
    if (in_.peek() == ';') return false;  // parameters: not in CMCD version 1
    if (key == Key::kUnknown) {
      ++report_.skipped_keys;
      return true;
    }
    const std::uint32_t bit = 1u << static_cast<unsigned>(key);
    if ((seen_ & bit) != 0) {
      note(report_, CmcdProblem::kDuplicateKey);
      return true;
    }
    seen_ |= bit;
    const CmcdProblem problem = apply(key, item, report_.data);
    if (problem != CmcdProblem::kNone) note(report_, problem);
    return true;
  }

  bool parse_item(Item& item) {
    const int c = in_.peek();
    if (c == '-' || is_digit(c)) return parse_number(item);
    if (c == '"') return parse_string(item);
    if (is_alpha(c) || c == '*') return parse_token(item);
    if (c == '?') {
      in_.advance();
      const int b = in_.peek();
      if (b != '0' && b != '1') return false;
      in_.advance();
      item.type = ItemType::kBoolean;
      item.boolean = b == '1';
      return true;
    }
    return false;  // inner lists, byte sequences, dates, display strings: not in version 1
  }

  // RFC 8941 4.2.4: Integer `-`? 1*15DIGIT; Decimal `-`? 1*12DIGIT "." 1*3DIGIT.
  bool parse_number(Item& item) {
    bool negative = false;
    if (in_.peek() == '-') {
      negative = true;
      in_.advance();
    }
    std::int64_t whole = 0;
    int digits = 0;
    for (; is_digit(in_.peek()); in_.advance()) {
      if (++digits > 15) return false;
      whole = whole * 10 + (in_.peek() - '0');
    }
    if (digits == 0) return false;
    if (in_.peek() != '.') {
      item.type = ItemType::kInteger;
      item.integer = negative ? -whole : whole;
      return true;
    }
    if (digits > 12) return false;
    in_.advance();
    std::int64_t fraction = 0;
    int scale = 1;
    int fraction_digits = 0;
    for (; is_digit(in_.peek()); in_.advance()) {
      if (++fraction_digits > 3) return false;
      fraction = fraction * 10 + (in_.peek() - '0');
      scale *= 10;
    }
    if (fraction_digits == 0) return false;
    const double value = static_cast<double>(whole) + static_cast<double>(fraction) / scale;
    item.type = ItemType::kDecimal;
    item.decimal = negative ? -value : value;
    return true;
  }

  void keep(int c, Item& item) {
    if (scratch_length_ < scratch_.size()) {
      scratch_[scratch_length_++] = static_cast<char>(c);
    } else {
      item.text_too_long = true;
    }
  }

  // RFC 8941 4.2.5: printable ASCII between quotes; `\"` and `\\` the only escapes.
  bool parse_string(Item& item) {
    in_.advance();
    scratch_length_ = 0;
    for (;;) {
      int c = in_.peek();
      if (c == kEnd || c == kBadEscape) return false;  // unterminated
      in_.advance();
      if (c == '"') break;
      if (c == '\\') {
        c = in_.peek();
        if (c != '"' && c != '\\') return false;
        in_.advance();
      } else if (c < 0x20 || c > 0x7e) {
        return false;
      }
      keep(c, item);
    }
    item.type = ItemType::kString;
    item.text = {scratch_.data(), scratch_length_};
    return true;
  }

  // RFC 8941 4.2.6: (ALPHA / "*") *(tchar / ":" / "/").
  bool parse_token(Item& item) {
    scratch_length_ = 0;
    for (int c = in_.peek(); is_token_char(c); c = in_.peek()) {
      keep(c, item);
      in_.advance();
    }
    item.type = ItemType::kToken;
    item.text = {scratch_.data(), scratch_length_};
    return true;
  }

  static CmcdProblem apply(Key key, const Item& item, CmcdData& d);

  SourceReader& in_;
  CmcdReport& report_;
  std::uint32_t& seen_;
  std::array<char, kScratchChars> scratch_{};
  std::size_t scratch_length_ = 0;
};

CmcdProblem set_integer(std::optional<std::int64_t>& slot, const Item& item, std::int64_t minimum) {
  if (item.type != ItemType::kInteger) return CmcdProblem::kWrongType;
  if (item.integer < minimum) return CmcdProblem::kBadValue;
  slot = item.integer;
  return CmcdProblem::kNone;
}

CmcdProblem set_boolean(std::optional<bool>& slot, const Item& item) {
  if (item.type != ItemType::kBoolean) return CmcdProblem::kWrongType;
  slot = item.boolean;
  return CmcdProblem::kNone;
}

template <std::size_t N>
CmcdProblem set_text(std::optional<CmcdText<N>>& slot, const Item& item) {
  if (item.type != ItemType::kString) return CmcdProblem::kWrongType;
  CmcdText<N> text;
  if (item.text_too_long || !text.assign(item.text)) return CmcdProblem::kValueTooLong;
  slot = text;
  return CmcdProblem::kNone;
}

template <class E, class Parse>
CmcdProblem set_token(std::optional<E>& slot, const Item& item, Parse parse) {
  if (item.type != ItemType::kToken) return CmcdProblem::kWrongType;
  const std::optional<E> value = parse(item.text);
  if (!value) return CmcdProblem::kBadValue;
  slot = value;
  return CmcdProblem::kNone;
}

CmcdProblem DictParser::apply(Key key, const Item& item, CmcdData& d) {
  switch (key) {
    case Key::kBr:
      return set_integer(d.br, item, 0);
    case Key::kBl:
      return set_integer(d.bl, item, 0);
    case Key::kBs:
      return set_boolean(d.bs, item);
    case Key::kCid:
      return set_text(d.cid, item);
    case Key::kD:
      return set_integer(d.d, item, 0);
    case Key::kDl:
      return set_integer(d.dl, item, 0);
    case Key::kMtp:
      return set_integer(d.mtp, item, 0);
    case Key::kNor:
      return set_text(d.nor, item);
    case Key::kNrr: {
      if (item.type == ItemType::kString && !item.text_too_long && !is_range(item.text)) {
        return CmcdProblem::kBadValue;
      }
      return set_text(d.nrr, item);
    }
    case Key::kOt:
      return set_token(d.ot, item, object_type);
    case Key::kPr: {
      // A Decimal; an Integer is the same rate written without a fraction (hls.js: pr=2).
      if (item.type != ItemType::kDecimal && item.type != ItemType::kInteger) {
        return CmcdProblem::kWrongType;
      }
      const double rate =
          item.type == ItemType::kDecimal ? item.decimal : static_cast<double>(item.integer);
      if (rate < 0) return CmcdProblem::kBadValue;
      d.pr = rate;
      return CmcdProblem::kNone;
    }
    case Key::kRtp:
      return set_integer(d.rtp, item, 0);
    case Key::kSf:
      return set_token(d.sf, item, streaming_format);
    case Key::kSid:
      return set_text(d.sid, item);
    case Key::kSt:
      return set_token(d.st, item, stream_type);
    case Key::kSu:
      return set_boolean(d.su, item);
    case Key::kTb:
      return set_integer(d.tb, item, 0);
    case Key::kV:
      return set_integer(d.v, item, 1);
    case Key::kUnknown:
      break;
  }
  return CmcdProblem::kNone;
}

// Reads one source into `report`; on a syntax error restores what it held before.
void read_source(std::string_view raw, bool url_encoded, CmcdReport& report, std::uint32_t& seen) {
  if (raw.size() > kCmcdMaxSourceBytes) {
    note(report, CmcdProblem::kSourceTooLong);
    return;
  }
  const CmcdReport before = report;
  const std::uint32_t seen_before = seen;
  SourceReader in(raw, url_encoded);
  DictParser parser(in, report, seen);
  if (parser.parse()) return;
  report = before;
  seen = seen_before;
  note(report, in.bad_escape() ? CmcdProblem::kBadPercentEncoding : CmcdProblem::kBadSyntax);
}

}  // namespace

CmcdReport parse_cmcd(const CmcdSources& sources) {
  CmcdReport report;
  std::uint32_t seen = 0;
  if (sources.repeated) note(report, CmcdProblem::kRepeatedSource);
  if (sources.query) read_source(*sources.query, true, report, seen);
  for (const auto& header : {sources.request, sources.object, sources.status, sources.session}) {
    if (header) read_source(*header, false, report, seen);
  }
  return report;
}

CmcdQueryParam find_cmcd_query(std::string_view target) {
  CmcdQueryParam found;
  // A '?' after a '#' is part of the fragment (RFC 3986 3.5), not a query.
  const auto question = target.find_first_of("?#");
  if (question == std::string_view::npos || target[question] == '#') return found;
  std::string_view query = target.substr(question + 1);
  query = query.substr(0, query.find('#'));
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) != "CMCD") continue;
    if (found.count++ == 0) {
      found.value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    }
  }
  return found;
}

const char* cmcd_problem_name(CmcdProblem problem) {
  switch (problem) {
    case CmcdProblem::kNone:
      return "none";
    case CmcdProblem::kSourceTooLong:
      return "source_too_long";
    case CmcdProblem::kBadPercentEncoding:
      return "bad_percent_encoding";
    case CmcdProblem::kBadSyntax:
      return "bad_syntax";
    case CmcdProblem::kWrongType:
      return "wrong_type";
    case CmcdProblem::kBadValue:
      return "bad_value";
    case CmcdProblem::kValueTooLong:
      return "value_too_long";
    case CmcdProblem::kDuplicateKey:
      return "duplicate_key";
    case CmcdProblem::kRepeatedSource:
      return "repeated_source";
  }
  return "unknown";
}

}  // namespace sg::gateway
