#include "util/json.hpp"
#include "util/escape.hpp"
#include "util/text.hpp"
#include "util/utf8.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <system_error>

namespace cshelve::util {
namespace {

constexpr EscapeLetter kJsonEscapes[] = {{'"', '"'},  {'\\', '\\'}, {'/', '/'},  {'b', '\b'},
                                         {'f', '\f'}, {'n', '\n'},  {'r', '\r'}, {'t', '\t'}};

}  // namespace

const char* json_kind_name(JsonValue::Kind kind) noexcept {
  switch (kind) {
    case JsonValue::Kind::null: return "null";
    case JsonValue::Kind::boolean: return "boolean";
    case JsonValue::Kind::number: return "number";
    case JsonValue::Kind::string: return "string";
    case JsonValue::Kind::array: return "array";
    case JsonValue::Kind::object: return "object";
  }
  return "value";
}

class JsonParser {
 public:
  JsonParser(std::string_view text, const JsonLimits& limits) : text_(text), limits_(limits) {}

  JsonValue document() {
    skip_space();
    if (limits_.object_only && peek() != '{') fail("expected an object");
    JsonValue result;
    value(0, result);
    skip_space();
    if (pos_ != text_.size()) fail(util::concat({"unexpected text after the ", json_kind_name(result.kind_)}));
    return result;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw JsonError(util::concat({"malformed JSON at byte ", std::to_string(pos_), ": ", why}));
  }

  int peek() const { return pos_ < text_.size() ? static_cast<unsigned char>(text_[pos_]) : -1; }

  void skip_space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  void expect(char c) {
    if (peek() != static_cast<unsigned char>(c)) fail(util::concat({"expected '", std::string_view(&c, 1), "'"}));
    ++pos_;
  }

