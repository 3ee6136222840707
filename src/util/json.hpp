// The project's one JSON reader: strict RFC 8259 text into a tree. Credential sources read their
// replies with it (credential_process, the container endpoint, instance metadata), the
// command-line tool reads `set --json` values with it, and the tests read their vectors with it.
//
// Strict: no comments, trailing commas, single quotes, bare words, leading zeros or lone
// surrogates; UTF-8 checked (no overlong forms, no surrogates, nothing above U+10FFFF); a member
// name twice in one object is an error. Numbers are kept as written, so no digit is lost; the
// accessors convert. Objects keep their members in document order.
//
// Bounded: the text may be at most `max_size` bytes and nest at most `max_depth` arrays and
// objects, so the tree's memory is a small multiple of the text's size and the recursion depth is
// bounded. Errors are JsonError and say where and what, never the text itself (a credential reply
// holds secrets).
#ifndef CSHELVE_UTIL_JSON_HPP
#define CSHELVE_UTIL_JSON_HPP

#include <cshelve/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cshelve::util {

// Text that is not the JSON expected, or a value read as the wrong kind.
class JsonError : public Error {
 public:
  using Error::Error;
};

struct JsonLimits {
  std::size_t max_size = 64u << 20;  // bytes of text
  std::size_t max_depth = 1000;      // arrays and objects inside one another
  bool object_only = false;          // the document must be an object
  // A lone surrogate escape ("\ud800") becomes that code point's three-byte form (WTF-8), as a
  // Python str may hold it, instead of an error.
  bool lone_surrogates = false;
};

class JsonValue {
 public:
  enum class Kind { null, boolean, number, string, array, object };
  using Items = std::vector<JsonValue>;
  using Members = std::vector<std::pair<std::string, JsonValue>>;

  Kind kind() const noexcept { return kind_; }
  bool is(Kind kind) const noexcept { return kind_ == kind; }
  bool is_null() const noexcept { return kind_ == Kind::null; }

  // Each accessor throws JsonError naming both kinds when the value is another kind.
  bool as_bool() const;
  const std::string& as_string() const;
  const Items& items() const;      // an array's values
  const Members& members() const;  // an object's members, in document order

  const std::string& number_text() const;  // a number as written: "-1.5e3"
  bool is_integer() const;                 // a number written without fraction or exponent
  std::int64_t as_int64() const;           // JsonError unless an integer within int64
  double as_double() const;                // the nearest double; JsonError when out of range

  // A string's value, a number as written, "true" or "false"; empty for null, arrays and objects.
  const std::string& scalar_text() const noexcept { return text_; }

  // The member named `name` of an object, or nullptr (also when this is not an object).
  const JsonValue* find(std::string_view name) const noexcept;
  // The member named `name`; JsonError when this is not an object or has no such member.
  const JsonValue& at(std::string_view name) const;

 private:
  friend class JsonParser;
  Kind kind_ = Kind::null;
  std::string text_;
  Items items_;
  Members members_;
};

// "null", "boolean", "number", "string", "array", "object".
const char* json_kind_name(JsonValue::Kind kind) noexcept;

// Reads `text`, one JSON value with white space around it allowed.
JsonValue parse_json(std::string_view text, const JsonLimits& limits = {});

}  // namespace cshelve::util

#endif
