// Helpers shared by the SigV4 tests: reading the test-suite files, a parser for the raw HTTP
// requests of the AWS suites, and a small JSON reader for s3-examples.json and context.json.
#ifndef CSHELVE_TESTS_SIGV4_SUPPORT_HPP
#define CSHELVE_TESTS_SIGV4_SUPPORT_HPP

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// A parsed JSON value (only what the test data needs: no number precision beyond double).
class Json {
 public:
  enum class Kind { null, boolean, number, string, array, object };

  static Json parse(std::string_view text);

  Kind kind() const { return kind_; }
  bool as_bool() const;
  const std::string& as_string() const;
  const std::vector<Json>& as_array() const;
  bool has(const std::string& key) const;
  const Json& at(const std::string& key) const;
  // The string member `key`, or `fallback` when absent.
  std::string string_or(const std::string& key, const std::string& fallback) const;
  bool bool_or(const std::string& key, bool fallback) const;

 private:
  friend class JsonParser;
  Kind kind_ = Kind::null;
  bool boolean_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<Json> array_;
  std::vector<std::pair<std::string, Json>> object_;
};

// [["a","b"],...] -> pairs.
Pairs json_pairs(const Json& array_of_pairs);

}  // namespace sigv4_test

#endif