  void literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) fail("unknown literal");
    pos_ += word.size();
  }

  // `depth` counts the arrays and objects around this value.
  void value(std::size_t depth, JsonValue& out) {
    const int c = peek();
    if (c == '"') {
      out.kind_ = JsonValue::Kind::string;
      out.text_ = string();
    } else if (c == '{') {
      object(depth, out);
    } else if (c == '[') {
      array(depth, out);
    } else if (c == 't') {
      literal("true");
      out.kind_ = JsonValue::Kind::boolean;
      out.text_ = "true";
    } else if (c == 'f') {
      literal("false");
      out.kind_ = JsonValue::Kind::boolean;
      out.text_ = "false";
    } else if (c == 'n') {
      literal("null");
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      out.kind_ = JsonValue::Kind::number;
      out.text_ = number();
    } else {
      fail("expected a value");
    }
  }

  // The elements of an array or object: nothing, or elements separated by commas, up to `close`.
  template <class ReadElement>
  void elements(std::size_t depth, char open, char close, ReadElement read_element) {
    if (depth >= limits_.max_depth) fail("nested too deeply");
    expect(open);
    skip_space();
    if (peek() == close) {
      ++pos_;
      return;
    }
    for (;;) {
      skip_space();
      read_element();
      skip_space();
      if (peek() != ',') break;
      ++pos_;
    }
    expect(close);
  }

  void object(std::size_t depth, JsonValue& out) {
    out.kind_ = JsonValue::Kind::object;
    elements(depth, '{', '}', [&] {
      if (peek() != '"') fail("expected a member name");
      std::string name = string();
      skip_space();
      expect(':');
      skip_space();
      out.members_.emplace_back(std::move(name), JsonValue());
      value(depth + 1, out.members_.back().second);
    });
    refuse_duplicates(out.members_);
  }

  // Sorting pointers costs n log n however many members there are, where comparing each pair
  // would let a large hostile object cost n squared.
  void refuse_duplicates(const JsonValue::Members& members) const {
    if (members.size() < 2) return;
    std::vector<const std::string*> names;
    names.reserve(members.size());
    for (const auto& member : members) names.push_back(&member.first);
    std::sort(names.begin(), names.end(), [](const std::string* a, const std::string* b) { return *a < *b; });
    for (std::size_t i = 1; i < names.size(); ++i) {
      if (*names[i] == *names[i - 1]) fail("duplicate member");
    }
  }

  void array(std::size_t depth, JsonValue& out) {
    out.kind_ = JsonValue::Kind::array;
    elements(depth, '[', ']', [&] {
      out.items_.emplace_back();
      value(depth + 1, out.items_.back());
    });
  }

  std::string number() {
    const std::size_t start = pos_;
    const auto digits = [&] {
      const std::size_t from = pos_;
      while (peek() >= '0' && peek() <= '9') ++pos_;
      if (pos_ == from) fail("expected a digit");
    };
    if (peek() == '-') ++pos_;
    if (peek() == '0') {
      ++pos_;  // a leading zero stands alone: "01" ends the number after the 0
    } else {
      digits();
    }
    if (peek() == '.') {
      ++pos_;
      digits();
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      digits();
    }
    return std::string(text_.substr(start, pos_ - start));
  }

  std::uint32_t hex4() {
    if (pos_ + 4 > text_.size()) fail("truncated \\u escape");
    std::uint32_t code = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      code <<= 4;
      if (c >= '0' && c <= '9')
        code |= static_cast<std::uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        code |= static_cast<std::uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        code |= static_cast<std::uint32_t>(c - 'A' + 10);
      else
        fail("bad \\u escape");
    }
    return code;
  }

  // One UTF-8 sequence, checked (no overlong forms, no surrogates, nothing above U+10FFFF).
  void utf8(std::string& out) {
    const auto lead = static_cast<unsigned char>(text_[pos_]);
    std::size_t length = 0;
    std::uint32_t code = 0;
    std::uint32_t minimum = 0;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2, code = lead & 0x1Fu, minimum = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3, code = lead & 0x0Fu, minimum = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4, code = lead & 0x07u, minimum = 0x10000;
    } else {
      fail("invalid UTF-8");
    }
    if (pos_ + length > text_.size()) fail("truncated UTF-8");
    for (std::size_t i = 1; i < length; ++i) {
      const auto next = static_cast<unsigned char>(text_[pos_ + i]);
      if ((next & 0xC0) != 0x80) fail("invalid UTF-8");
      code = (code << 6) | (next & 0x3Fu);
    }
    if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) fail("invalid UTF-8");
    out.append(text_.substr(pos_, length));
    pos_ += length;
  }

  // The code point of a \u escape, after its "\u": a surrogate pair is read as one code point.
  void unicode_escape(std::string& out) {
    std::uint32_t code = hex4();
    if (code >= 0xD800 && code <= 0xDBFF) {
      const std::size_t after_high = pos_;
      std::uint32_t low = 0;
      if (text_.substr(pos_, 2) == "\\u") {
        pos_ += 2;
        low = hex4();
      }
      if (low >= 0xDC00 && low <= 0xDFFF) {
        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
      } else if (limits_.lone_surrogates) {
        pos_ = after_high;  // what follows is read on its own
      } else {
        fail("lone surrogate");
      }
    } else if (code >= 0xDC00 && code <= 0xDFFF && !limits_.lone_surrogates) {
      fail("lone surrogate");
    }
    append_utf8(out, code);
  }

  std::string string() {
    expect('"');
    std::string out;
    for (;;) {
      if (pos_ >= text_.size()) fail("unterminated string");
      const auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) fail("control character in a string");
      if (c >= 0x80) {
        utf8(out);
        continue;
      }
      ++pos_;
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      if (pos_ >= text_.size()) fail("unterminated string");
      const char escape = text_[pos_++];
      if (const auto byte = unescape_letter(kJsonEscapes, escape)) {
        out += *byte;
      } else if (escape == 'u') {
        unicode_escape(out);
      } else {
        fail("unknown escape");
      }
    }
  }

  std::string_view text_;
  const JsonLimits& limits_;
  std::size_t pos_ = 0;
};

