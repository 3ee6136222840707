#include "json_values.hpp"

#include <cshelve/errors.hpp>

#include "util/hex.hpp"
#include "util/json.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>

namespace cshelve_cli {

#if CSHELVE_CLI_PYTHON_VALUES

namespace py = cshelve::py;
using cshelve::util::JsonValue;

namespace {

// Python refuses to convert longer decimal text to an int (sys.get_int_max_str_digits()), and the
// conversion here is quadratic: so is this tool.
constexpr std::size_t kMaxIntDigits = 4300;
constexpr std::int64_t kMicrosPerDay = 86400LL * 1000000;

[[noreturn]] void refuse(const std::string& where, const std::string& why) {
  throw JsonInputError("JSON value at " + where + ": " + why);
}

// --- Text forms ---------------------------------------------------------------------------------

const char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(const std::string& bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::uint32_t group = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) group |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) group |= static_cast<unsigned char>(bytes[i + 2]);
    out += kBase64[(group >> 18) & 63];
    out += kBase64[(group >> 12) & 63];
    out += i + 1 < bytes.size() ? kBase64[(group >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kBase64[group & 63] : '=';
  }
  return out;
}

// Standard base64 with its padding, nothing else (no white space, no URL alphabet).
bool unbase64(const std::string& text, std::string& out) {
  if (text.size() % 4 != 0) return false;
  const auto digit = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  out.clear();
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const int pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=' && text[i + 3] == '=') : 0;
    std::uint32_t group = 0;
    for (int k = 0; k < 4; ++k) {
      const int value = k >= 4 - pad ? 0 : digit(text[i + static_cast<std::size_t>(k)]);
      if (value < 0) return false;
      group = (group << 6) | static_cast<std::uint32_t>(value);
    }
    out += static_cast<char>(group >> 16);
    if (pad < 2) out += static_cast<char>((group >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(group & 0xFF);
    // Padding bits must be zero, so that each byte string has one text.
    if ((pad == 1 && (group & 0xFF) != 0) || (pad == 2 && (group & 0xFFFF) != 0)) return false;
  }
  return true;
}

// A double as Python's repr writes it: the shortest text that reads back the same, with ".0" or
// an exponent so that it reads back as a float; exponents outside -4 < e <= 16 in scientific form.
std::string float_text(double value) {
  char buffer[64];
  const auto written = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  std::string scientific(buffer, written.ptr);  // "-1.5e+16"
  std::string out;
  if (scientific[0] == '-') {
    out = "-";
    scientific.erase(0, 1);
  }
  const std::size_t e = scientific.find('e');
  std::string digits = scientific.substr(0, e);
  if (digits.size() > 1) digits.erase(1, 1);                    // the point
  const int point = std::atoi(scientific.c_str() + e + 1) + 1;  // digits are 0.DDD x 10^point
  const auto count = static_cast<int>(digits.size());
  if (point > -4 && point <= 16) {
    if (point <= 0) {
      out += "0." + std::string(static_cast<std::size_t>(-point), '0') + digits;
    } else if (point >= count) {
      out += digits + std::string(static_cast<std::size_t>(point - count), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<std::size_t>(point)) + "." + digits.substr(static_cast<std::size_t>(point));
    }
  } else {
    out += digits.substr(0, 1);
    if (count > 1) out += "." + digits.substr(1);
    const int exponent = point - 1;
    out += exponent < 0 ? "e-" : "e+";
    if (std::abs(exponent) < 10) out += '0';
    out += std::to_string(std::abs(exponent));
  }
  return out;
}

void append_quoted(std::string& out, const std::string& text) {
  out += '"';
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\b') {
      out += "\\b";
    } else if (c == '\f') {
      out += "\\f";
    } else if (c < 0x20 || (c == 0xED && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0xA0)) {
      // A control character, or a lone surrogate (kept as WTF-8), which JSON can only escape.
      std::uint32_t code = c;
      if (c == 0xED) {
        code = 0xD000 | ((static_cast<unsigned char>(text[i + 1]) & 0x3Fu) << 6) |
               (static_cast<unsigned char>(text[i + 2]) & 0x3Fu);
        i += 2;
      }
      char escape[8];
      const char* hex = "0123456789abcdef";
      escape[0] = '\\', escape[1] = 'u';
      for (int k = 0; k < 4; ++k) escape[2 + k] = hex[(code >> (12 - 4 * k)) & 0xF];
      out.append(escape, 6);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

std::string two(int value) {
  std::string out = std::to_string(value);
  return out.size() < 2 ? "0" + out : out;
}

std::string six(int value) {
  std::string out = std::to_string(value);
  return std::string(6 - std::min<std::size_t>(out.size(), 6), '0') + out;
}

std::string date_text(const py::Date& d) {
  std::string year = std::to_string(d.year);
  return std::string(4 - std::min<std::size_t>(year.size(), 4), '0') + year + "-" + two(d.month) + "-" + two(d.day);
}

// As Python's isoformat: HH:MM:SS, .ffffff when there are microseconds, then the offset as
// +HH:MM, with :SS and .ffffff when it has them.
std::string time_text(const py::Time& t) {
  std::string out = two(t.hour) + ":" + two(t.minute) + ":" + two(t.second);
  if (t.microsecond != 0) out += "." + six(t.microsecond);
  if (t.has_offset) {
    std::int64_t total =
        t.utc_offset.days * kMicrosPerDay + t.utc_offset.seconds * 1000000LL + t.utc_offset.microseconds;
    out += total < 0 ? '-' : '+';
    total = total < 0 ? -total : total;
    const auto seconds = static_cast<int>(total / 1000000);
    const auto micros = static_cast<int>(total % 1000000);
    out += two(seconds / 3600) + ":" + two(seconds / 60 % 60);
    if (seconds % 60 != 0 || micros != 0) out += ":" + two(seconds % 60);
    if (micros != 0) out += "." + six(micros);
  }
  return out;
}

std::string uuid_text(const py::Uuid& u) {
  const char* hex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex[u.bytes[i] >> 4];
    out += hex[u.bytes[i] & 0xF];
  }
  return out;
}

// --- Python value to JSON ----------------------------------------------------------------------

void append_float(std::string& out, double value) {
  if (std::isnan(value)) {
    out += R"({"$float": "nan"})";
  } else if (std::isinf(value)) {
    out += value > 0 ? R"({"$float": "inf"})" : R"({"$float": "-inf"})";
  } else {
    out += float_text(value);
  }
}

void append_json(std::string& out, const py::Value& value);

void append_tagged_items(std::string& out, const char* tag, const py::Items& items) {
  out += "{\"";
  out += tag;
  out += "\": [";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    append_json(out, items[i]);
  }
  out += "]}";
}

void append_tagged_text(std::string& out, const char* tag, const std::string& text) {
  out += "{\"";
  out += tag;
  out += "\": ";
  append_quoted(out, text);
  out += '}';
}

void append_dict(std::string& out, const py::Entries& entries) {
  bool string_keys = true;
  for (const auto& entry : entries) string_keys = string_keys && entry.first.is(py::Kind::str);
  if (string_keys) {
    out += '{';
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (i > 0) out += ", ";
      const std::string& key = entries[i].first.as_str();
      // A key that starts with '$' gets one more, so that no dict reads back as a tag.
      append_quoted(out, !key.empty() && key[0] == '$' ? "$" + key : key);
      out += ": ";
      append_json(out, entries[i].second);
    }
    out += '}';
    return;
  }
  out += "{\"$dict\": [";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) out += ", ";
    out += '[';
    append_json(out, entries[i].first);
    out += ", ";
    append_json(out, entries[i].second);
    out += ']';
  }
  out += "]}";
}

