// What tests/s3/with-moto.sh hands the tests that talk to moto (STS and S3 with conditional
// writes): its endpoint, keys, role and bucket, as CSHELVE_TEST_MOTO_* variables.
#ifndef CSHELVE_TESTS_SUPPORT_MOTO_HPP
#define CSHELVE_TESTS_SUPPORT_MOTO_HPP

#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

namespace cshelve_test {

// The variable's value; the test stops when it is unset (not run under with-moto.sh).
inline std::string moto_variable(const char* name) {
  const char* value = std::getenv(name);
  REQUIRE_MESSAGE(value != nullptr, name << " is unset: run under tests/s3/with-moto.sh");
  return value;
}

}  // namespace cshelve_test

#endif