namespace {

[[noreturn]] void wrong_kind(JsonValue::Kind wanted, JsonValue::Kind got) {
  throw JsonError(util::concat(
      {"JSON value is ", got == JsonValue::Kind::array || got == JsonValue::Kind::object ? "an " : "a ",
       json_kind_name(got), ", not ",
       wanted == JsonValue::Kind::array || wanted == JsonValue::Kind::object ? "an " : "a ", json_kind_name(wanted)}));
}

// `value` itself, or a JsonError when it is not of kind `wanted`.
const JsonValue& checked(const JsonValue& value, JsonValue::Kind wanted) {
  if (value.kind() != wanted) wrong_kind(wanted, value.kind());
  return value;
}

}  // namespace

bool JsonValue::as_bool() const { return checked(*this, Kind::boolean).text_ == "true"; }

const std::string& JsonValue::as_string() const { return checked(*this, Kind::string).text_; }

const JsonValue::Items& JsonValue::items() const { return checked(*this, Kind::array).items_; }

const JsonValue::Members& JsonValue::members() const { return checked(*this, Kind::object).members_; }

const std::string& JsonValue::number_text() const { return checked(*this, Kind::number).text_; }

bool JsonValue::is_integer() const { return number_text().find_first_of(".eE") == std::string::npos; }

std::int64_t JsonValue::as_int64() const {
  std::int64_t result = 0;
  const std::string& text = number_text();
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), result);
  if (error != std::errc() || end != text.data() + text.size()) {
    throw JsonError(util::concat({"JSON number ", text.substr(0, 64), " is not an integer within 64 bits"}));
  }
  return result;
}

namespace {

// Whether a number that does not fit a double is too small (rather than too large): its first
// significant digit lies right of the decimal point. The exponent saturates, so any length of
// digits is safe.
bool underflows(const std::string& text) {
  std::size_t i = text[0] == '-' ? 1 : 0;
  long long place = -1;  // the decimal place of the first nonzero digit, relative to the point
  long long integer_digits = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (place == -1 && text[i] != '0') place = integer_digits;
    ++integer_digits;
  }
  long long magnitude = place >= 0 ? integer_digits - place - 1 : 0;
  if (i < text.size() && text[i] == '.') {
    for (long long j = 1; ++i < text.size() && text[i] >= '0' && text[i] <= '9'; ++j) {
      if (place == -1 && text[i] != '0') {
        place = 0;
        magnitude = -j;
      }
    }
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    const bool negative = text[++i] == '-';
    if (text[i] == '+' || text[i] == '-') ++i;
    long long exponent = 0;
    for (; i < text.size(); ++i) exponent = std::min(exponent * 10 + (text[i] - '0'), 1000000LL);
    magnitude += negative ? -exponent : exponent;
  }
  return magnitude < 0;
}

}  // namespace

double JsonValue::as_double() const {
  const std::string& text = number_text();
  double result = 0;
  // from_chars reads the same grammar in every locale, where strtod follows LC_NUMERIC.
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), result);
  if (error == std::errc::result_out_of_range && underflows(text)) return text[0] == '-' ? -0.0 : 0.0;
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(result)) {
    throw JsonError(util::concat({"JSON number ", text.substr(0, 64), " is out of the range of a double"}));
  }
  return result;
}

const JsonValue* JsonValue::find(std::string_view name) const noexcept {
  if (kind_ != Kind::object) return nullptr;
  for (const auto& member : members_) {
    if (member.first == name) return &member.second;
  }
  return nullptr;
}

const JsonValue& JsonValue::at(std::string_view name) const {
  const JsonValue* found = find(name);
  if (found == nullptr) {
    if (kind_ != Kind::object) wrong_kind(Kind::object, kind_);
    throw JsonError(util::concat({"JSON object has no member '", name, "'"}));
  }
  return *found;
}

JsonValue parse_json(std::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_size) {
    throw JsonError(util::concat({"JSON of ", std::to_string(text.size()), " bytes, more than the ",
                                  std::to_string(limits.max_size), " allowed"}));
  }
  return JsonParser(text, limits).document();
}

}  // namespace cshelve::util
