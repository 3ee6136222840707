// Backslash escapes of a single letter (`\n`, `\t` and the like) in quoted-string syntaxes: each
// format keeps its own table, since the letters they know differ, and looks letters up the same way.
#ifndef CSHELVE_UTIL_ESCAPE_HPP
#define CSHELVE_UTIL_ESCAPE_HPP

#include <cstddef>
#include <optional>

namespace cshelve::util {

struct EscapeLetter {
  char letter;  // what follows the backslash
  char byte;    // what the pair stands for
};

// The byte that a backslash and `letter` stand for in `table`, or nothing when the format gives
// `letter` no meaning of its own (it may still start a longer escape, such as `\x41`).
template <std::size_t N>
constexpr std::optional<char> unescape_letter(const EscapeLetter (&table)[N], char letter) noexcept {
  for (const EscapeLetter& entry : table) {
    if (entry.letter == letter) return entry.byte;
  }
  return std::nullopt;
}

}  // namespace cshelve::util

#endif
