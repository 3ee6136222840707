// A small JSON reader for the test vectors (RFC 8259; numbers are kept as their text).
#ifndef CSHELVE_TESTS_CODEC_JSON_HPP
#define CSHELVE_TESTS_CODEC_JSON_HPP

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cshelve::test {

struct Json {
  enum class Type { null, boolean, number, string, array, object };

  Type type = Type::null;
  bool boolean = false;
  std::string text;  // a string's value, or a number as written
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;  // in document order

  bool is_null() const { return type == Type::null; }
  // The member named `name`, or nullptr.
  const Json* find(std::string_view name) const;
  // The member named `name`; throws std::runtime_error when it is missing.
  const Json& at(std::string_view name) const;
  // The string value; throws when this is not a string.
  const std::string& str() const;
  long long integer() const;
};

// Throws std::runtime_error naming the offset of the first problem.
Json parse_json(std::string_view text);

}  // namespace cshelve::test

#endif
