// ASCII case folding: HTTP header names, URL schemes and host names, S3's hex digests. Never the
// locale's: a Turkish locale must not turn 'I' into a dotless i in a signed header.
#ifndef CSHELVE_UTIL_ASCII_HPP
#define CSHELVE_UTIL_ASCII_HPP

#include <string>
#include <string_view>

namespace cshelve::util {

constexpr char to_lower_ascii(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string to_lower_ascii(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = to_lower_ascii(c);
  return lower;
}

// Whether `text` equals `lower_case_word` once `text` is lower-cased.
constexpr bool equals_lower_ascii(std::string_view text, std::string_view lower_case_word) noexcept {
  if (text.size() != lower_case_word.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (to_lower_ascii(text[i]) != lower_case_word[i]) return false;
  }
  return true;
}

// `text` without the ASCII blanks (space, tab, CR, LF, FF, VT) around it.
constexpr std::string_view trim_blanks(std::string_view text) noexcept {
  constexpr std::string_view kBlanks = " \t\r\n\f\v";
  const auto first = text.find_first_not_of(kBlanks);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kBlanks) - first + 1);
}

}  // namespace cshelve::util

#endif
