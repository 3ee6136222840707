// Hexadecimal digits: digests in signatures and ETags, escapes in file names, XML and messages.
#ifndef CSHELVE_UTIL_HEX_HPP
#define CSHELVE_UTIL_HEX_HPP

#include <cstddef>
#include <string>
#include <string_view>

namespace cshelve::util {

enum class HexCase { lower, upper };

// The digit for the low four bits of `value`.
constexpr char hex_digit(unsigned value, HexCase letters = HexCase::lower) noexcept {
  return (letters == HexCase::lower ? "0123456789abcdef" : "0123456789ABCDEF")[value & 0x0F];
}

// The value of a hexadecimal digit of either case; -1 for any other character.
constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Appends two digits per byte.
void append_hex(std::string& out, const unsigned char* bytes, std::size_t size, HexCase letters = HexCase::lower);

inline std::string hex(std::string_view bytes, HexCase letters = HexCase::lower) {
  std::string text;
  append_hex(text, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), letters);
  return text;
}

}  // namespace cshelve::util

#endif
