// libFuzzer target: the project's JSON reader (src/util/json.hpp), which reads credential replies
// and the command-line tool's `set --json` values.
//
// Whatever the input, the reader either returns a tree or throws JsonError; any other exception, a
// crash, a leak or undefined behaviour is a bug. On top: the tree, written back as JSON, reads
// back as the same tree; and the credential settings (objects only, 64 KiB, 32 levels) accept
// only what the default settings accept.
#include "util/json.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

using cshelve::util::JsonValue;

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

void write(const JsonValue& value, std::string& out) {
  switch (value.kind()) {
    case JsonValue::Kind::null: out += "null"; break;
    case JsonValue::Kind::boolean:
    case JsonValue::Kind::number: out += value.scalar_text(); break;
    case JsonValue::Kind::string: out += quoted(value.as_string()); break;
    case JsonValue::Kind::array: {
      out += '[';
      bool first = true;
      for (const JsonValue& item : value.items()) {
        if (!first) out += ',';
        first = false;
        write(item, out);
      }
      out += ']';
      break;
    }
    case JsonValue::Kind::object: {
      out += '{';
      bool first = true;
      for (const auto& [name, member] : value.members()) {
        if (!first) out += ',';
        first = false;
        out += quoted(name) + ":";
        write(member, out);
      }
      out += '}';
      break;
    }
  }
}

bool same(const JsonValue& a, const JsonValue& b) {
  if (a.kind() != b.kind() || a.scalar_text() != b.scalar_text()) return false;
  if (a.is(JsonValue::Kind::array)) {
    if (a.items().size() != b.items().size()) return false;
    for (std::size_t i = 0; i < a.items().size(); ++i) {
      if (!same(a.items()[i], b.items()[i])) return false;
    }
  } else if (a.is(JsonValue::Kind::object)) {
    if (a.members().size() != b.members().size()) return false;
    for (std::size_t i = 0; i < a.members().size(); ++i) {
      if (a.members()[i].first != b.members()[i].first || !same(a.members()[i].second, b.members()[i].second)) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  cshelve::util::JsonLimits credentials;
  credentials.max_size = 64 * 1024;
  credentials.max_depth = 32;
  credentials.object_only = true;
  bool strict_accepts = true;
  try {
    (void)cshelve::util::parse_json(text, credentials);
  } catch (const cshelve::util::JsonError&) {
    strict_accepts = false;
  }
  JsonValue tree;
  try {
    tree = cshelve::util::parse_json(text);
  } catch (const cshelve::util::JsonError&) {
    check(!strict_accepts, "the credential settings accept nothing the defaults refuse");
    return 0;
  }
  std::string again;
  write(tree, again);
  check(same(cshelve::util::parse_json(again), tree), "a tree survives a round trip");
  return 0;
}
