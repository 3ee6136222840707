// Helpers shared by the SigV4 tests: reading the test-suite files, a parser for the raw HTTP
// requests of the AWS suites, and lookups in s3-examples.json and context.json.
#ifndef CSHELVE_TESTS_SIGV4_SUPPORT_HPP
#define CSHELVE_TESTS_SIGV4_SUPPORT_HPP

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/json.hpp"

namespace sigv4_test {

using Pairs = std::vector<std::pair<std::string, std::string>>;

std::filesystem::path suite_dir();  // tests/data/sigv4-test-suite

// The whole file, with any '\r' dropped (a checkout may have converted line endings).
std::string read_text(const std::filesystem::path& path);

// The UTF-8 form of a Unicode code point.
void append_utf8(std::string& out, std::uint32_t code_point);

// "%41b%E1" -> "Ab\xE1"; '+' stays '+'.
std::string percent_decode(std::string_view text);
std::string hex_encode(std::string_view bytes);
std::string hex_decode(std::string_view hex);

// "2015-08-30T12:36:00Z" -> UNIX time.
std::time_t parse_iso8601(const std::string& text);

// A raw HTTP/1.1 request of the AWS suites.
struct HttpRequest {
  std::string method;
  std::string path;  // as written in the request line (not encoded)
  Pairs query;       // decoded; a parameter without '=' has an empty value
  Pairs headers;     // in order; folded lines joined to their header with one space
  std::string body;
};
HttpRequest parse_http_request(const std::string& text);

std::string lower_ascii(std::string_view text);

// The value of the first header named `name` (any case), or "" when there is none.
std::string header_value(const Pairs& headers, std::string_view name);

// Headers with lower-cased names, sorted: for comparing header sets.
Pairs normalized_headers(const Pairs& headers);

// The test data's JSON, read with the library's reader.
using Json = cshelve::util::JsonValue;
// The string member `key`, or `fallback` when absent.
std::string string_or(const Json& object, const std::string& key, const std::string& fallback);
bool bool_or(const Json& object, const std::string& key, bool fallback);

// [["a","b"],...] -> pairs.
Pairs json_pairs(const Json& array_of_pairs);

}  // namespace sigv4_test

#endif