void append_json(std::string& out, const py::Value& value) {
  switch (value.kind()) {
    case py::Kind::none: out += "null"; break;
    case py::Kind::boolean: out += value.as_bool() ? "true" : "false"; break;
    case py::Kind::integer:
      if (value.fits_int64()) {
        out += std::to_string(value.as_int());
      } else {
        append_tagged_text(out, "$int", value.int_text());
      }
      break;
    case py::Kind::floating: append_float(out, value.as_float()); break;
    case py::Kind::complex: {
      const auto [real, imag] = value.as_complex();
      out += "{\"$complex\": [";
      append_float(out, real);
      out += ", ";
      append_float(out, imag);
      out += "]}";
      break;
    }
    case py::Kind::str: append_quoted(out, value.as_str()); break;
    case py::Kind::bytes: append_tagged_text(out, "$bytes", base64(value.as_bytes())); break;
    case py::Kind::bytearray: append_tagged_text(out, "$bytearray", base64(value.as_bytes())); break;
    case py::Kind::list: {
      out += '[';
      const py::Items& items = value.items();
      for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += ", ";
        append_json(out, items[i]);
      }
      out += ']';
      break;
    }
    case py::Kind::tuple: append_tagged_items(out, "$tuple", value.items()); break;
    case py::Kind::set: append_tagged_items(out, "$set", value.items()); break;
    case py::Kind::frozenset: append_tagged_items(out, "$frozenset", value.items()); break;
    case py::Kind::dict: append_dict(out, value.entries()); break;
    case py::Kind::date: append_tagged_text(out, "$date", date_text(value.as_date())); break;
    case py::Kind::time: append_tagged_text(out, "$time", time_text(value.as_time())); break;
    case py::Kind::datetime: {
      const py::DateTime& dt = value.as_datetime();
      append_tagged_text(out, "$datetime", date_text(dt.date) + "T" + time_text(dt.time));
      break;
    }
    case py::Kind::timedelta: {
      const py::TimeDelta& d = value.as_timedelta();
      out += "{\"$timedelta\": [" + std::to_string(d.days) + ", " + std::to_string(d.seconds) + ", " +
             std::to_string(d.microseconds) + "]}";
      break;
    }
    case py::Kind::decimal: append_tagged_text(out, "$decimal", value.as_decimal()); break;
    case py::Kind::uuid: append_tagged_text(out, "$uuid", uuid_text(value.as_uuid())); break;
  }
}

