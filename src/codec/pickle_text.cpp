// The text forms of protocol 0: INT, LONG, FLOAT, STRING, UNICODE and the decimal memo indices of
// PUT and GET; and the UTF-8 check the reader and the writer share.
#include "codec/pickle_common.hpp"
#include "codec/pickle_reading.hpp"
#include "util/escape.hpp"
#include "util/text.hpp"
#include "util/utf8.hpp"

#include <charconv>
#include <cstdlib>

namespace cshelve::py::detail {

bool valid_utf8_surrogatepass(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    unsigned long cp;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) return false;
    i += len;
  }
  return true;
}

namespace reading {

Value int_from_text(std::string_view s, bool is_long, std::size_t max_digits) {
  if (is_long && !s.empty() && s.back() == 'L') s.remove_suffix(1);
  if (!is_long && s == "01") return Value(true);
  if (!is_long && s == "00") return Value(false);
  std::string_view digits = s;
  if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) digits.remove_prefix(1);
  if (digits.empty() || digits.size() > max_digits)
    bad(util::concat({"an int of ", std::to_string(digits.size()), " digits"}));
  for (char c : digits)
    if (c < '0' || c > '9') bad(util::concat({"not an int: '", s.substr(0, 40), "'"}));
  return detail::integer_from_le(detail::le_from_decimal(s));
}
Value float_from_text(std::string_view s) {
  double d = 0;
  std::string_view t = s;
  if (!t.empty() && t[0] == '+') t.remove_prefix(1);
  auto r = std::from_chars(t.data(), t.data() + t.size(), d);
  if (r.ec == std::errc::result_out_of_range && r.ptr == t.data() + t.size()) {
    d = std::strtod(std::string(t).c_str(), nullptr);  // Python's float(): inf or 0.0
  } else if (r.ec != std::errc() || r.ptr != t.data() + t.size()) {
    bad(util::concat({"not a float: '", s.substr(0, 40), "'"}));
  }
  return Value(d);
}
// The single-letter escapes of a Python 2 str's repr, as the STRING opcode reads it.
constexpr util::EscapeLetter kPythonEscapes[] = {{'n', '\n'}, {'t', '\t'}, {'r', '\r'},  {'a', '\a'},  {'b', '\b'},
                                                 {'f', '\f'}, {'v', '\v'}, {'\\', '\\'}, {'\'', '\''}, {'"', '"'}};
Value string_literal(std::string_view s) {
  if (s.size() < 2 || s.front() != s.back() || (s.front() != '\'' && s.front() != '"')) bad("STRING not quoted");
  s = s.substr(1, s.size() - 2);
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i == s.size()) bad("STRING ends in a backslash");
    c = s[i];
    if (const auto byte = util::unescape_letter(kPythonEscapes, c)) {
      out += *byte;
    } else if (c == 'x') {
      if (s.size() - i < 3) bad("STRING: short \\x escape");
      unsigned v = 0;
      auto r = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (r.ptr != s.data() + i + 3) bad("STRING: bad \\x escape");
      out += static_cast<char>(v);
      i += 2;
    } else if (c >= '0' && c <= '7') {
      unsigned v = 0;
      std::size_t k = 0;
      for (; k < 3 && i + k < s.size() && s[i + k] >= '0' && s[i + k] <= '7'; ++k) v = v * 8 + unsigned(s[i + k] - '0');
      out += static_cast<char>(v & 0xff);
      i += k - 1;
    } else if (c != '\n') {  // a backslash before a line break joins the lines
      out += '\\';
      out += c;
    }
  }
  return ascii_str(out);
}
Value ascii_str(std::string_view bytes) {
  for (unsigned char c : bytes)
    if (c >= 0x80) bad("a Python 2 str that is not ASCII");
  return text_value(Kind::str, bytes);
}
Value raw_unicode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\') {
      std::size_t run = 0;
      while (i + run < s.size() && s[i + run] == '\\') ++run;
      const std::size_t after = i + run;
      if (run % 2 == 1 && after < s.size() && (s[after] == 'u' || s[after] == 'U')) {
        out.append(run - 1, '\\');
        const std::size_t digits = s[after] == 'u' ? 4 : 8;
        if (s.size() - after - 1 < digits) bad("UNICODE: short escape");
        unsigned long cp = 0;
        auto r = std::from_chars(s.data() + after + 1, s.data() + after + 1 + digits, cp, 16);
        if (r.ptr != s.data() + after + 1 + digits || cp > 0x10ffff) bad("UNICODE: bad escape");
        util::append_utf8(out, cp);
        i = after + 1 + digits;
      } else {
        out.append(run, '\\');
        i = after;
      }
      continue;
    }
    util::append_utf8(out, c);
    ++i;
  }
  return text_value(Kind::str, out);
}

std::uint64_t decimal_index(std::string_view s) {
  std::uint64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size())
    bad(util::concat({"bad memo index '", s.substr(0, 40), "'"}));
  return v;
}

}  // namespace reading

}  // namespace cshelve::py::detail
