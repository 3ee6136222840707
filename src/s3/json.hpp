// A small, strict JSON reader for the replies of credential sources (credential_process, the
// container endpoint, instance metadata): one object whose members the caller looks up.
//
// Strict: RFC 8259 only (no comments, trailing commas, single quotes or bare words), UTF-8 checked,
// a duplicate member is an error, at most 64 KiB of text and 32 levels of nesting. Nested objects
// and arrays are checked and skipped; only the top-level members are kept. Errors say where and
// what, never the text itself (it holds secrets).
#ifndef CSHELVE_S3_JSON_HPP
#define CSHELVE_S3_JSON_HPP

#include <cshelve/errors.hpp>

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

namespace cshelve::s3 {

// A reply that is not the JSON expected. Derives from cshelve::Error; callers wrap it with the
// name of the source.
class JsonError : public Error {
 public:
  using Error::Error;
};

struct JsonValue {
  enum class Kind { string, number, boolean, null, object, array };
  Kind kind = Kind::null;
  std::string text;  // a string's decoded value, a number as written, "true"/"false"
};

using JsonObject = std::map<std::string, JsonValue>;

inline constexpr std::size_t kMaxJsonSize = 64 * 1024;

// Parses `text`, which must be one JSON object (white space around it allowed).
JsonObject parse_json_object(std::string_view text);

}  // namespace cshelve::s3

#endif
