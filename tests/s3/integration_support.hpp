// For the integration tests: the local S3 stack that tests/s3/with-server.sh starts, read from
// its CSHELVE_TEST_S3_* variables. A missing variable fails the test: these tests must not pass
// quietly without a server.
#ifndef CSHELVE_TESTS_S3_INTEGRATION_SUPPORT_HPP
#define CSHELVE_TESTS_S3_INTEGRATION_SUPPORT_HPP

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "s3/client.hpp"

namespace cshelve::testing {

inline std::string required_environment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    FAIL(name << " is not set: run the integration tests through tests/s3/with-server.sh");
  }
  return value;
}

// A client of the signature-checking gate (or of another endpoint of the stack).
inline s3::ClientConfig stack_config(const char* endpoint_variable = "CSHELVE_TEST_S3_ENDPOINT") {
  s3::ClientConfig config;
  config.endpoint = s3::parse_endpoint(required_environment(endpoint_variable));
  config.region = required_environment("CSHELVE_TEST_S3_REGION");
  config.credentials.access_key_id = required_environment("CSHELVE_TEST_S3_KEY_ID");
  config.credentials.secret_access_key = required_environment("CSHELVE_TEST_S3_KEY_SECRET");
  config.connect_timeout_ms = 5000;
  config.read_timeout_ms = 30000;
  return config;
}

// A client of the fault injector: each attempt is cut off well before the injector's stall ends
// (1.5 s against 5), and every retry the client logs is counted in `retries_logged`.
inline s3::ClientConfig faulty_config(int max_attempts, std::atomic<int>* retries_logged = nullptr) {
  s3::ClientConfig config = stack_config("CSHELVE_TEST_S3_FAULTY_ENDPOINT");
  config.read_timeout_ms = 1500;
  config.max_attempts = max_attempts;
  if (retries_logged != nullptr) {
    config.logger = [retries_logged](LogLevel level, std::string_view line) {
      if (level == LogLevel::warning && line.find("retrying") != std::string_view::npos) ++*retries_logged;
    };
  }
  return config;
}

// A bucket name no other test (nor an earlier run on the same server) uses.
inline std::string fresh_bucket_name(const std::string& purpose) {
  static std::atomic<int> counter{0};
  static const unsigned long long run =
      std::random_device{}() ^
      static_cast<unsigned long long>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::ostringstream name;
  name << "it-" << purpose << "-" << std::hex << (run & 0xFFFFFFFFFFULL) << "-" << std::dec << ++counter;
  return name.str();
}

// The lines of the gate's request log.
inline std::vector<std::string> request_log_lines() {
  std::ifstream log(required_environment("CSHELVE_TEST_S3_REQUEST_LOG"));
  REQUIRE(log.good());
  std::vector<std::string> lines;
  for (std::string line; std::getline(log, line);) lines.push_back(line);
  return lines;
}

// The gate's log lines for requests of `method` on exactly that (encoded) path.
inline std::vector<std::string> logged_requests(const std::string& method, const std::string& path) {
  std::vector<std::string> found;
  const std::string method_field = "\"method\": \"" + method + "\"";
  const std::string path_field = "\"path\": \"" + path + "\"";
  for (const std::string& line : request_log_lines()) {
    if (line.find(method_field) != std::string::npos && line.find(path_field) != std::string::npos) {
      found.push_back(line);
    }
  }
  return found;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace cshelve::testing

#endif
