// libFuzzer target: the strict JSON reader of credential replies (src/s3/json.hpp).
//
// Whatever a credential_process, container endpoint or instance metadata sends, the reader either
// returns the top-level members or throws JsonError; any other exception, a crash, a leak or
// undefined behaviour is a bug. On top: the members read, written back as JSON, read back the same.
#include "s3/json.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04x", byte);
      out += escape;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string write(const cshelve::s3::JsonObject& object) {
  using Kind = cshelve::s3::JsonValue::Kind;
  std::string out = "{";
  for (const auto& [name, value] : object) {
    if (out.size() > 1) out += ",";
    out += quoted(name) + ":";
    switch (value.kind) {
      case Kind::string: out += quoted(value.text); break;
      case Kind::number:
      case Kind::boolean: out += value.text; break;
      case Kind::null: out += "null"; break;
      case Kind::object: out += "{}"; break;
      case Kind::array: out += "[]"; break;
    }
  }
  return out + "}";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  cshelve::s3::JsonObject object;
  try {
    object = cshelve::s3::parse_json_object(text);
  } catch (const cshelve::s3::JsonError&) {
    return 0;
  }
  const std::string again = write(object);
  if (again.size() <= cshelve::s3::kMaxJsonSize) {
    const cshelve::s3::JsonObject reread = cshelve::s3::parse_json_object(again);
    check(reread.size() == object.size(), "members survive a round trip");
    for (const auto& [name, value] : object) {
      const auto it = reread.find(name);
      check(it != reread.end() && it->second.kind == value.kind, "member kinds survive a round trip");
      if (value.kind != cshelve::s3::JsonValue::Kind::object && value.kind != cshelve::s3::JsonValue::Kind::array) {
        check(it->second.text == value.text, "member values survive a round trip");
      }
    }
  }
  return 0;
}