// --- JSON to a Python value --------------------------------------------------------------------

// Reads fixed-width decimal fields out of date and time text.
class TextCursor {
 public:
  explicit TextCursor(const std::string& text) : text_(text) {}
  bool at_end() const { return pos_ == text_.size(); }
  bool next_is(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  bool take(char c) {
    if (!next_is(c)) return false;
    ++pos_;
    return true;
  }
  // Exactly `width` digits, or -1.
  int number(std::size_t width) {
    if (pos_ + width > text_.size()) return -1;
    int value = 0;
    for (std::size_t i = 0; i < width; ++i) {
      const char c = text_[pos_ + i];
      if (c < '0' || c > '9') return -1;
      value = value * 10 + (c - '0');
    }
    pos_ += width;
    return value;
  }
  // One to six digits of a fraction of a second, as microseconds; -1 when none.
  int micros() {
    int value = 0;
    std::size_t count = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9' && count < 6) {
      value = value * 10 + (text_[pos_++] - '0');
      ++count;
    }
    if (count == 0) return -1;
    for (; count < 6; ++count) value *= 10;
    return value;
  }

 private:
  const std::string& text_;
  std::size_t pos_ = 0;
};

bool read_date(TextCursor& in, py::Date& d) {
  d.year = in.number(4);
  if (d.year < 1 || !in.take('-')) return false;
  d.month = in.number(2);
  if (d.month < 1 || d.month > 12 || !in.take('-')) return false;
  d.day = in.number(2);
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (d.year % 4 == 0 && d.year % 100 != 0) || d.year % 400 == 0;
  return d.day >= 1 && d.day <= kDays[d.month - 1] + (d.month == 2 && leap ? 1 : 0);
}

