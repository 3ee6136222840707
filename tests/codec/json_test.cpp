// The JSON reader (src/util/json.hpp) beyond credential replies: any value at the top, numbers
// kept as written and their conversions, order, duplicates at any depth, limits, typed errors.
#include "util/json.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <string>

using cshelve::util::JsonError;
using cshelve::util::JsonLimits;
using cshelve::util::JsonValue;
using cshelve::util::parse_json;

namespace {

std::string error_of(const std::string& text, const JsonLimits& limits = {}) {
  try {
    parse_json(text, limits);
  } catch (const JsonError& error) {
    return error.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("JSON: a tree of every kind, members in document order") {
  const JsonValue tree =
      parse_json(R"( {"z": [null, true, false, -0, 12345678901234567890123, 1.5e-3, "x"], "a": {}} )");
  REQUIRE(tree.members().size() == 2);
  CHECK(tree.members()[0].first == "z");
  CHECK(tree.members()[1].first == "a");
  const auto& items = tree.at("z").items();
  REQUIRE(items.size() == 7);
  CHECK(items[0].is_null());
  CHECK(items[1].as_bool());
  CHECK_FALSE(items[2].as_bool());
  CHECK(items[3].as_int64() == 0);
  CHECK(std::signbit(items[3].as_double()));
  CHECK(items[4].number_text() == "12345678901234567890123");
  CHECK(items[4].is_integer());
  CHECK_THROWS_AS(items[4].as_int64(), JsonError);
  CHECK(items[4].as_double() == 12345678901234567890123.0);
  CHECK_FALSE(items[5].is_integer());
  CHECK(items[5].as_double() == 1.5e-3);
  CHECK(items[6].as_string() == "x");
  CHECK(tree.at("a").members().empty());
  CHECK(parse_json("\"top\"").as_string() == "top");
  CHECK(parse_json("7").as_int64() == 7);
  CHECK(parse_json("-9223372036854775808").as_int64() == INT64_MIN);
  CHECK_THROWS_AS(parse_json("9223372036854775808").as_int64(), JsonError);
}

TEST_CASE("JSON: doubles out of range overflow as errors and underflow to zero") {
  CHECK_THROWS_WITH_AS(parse_json("1e400").as_double(), "JSON number 1e400 is out of the range of a double", JsonError);
  CHECK_THROWS_AS(parse_json("-1" + std::string(400, '0')).as_double(), JsonError);
  CHECK(parse_json("1e-400").as_double() == 0.0);
  CHECK(std::signbit(parse_json("-1e-400").as_double()));
  CHECK(parse_json("0." + std::string(400, '0') + "1").as_double() == 0.0);
  CHECK(parse_json("5e-324").as_double() > 0.0);
}

TEST_CASE("JSON: typed errors for the wrong kind and missing members") {
  const JsonValue tree = parse_json(R"({"n": 1, "s": "x"})");
  CHECK_THROWS_WITH_AS(tree.at("n").as_string(), "JSON value is a number, not a string", JsonError);
  CHECK_THROWS_WITH_AS(tree.at("s").items(), "JSON value is a string, not an array", JsonError);
  CHECK_THROWS_WITH_AS(tree.at("missing"), "JSON object has no member 'missing'", JsonError);
  CHECK_THROWS_WITH_AS(tree.at("s").at("x"), "JSON value is a string, not an object", JsonError);
  CHECK(tree.at("s").find("x") == nullptr);
  CHECK_THROWS_AS(tree.at("n").as_bool(), JsonError);
}

TEST_CASE("JSON: strictness, duplicates at any depth and the limits") {
  CHECK(error_of("[1] 2") == "malformed JSON at byte 4: unexpected text after the array");
  CHECK(error_of("") == "malformed JSON at byte 0: expected a value");
  CHECK(error_of("[1,]") == "malformed JSON at byte 3: expected a value");
  CHECK(error_of("[01]") == "malformed JSON at byte 2: expected ']'");
  CHECK(error_of("NaN") == "malformed JSON at byte 0: expected a value");
  CHECK(error_of("[{\"a\": 1, \"b\": 2, \"a\": 3}]") == "malformed JSON at byte 25: duplicate member");
  CHECK(error_of("-") == "malformed JSON at byte 1: expected a digit");
  CHECK(error_of("1.") == "malformed JSON at byte 2: expected a digit");
  CHECK(error_of("\"\xed\xa0\x80\"") == "malformed JSON at byte 1: invalid UTF-8");
  JsonLimits limits;
  limits.max_depth = 3;
  CHECK(error_of("[[[1]]]", limits) == "(no error)");
  CHECK(error_of("[[[[1]]]]", limits) == "malformed JSON at byte 3: nested too deeply");
  limits.max_size = 4;
  CHECK(error_of("[1, 2]", limits) == "JSON of 6 bytes, more than the 4 allowed");
  limits = JsonLimits();
  limits.object_only = true;
  CHECK(error_of(" [] ", limits) == "malformed JSON at byte 1: expected an object");
  // The default depth holds 1000 levels and refuses the next, without exhausting the stack.
  CHECK(error_of(std::string(1000, '[') + std::string(1000, ']')) == "(no error)");
  CHECK(error_of(std::string(100000, '[')) == "malformed JSON at byte 1000: nested too deeply");
}
