// Hostile and refused pickles: each is a typed error (PickleFormatError for damaged or hostile
// bytes, UnsupportedValueError for valid pickles of types this library does not build), found
// with bounded memory and time.
#include <doctest/doctest.h>

#include <cshelve/errors.hpp>
#include <cshelve/python.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace py = cshelve::py;
using namespace std::string_literals;

namespace {

std::string le32(std::uint32_t n) {
  std::string out;
  for (int i = 0; i < 4; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}
std::string le64(std::uint64_t n) {
  std::string out;
  for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}
const std::string kProto5("\x80\x05", 2);
std::string global(const std::string& module, const std::string& name) { return "c" + module + "\n" + name + "\n"; }

// A pickle must be refused with a PickleFormatError.
void format_error(const std::string& pickle, const char* why) {
  INFO(why);
  CHECK_THROWS_AS(py::loads(pickle), cshelve::PickleFormatError);
}
void unsupported(const std::string& pickle, const std::string& names) {
  INFO(names);
  try {
    py::loads(pickle);
    FAIL("read");
  } catch (const cshelve::UnsupportedValueError& e) {
    CHECK(std::string(e.what()).find(names) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("hostile: truncation at every byte of valid pickles") {
  const py::Value sample = py::Value::dict(
      {{"ints", py::Value::list({1, 300, 70000, py::Value::integer("-123456789012345678901234567890")})},
       {"text", py::Value::tuple({"é", py::Value::bytes("raw"), py::Value::bytearray("ba")})},
       {"set", py::Value::set({1, 2})},
       {"frozen", py::Value::frozenset({"a"})},
       {"when", py::DateTime{py::Date{2020, 2, 29}, py::Time{}}},
       {"span", py::TimeDelta{-1, 5, 7}},
       {"money", py::Value::decimal("12.50")},
       {"id", py::Uuid{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, false, 0}},
       {"z", py::Value::complex(1, -2)}});
  std::size_t cases = 0;
  for (int protocol = 2; protocol <= 5; ++protocol) {
    const std::string whole = py::dumps(sample, protocol);
    REQUIRE(py::loads(whole) == sample);
    for (std::size_t n = 0; n < whole.size(); ++n) {
      CHECK_THROWS_AS(py::loads(std::string_view(whole).substr(0, n)), cshelve::PickleFormatError);
      ++cases;
    }
  }
  CHECK(cases > 400);
}

TEST_CASE("hostile: lengths beyond the data, up to 2^63") {
  for (std::uint64_t n : {std::uint64_t(100), std::uint64_t(1) << 32, std::uint64_t(1) << 63, ~std::uint64_t(0)}) {
    format_error(kProto5 + "\x8e" + le64(n) + "ab.", "BINBYTES8");
    format_error(kProto5 + "\x8d" + le64(n) + "ab.", "BINUNICODE8");
    format_error(kProto5 + "\x96" + le64(n) + "ab.", "BYTEARRAY8");
    format_error(kProto5 + "\x95" + le64(n) + "N.", "FRAME");
  }
  format_error(kProto5 + "X" + le32(0xffffffff) + "ab.", "BINUNICODE");
  format_error(kProto5 + "B" + le32(0xffffffff) + "ab.", "BINBYTES");
  format_error(kProto5 + "\x8b" + le32(0x7fffffff) + "ab.", "LONG4");
  format_error(kProto5 + "\x8b" + le32(0xffffffff) + "ab.", "LONG4 negative");
  format_error("T" + le32(0x80000000) + "ab.", "BINSTRING negative");
  format_error("L" + std::string(5000, '9') + "\n.", "an int of more digits than Python reads");
}

TEST_CASE("hostile: memo indices out of range") {
  format_error(kProto5 + "h\x05.", "BINGET of an undefined entry");
  format_error(kProto5 + "j" + le32(0xffffffff) + ".", "LONG_BINGET");
  format_error(kProto5 + "Nr" + le32(0xffffffff) + ".", "LONG_BINPUT far beyond");
  format_error("Ng99999999999999999999999\n.", "GET overflow");
  format_error("Np-1\n.", "PUT negative");
  format_error(kProto5 + "\x94.", "MEMOIZE on an empty stack");
}

TEST_CASE("hostile: 100,000-deep nesting") {
  // Lists: EMPTY_LIST ... then APPEND each into the one below.
  std::string deep = kProto5;
  for (int i = 0; i < 100000; ++i) deep += "]";
  for (int i = 0; i < 99999; ++i) deep += "a";
  deep += ".";
  format_error(deep, "lists");
  // Tuples: MARK ... TUPLE.
  std::string tuples = kProto5 + "N";
  for (int i = 0; i < 100000; ++i) tuples += "\x85";
  tuples += ".";
  format_error(tuples, "tuples");
  // Only marks: they cost a word each and end in an error.
  format_error(kProto5 + std::string(100000, '(') + ".", "marks");
  // Up to the limit is fine.
  std::string ok = kProto5 + "N";
  for (int i = 0; i < 1000; ++i) ok += "\x85";
  ok += ".";
  CHECK(py::loads(ok).kind() == py::Kind::tuple);
}

TEST_CASE("hostile: memo-expansion bombs") {
  // A list of 1000 Nones, then lists of 1000 references to the one before, 6 levels deep: 10^18
  // elements expanded from a few kilobytes.
  std::string bomb = kProto5 + "]\x94(";
  for (int i = 0; i < 1000; ++i) bomb += "N";
  bomb += "e";
  for (int level = 1; level <= 6; ++level) {
    bomb += "]\x94(";
    for (int i = 0; i < 1000; ++i) bomb += "h" + std::string(1, static_cast<char>(level - 1));
    bomb += "e";
  }
  bomb += ".";
  format_error(bomb, "nested references");
  // The limit is adjustable, and a modest reuse passes under the default.
  py::ReadLimits small;
  small.max_elements = 300;  // the value is 1 + 3 * 101 elements
  std::string modest = kProto5 + "]\x94(";
  for (int i = 0; i < 100; ++i) modest += "N";
  modest +=
      "e0]\x94(h\x00h\x00h\x00"
      "e."s;
  CHECK(py::loads(modest).size() == 3);
  CHECK_THROWS_AS(py::loads(modest, small), cshelve::PickleFormatError);
  // A container changed after it was put into another (the way to grow one already counted).
  format_error(kProto5 +
                   "]\x94]\x94h\x00"
                   "a0h\x00"
                   "Na."s,
               "changed after adoption");
  // A list inside itself.
  format_error(kProto5 +
                   "]\x94h\x00"
                   "a."s,
               "a cycle");
}

TEST_CASE("hostile: allow-listed names misused") {
  const std::string p2 = "\x80\x02";
  format_error(p2 + global("_codecs", "encode") +
                   "X\x01\x00\x00\x00"s
                   "aX\x05\x00\x00\x00utf_8\x86R."s,
               "encode utf-8");
  format_error(p2 + global("_codecs", "encode") + "K\x01\x85R.", "encode of an int");
  format_error(p2 + global("_codecs", "encode") + "X\x03\x00\x00\x00\xe4\xb8\xadX\x06\x00\x00\x00latin1\x86R."s,
               "encode beyond latin-1");
  format_error(p2 + global("__builtin__", "set") + "K\x01\x85R.", "set of an int");
  format_error(p2 + global("__builtin__", "set") + "](]e\x85R.", "set of an unhashable list");
  format_error(p2 + global("__builtin__", "complex") +
                   "X\x01\x00\x00\x00"s
                   "a\x85R.",
               "complex of a str");
  format_error(p2 + global("__builtin__", "bytearray") + "K\x01\x85R.", "bytearray of an int");
  format_error(kProto5 + global("datetime", "date") +
                   "C\x03"
                   "abc\x85R.",
               "date of 3 bytes");
  format_error(kProto5 + global("datetime", "date") + "C\x04\x07\xe4\x02\x1e\x85R.", "February 30th");
  format_error(kProto5 + global("datetime", "time") + "C\x06\x19\x00\x00\x00\x00\x00\x85R."s, "hour 25");
  format_error(kProto5 + global("datetime", "datetime") + "K\x01\x85R.", "datetime of an int");
  format_error(kProto5 + global("datetime", "timedelta") + "K\x00K\x00\x86R."s, "timedelta of 2 ints");
  format_error(kProto5 + global("datetime", "timedelta") + "K\x00J\x80\x51\x01\x00K\x00\x87R."s, "timedelta seconds");
  format_error(
      kProto5 + global("datetime", "timezone") + global("datetime", "timedelta") + "K\x01K\x00K\x00\x87R\x85R."s,
      "timezone of a day");
  format_error(kProto5 + global("decimal", "Decimal") + "K\x01\x85R.", "Decimal of an int");
  format_error(kProto5 + global("decimal", "Decimal") +
                   "\x8c\x03"
                   "a;b\x85R.",
               "Decimal of a non-number");
  format_error(kProto5 + global("uuid", "UUID") + ")\x81}\x8c\x03int\x8c\x01xsb.", "UUID of a str int");
  format_error(kProto5 + global("uuid", "UUID") + ")\x81}\x8c\x03intJ\xff\xff\xff\xffsb.", "UUID negative");
  format_error(kProto5 + global("uuid", "UUID") + ")\x81}b.", "UUID without int");
  format_error(kProto5 + global("uuid", "UUID") + ")\x81.", "UUID without state");
  format_error(kProto5 + global("uuid", "UUID") + "K\x01\x85R.", "UUID called");
  format_error(kProto5 + "N)R.", "REDUCE of None");
  format_error(kProto5 + global("__builtin__", "set") + "K\x01R.", "REDUCE of a non-tuple");
  unsupported(kProto5 + global("__builtin__", "set") + ".", "set itself");
  unsupported(
      kProto5 + global("datetime", "timezone") + global("datetime", "timedelta") + "K\x00K\x00K\x00\x87R\x85R."s,
      "timezone");
  unsupported(kProto5 + global("__builtin__", "object") + ")R.", "object");
  unsupported(kProto5 + global("__builtin__", "set") + ")\x81.", "NEWOBJ of builtins.set");
}

TEST_CASE("refused: values Python makes that are not plain data") {
  // class C: pass; pickle.dumps(C(), 5)
  unsupported(std::string("\x80\x05\x95\x15\x00\x00\x00\x00\x00\x00\x00\x8c\x08__main__\x94\x8c\x01"
                          "C\x94\x93\x94)\x81\x94.",
                          32),
              "__main__.C");
  // pickle.dumps(collections.Counter('ab'), 5)
  unsupported(std::string("\x80\x05\x95/\x00\x00\x00\x00\x00\x00\x00\x8c\x0b"
                          "collections\x94\x8c\x07"
                          "Counter\x94\x93\x94}\x94(\x8c\x01"
                          "a\x94K\x01\x8c\x01"
                          "b\x94K\x01u\x85\x94R\x94.",
                          58),
              "collections.Counter");
  unsupported("\x80\x02" + global("numpy.core.multiarray", "_reconstruct") + ".", "numpy.core.multiarray._reconstruct");
  unsupported("\x80\x02" + global("os", "system") + "X\x02\x00\x00\x00ls\x85R."s, "os.system");
  unsupported("\x80\x02" + global("builtins", "eval") + ".", "builtins.eval");
  unsupported("\x80\x02" + global("copy_reg", "_reconstructor") + global("collections", "OrderedDict") + ".",
              "collections.OrderedDict");
  unsupported(kProto5 + "\x97.", "out-of-band buffer");
  unsupported(kProto5 + "N\x98.", "out-of-band buffer");
  unsupported("(i__main__\nC\n.", "__main__.C");
  unsupported(kProto5 + "\x82\x01.", "EXT");
  unsupported("P1\n.", "persistent");
}

TEST_CASE("hostile: stray opcodes") {
  format_error(kProto5 + ".", "STOP on an empty stack");
  format_error(kProto5 + "NN.", "two values at STOP");
  format_error(kProto5 + "\xff.", "unknown opcode");
  format_error("\x80\x06N.", "protocol 6");
  format_error(kProto5 + "Na.", "APPEND without a list");
  format_error(kProto5 + "}NN]s.", "SETITEM on a list");
  format_error(kProto5 + "}(]Nu.", "unhashable key");
  format_error(kProto5 + "e.", "APPENDS without MARK");
  format_error(kProto5 + "(N.", "MARK left open");
  format_error(kProto5 + "\x8c\x02\xff\xfe.", "a str that is not UTF-8");
  format_error("Fabc\n.", "FLOAT of text");
  format_error("Iabc\n.", "INT of text");
  format_error("S'abc\n.", "STRING unquoted");
  format_error(kProto5 +
                   "\x8c\x01"
                   "a\x8c\x01"
                   "b\x85\x93.",
               "STACK_GLOBAL of a tuple");
  format_error(kProto5, "nothing but the header");
  format_error("", "empty");
}