// HH:MM[:SS[.ffffff]] then an optional offset: Z, or +HH:MM[:SS[.ffffff]] strictly inside a day.
bool read_time(TextCursor& in, py::Time& t) {
  t.hour = in.number(2);
  if (t.hour < 0 || t.hour > 23 || !in.take(':')) return false;
  t.minute = in.number(2);
  if (t.minute < 0 || t.minute > 59) return false;
  if (in.take(':')) {
    t.second = in.number(2);
    if (t.second < 0 || t.second > 59) return false;
    if (in.take('.') && (t.microsecond = in.micros()) < 0) return false;
  }
  if (in.take('Z')) {
    t.has_offset = true;
    return in.at_end();
  }
  if (in.at_end()) return true;
  const bool negative = in.next_is('-');
  if (!in.take('+') && !in.take('-')) return false;
  const int hours = in.number(2);
  if (hours < 0 || hours > 23 || !in.take(':')) return false;
  const int minutes = in.number(2);
  if (minutes < 0 || minutes > 59) return false;
  int seconds = 0, micros = 0;
  if (in.take(':')) {
    seconds = in.number(2);
    if (seconds < 0 || seconds > 59) return false;
    if (in.take('.') && (micros = in.micros()) < 0) return false;
  }
  if (!in.at_end()) return false;
  std::int64_t total = ((hours * 60LL + minutes) * 60 + seconds) * 1000000 + micros;
  if (negative) total = -total;
  t.has_offset = true;
  // Normalized as Python keeps a timedelta: days may be negative, the rest not.
  const std::int64_t days = total < 0 ? -1 : 0;
  const std::int64_t rest = total - days * kMicrosPerDay;
  t.utc_offset = py::TimeDelta{static_cast<std::int32_t>(days), static_cast<std::int32_t>(rest / 1000000),
                               static_cast<std::int32_t>(rest % 1000000)};
  return true;
}

// What decimal.Decimal(text) reads, without the white space and underscores it also forgives.
bool decimal_text(const std::string& text) {
  std::size_t i = text.empty() || (text[0] != '+' && text[0] != '-') ? 0 : 1;
  std::string word;
  for (std::size_t k = i; k < text.size() && std::isalpha(static_cast<unsigned char>(text[k])); ++k) {
    word += static_cast<char>(std::tolower(static_cast<unsigned char>(text[k])));
  }
  if (word == "inf" || word == "infinity") return i + word.size() == text.size();
  if (word == "nan" || word == "snan") {
    for (i += word.size(); i < text.size(); ++i) {
      if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
    }
    return true;
  }
  std::size_t digits = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) ++digits;
  if (i < text.size() && text[i] == '.') {
    for (++i; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) ++digits;
  }
  if (digits == 0) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    const std::size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == start) return false;
  }
  return i == text.size();
}

bool uuid_from_text(const std::string& text, py::Uuid& u) {
  std::string hex;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.size() == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
      if (text[i] != '-') return false;
      continue;
    }
    hex += text[i];
  }
  if (hex.size() != 32) return false;
  for (std::size_t i = 0; i < 16; ++i) {
    const int high = cshelve::util::hex_value(hex[2 * i]);
    const int low = cshelve::util::hex_value(hex[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    u.bytes[i] = static_cast<std::uint8_t>(high * 16 + low);
  }
  return true;
}

// What Python can put in a set or use as a dict key.
bool hashable(const py::Value& v) {
  switch (v.kind()) {
    case py::Kind::list:
    case py::Kind::dict:
    case py::Kind::set:
    case py::Kind::bytearray: return false;
    case py::Kind::tuple:
      for (const py::Value& item : v.items()) {
        if (!hashable(item)) return false;
      }
      return true;
    default: return true;
  }
}

py::Value from_json(const JsonValue& j, const std::string& where);

py::Value number_from_json(const JsonValue& j, const std::string& where) {
  const std::string& text = j.number_text();
  if (!j.is_integer()) {
    try {
      return py::Value(j.as_double());
    } catch (const cshelve::util::JsonError&) {
      refuse(where, "the number is beyond a float; write {\"$float\": \"inf\"} for infinity");
    }
  }
  if (text.size() > kMaxIntDigits + 1) refuse(where, "an int of more than 4300 digits");
  try {
    return py::Value(static_cast<long long>(j.as_int64()));
  } catch (const cshelve::util::JsonError&) {
    return py::Value::integer(text);
  }
}

const std::string& string_of(const JsonValue& j, const std::string& tag, const std::string& where) {
  if (!j.is(JsonValue::Kind::string))
    refuse(where, tag + " takes a string, not " + cshelve::util::json_kind_name(j.kind()));
  return j.as_string();
}

const JsonValue::Items& array_of(const JsonValue& j, const std::string& tag, const std::string& where) {
  if (!j.is(JsonValue::Kind::array))
    refuse(where, tag + " takes an array, not " + cshelve::util::json_kind_name(j.kind()));
  return j.items();
}

py::Items items_from_json(const JsonValue::Items& items, const std::string& where, bool need_hashable) {
  py::Items out;
  out.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string here = where + "[" + std::to_string(i) + "]";
    out.push_back(from_json(items[i], here));
    if (need_hashable && !hashable(out.back())) refuse(here, std::string(out.back().kind_name()) + " is not hashable");
  }
  return out;
}

