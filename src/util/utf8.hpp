// UTF-8 encoding of one code point, for the readers that turn escapes into text (pickle's
// raw-unicode-escape and latin-1, JSON's \\u escapes).
#ifndef CSHELVE_UTIL_UTF8_HPP
#define CSHELVE_UTIL_UTF8_HPP

#include <string>

namespace cshelve::util {

// Appends `cp` (at most U+10FFFF; lone surrogates are written in their three-byte form).
inline void append_utf8(std::string& out, unsigned long cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

}  // namespace cshelve::util

#endif
