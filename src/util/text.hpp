// Building messages: one call that joins its pieces, instead of a chain of std::string operator+.
// Each `+` of a chain is a call with its own temporary and its own clean-up path; error messages
// are built in a few hundred places, so one joining function keeps the library measurably smaller.
#ifndef CSHELVE_UTIL_TEXT_HPP
#define CSHELVE_UTIL_TEXT_HPP

#include <initializer_list>
#include <string>
#include <string_view>

namespace cshelve::util {

// The pieces, one after the other.
std::string concat(std::initializer_list<std::string_view> pieces);

}  // namespace cshelve::util

#endif