double component(const JsonValue& j, const std::string& where) {
  const py::Value v = from_json(j, where);
  if (!v.is(py::Kind::floating) && !v.is(py::Kind::integer)) refuse(where, "$complex takes two numbers");
  if (v.is(py::Kind::integer)) {
    if (!v.fits_int64()) refuse(where, "a $complex part beyond a float");
    return static_cast<double>(v.as_int());
  }
  return v.as_float();
}

py::Value tagged(const std::string& tag, const JsonValue& j, const std::string& where) {
  const std::string inner = where + "." + tag;
  if (tag == "$int") {
    const std::string& text = string_of(j, tag, where);
    const std::size_t sign = !text.empty() && text[0] == '-' ? 1 : 0;
    if (text.size() == sign || text.size() - sign > kMaxIntDigits ||
        text.find_first_not_of("0123456789", sign) != std::string::npos) {
      refuse(where, "$int takes decimal digits (up to 4300), with '-' before them for a negative int");
    }
    return py::Value::integer(text);
  }
  if (tag == "$float") {
    const std::string& text = string_of(j, tag, where);
    if (text == "nan") return py::Value(std::numeric_limits<double>::quiet_NaN());
    if (text == "inf") return py::Value(std::numeric_limits<double>::infinity());
    if (text == "-inf") return py::Value(-std::numeric_limits<double>::infinity());
    refuse(where, "$float takes \"nan\", \"inf\" or \"-inf\" (other floats are plain numbers)");
  }
  if (tag == "$bytes" || tag == "$bytearray") {
    std::string bytes;
    if (!unbase64(string_of(j, tag, where), bytes)) refuse(where, tag + " takes standard base64 with its padding");
    return tag == "$bytes" ? py::Value::bytes(bytes) : py::Value::bytearray(bytes);
  }
  if (tag == "$tuple") return py::Value::tuple(items_from_json(array_of(j, tag, where), inner, false));
  if (tag == "$set") return py::Value::set(items_from_json(array_of(j, tag, where), inner, true));
  if (tag == "$frozenset") return py::Value::frozenset(items_from_json(array_of(j, tag, where), inner, true));
  if (tag == "$complex") {
    const auto& parts = array_of(j, tag, where);
    if (parts.size() != 2) refuse(where, "$complex takes [real, imag]");
    return py::Value::complex(component(parts[0], inner + "[0]"), component(parts[1], inner + "[1]"));
  }
  if (tag == "$dict") {
    py::Value dict = py::Value::dict();
    const auto& pairs = array_of(j, tag, where);
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      const std::string here = inner + "[" + std::to_string(i) + "]";
      if (!pairs[i].is(JsonValue::Kind::array) || pairs[i].items().size() != 2)
        refuse(here, "$dict takes [key, value] pairs");
      py::Value key = from_json(pairs[i].items()[0], here + "[0]");
      if (!hashable(key)) refuse(here + "[0]", std::string(key.kind_name()) + " is not hashable");
      dict.set_item(std::move(key), from_json(pairs[i].items()[1], here + "[1]"));
    }
    return dict;
  }
  if (tag == "$date" || tag == "$datetime" || tag == "$time") {
    const std::string& text = string_of(j, tag, where);
    TextCursor in(text);
    py::DateTime dt;
    bool ok = true;
    if (tag != "$time") ok = read_date(in, dt.date) && (tag == "$date" ? in.at_end() : in.take('T') || in.take(' '));
    if (ok && tag != "$date") ok = read_time(in, dt.time) && in.at_end();
    if (!ok) {
      refuse(where, tag == "$date"   ? "$date takes \"YYYY-MM-DD\""
                    : tag == "$time" ? "$time takes \"HH:MM[:SS[.ffffff]]\" and an optional offset (Z, +HH:MM)"
                                     : "$datetime takes \"YYYY-MM-DDTHH:MM[:SS[.ffffff]]\" and an optional offset "
                                       "(Z, +HH:MM)");
    }
    if (tag == "$date") return py::Value(dt.date);
    if (tag == "$time") return py::Value(dt.time);
    return py::Value(dt);
  }
  if (tag == "$timedelta") {
    const auto& parts = array_of(j, tag, where);
    std::int64_t n[3] = {0, 0, 0};
    bool ok = parts.size() == 3;
    for (std::size_t i = 0; ok && i < 3; ++i) {
      ok = parts[i].is(JsonValue::Kind::number) && parts[i].is_integer();
      if (ok) {
        try {
          n[i] = parts[i].as_int64();
        } catch (const cshelve::util::JsonError&) {
          ok = false;
        }
      }
    }
    if (!ok || n[0] < -999999999 || n[0] > 999999999 || n[1] < 0 || n[1] >= 86400 || n[2] < 0 || n[2] >= 1000000) {
      refuse(where,
             "$timedelta takes [days, seconds, microseconds] as Python keeps them: |days| <= 999999999, "
             "0 <= seconds < 86400, 0 <= microseconds < 1000000");
    }
    return py::Value(py::TimeDelta{static_cast<std::int32_t>(n[0]), static_cast<std::int32_t>(n[1]),
                                   static_cast<std::int32_t>(n[2])});
  }
  if (tag == "$decimal") {
    const std::string& text = string_of(j, tag, where);
    if (!decimal_text(text))
      refuse(where, "$decimal takes a number's text: \"12.50\", \"-1E+3\", \"Infinity\", \"NaN\"");
    return py::Value::decimal(text);
  }
  if (tag == "$uuid") {
    py::Uuid u;
    if (!uuid_from_text(string_of(j, tag, where), u)) {
      refuse(where, "$uuid takes \"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\" (hexadecimal)");
    }
    return py::Value(u);
  }
  refuse(where, "unknown tag '" + tag.substr(0, 40) + "' (a dict key that starts with '$' is written with '$$')");
}

