// What the libFuzzer targets share: a property that does not hold stops the run with a message,
// so that the fuzzer keeps the input that broke it.
#ifndef CSHELVE_TESTS_FUZZ_FUZZ_CHECK_HPP
#define CSHELVE_TESTS_FUZZ_FUZZ_CHECK_HPP

#include <cstdio>
#include <cstdlib>

namespace cshelve_fuzz {

inline void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

}  // namespace cshelve_fuzz

#endif
