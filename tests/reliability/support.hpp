// Helpers of the reliability tests: the local S3 stack's settings, INI files for the aws-s3
// provider.
#ifndef CSHELVE_TESTS_RELIABILITY_SUPPORT_HPP
#define CSHELVE_TESTS_RELIABILITY_SUPPORT_HPP

#include <cshelve/cshelve.hpp>

#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "../support/log_collector.hpp"
#include "../support/test_support.hpp"

namespace reliability {

// A variable of tests/s3/with-server.sh; missing, the test fails rather than passing quietly.
inline std::string stack_variable(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    FAIL(name << " is not set: run the integration tests through tests/s3/with-server.sh");
  }
  return value;
}

// A bucket no other test, process or earlier run on the same server uses.
inline std::string fresh_bucket(const std::string& purpose) {
  static std::atomic<int> counter{0};
  static const unsigned run = std::random_device{}();
  std::ostringstream name;
  name << "rel-" << purpose << "-" << ::getpid() << "-" << std::hex << run << "-" << std::dec << ++counter;
  return name.str();
}

using cshelve_test::read_text;
using cshelve_test::ScopedEnv;
using cshelve_test::TempDir;
using cshelve_test::write_text;

// An INI for the aws-s3 provider on `bucket` at `endpoint`, with the stack's credentials unless
// `key_secret` is given; `extra` is appended ([provider_params] lines first, then any sections).
inline std::string write_s3_ini(const TempDir& dir, const std::string& name, const std::string& bucket,
                                const std::string& endpoint, const std::string& provider_params = "",
                                const std::string& sections = "", const std::string& key_secret = "") {
  const std::string path = dir / (name + ".ini");
  write_text(path,
             "[default]\nprovider = aws-s3\nbucket_name = " + bucket +
                 "\nauth_type = access_key\nkey_id = " + stack_variable("CSHELVE_TEST_S3_KEY_ID") +
                 "\nkey_secret = " + (key_secret.empty() ? stack_variable("CSHELVE_TEST_S3_KEY_SECRET") : key_secret) +
                 "\n\n[provider_params]\nendpoint_url = " + endpoint + "\n" + provider_params + "\n" + sections);
  return path;
}

using cshelve_test::LogCollector;

}  // namespace reliability

#endif