py::Value from_json(const JsonValue& j, const std::string& where) {
  switch (j.kind()) {
    case JsonValue::Kind::null: return py::Value();
    case JsonValue::Kind::boolean: return py::Value(j.as_bool());
    case JsonValue::Kind::number: return number_from_json(j, where);
    case JsonValue::Kind::string: return py::Value::str(j.as_string());
    case JsonValue::Kind::array: return py::Value::list(items_from_json(j.items(), where, false));
    case JsonValue::Kind::object: break;
  }
  const auto& members = j.members();
  for (const auto& [name, member] : members) {
    if (name.size() >= 1 && name[0] == '$' && (name.size() < 2 || name[1] != '$')) {
      if (members.size() != 1) {
        refuse(where, "a tag ('" + name.substr(0, 40) +
                          "') must be the only member of its object (a dict key that starts with '$' is written "
                          "with '$$')");
      }
      return tagged(name, member, where);
    }
  }
  py::Entries entries;
  entries.reserve(members.size());
  for (const auto& [name, member] : members) {
    std::string key = !name.empty() && name[0] == '$' ? name.substr(1) : name;
    entries.emplace_back(py::Value::str(key), from_json(member, where + "." + name));
  }
  return py::Value::dict(std::move(entries));
}

}  // namespace

void require_json() {}

std::string value_to_json(const py::Value& value) {
  std::string out;
  append_json(out, value);
  return out;
}

py::Value value_from_json(std::string_view json) {
  cshelve::util::JsonLimits limits;
  limits.lone_surrogates = true;
  try {
    return from_json(cshelve::util::parse_json(json, limits), "$");
  } catch (const cshelve::util::JsonError& error) {
    throw JsonInputError(error.what());
  }
}

std::string json_from_pickle(std::string_view pickle) { return value_to_json(py::loads(pickle)) + "\n"; }

std::string pickle_from_json(std::string_view json) {
  const py::Value value = value_from_json(json);
  try {
    return py::dumps(value, 5);
  } catch (const cshelve::ValueTypeError& error) {
    throw JsonInputError(std::string("JSON value: ") + error.what());
  }
}

#else

namespace {
[[noreturn]] void unavailable() {
  throw JsonInputError("--json needs Python values, which this build leaves out (-Dpython_values=false)");
}
}  // namespace

void require_json() { unavailable(); }
std::string json_from_pickle(std::string_view) { unavailable(); }
std::string pickle_from_json(std::string_view) { unavailable(); }

#endif

}  // namespace cshelve_cli
