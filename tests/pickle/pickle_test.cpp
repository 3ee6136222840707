// py::Value and the pickle codec: construction, accessors, equality, and fixed pickles of
// CPython 3.11 (the differential test compares with CPython at large; these pin a few by hand).
#include <doctest/doctest.h>

#include <cshelve/errors.hpp>
#include <cshelve/python.hpp>

#include <cmath>
#include <string>

namespace py = cshelve::py;

namespace {

// pickle.dumps({'name': 'Ada', 'langs': ['en', 'fr'], 'age': 36, 'score': 1.5, 'none': None, 'ok': True}, protocol=2)
const std::string k_dict_of_list_2 = std::string(
    "\x80\x02\x7d\x71\x00\x28\x58\x04\x00\x00\x00\x6e\x61\x6d\x65\x71\x01\x58\x03\x00\x00\x00\x41\x64\x61\x71\x02\x58"
    "\x05\x00\x00\x00\x6c\x61\x6e\x67\x73\x71\x03\x5d\x71\x04\x28\x58\x02\x00\x00\x00\x65\x6e\x71\x05\x58\x02\x00\x00"
    "\x00\x66\x72\x71\x06\x65\x58\x03\x00\x00\x00\x61\x67\x65\x71\x07\x4b\x24\x58\x05\x00\x00\x00\x73\x63\x6f\x72\x65"
    "\x71\x08\x47\x3f\xf8\x00\x00\x00\x00\x00\x00\x58\x04\x00\x00\x00\x6e\x6f\x6e\x65\x71\x09\x4e\x58\x02\x00\x00\x00"
    "\x6f\x6b\x71\x0a\x88\x75\x2e",
    119);
// pickle.dumps({'name': 'Ada', 'langs': ['en', 'fr'], 'age': 36, 'score': 1.5, 'none': None, 'ok': True}, protocol=5)
const std::string k_dict_of_list_5 = std::string(
    "\x80\x05\x95\x4f\x00\x00\x00\x00\x00\x00\x00\x7d\x94\x28\x8c\x04\x6e\x61\x6d\x65\x94\x8c\x03\x41\x64\x61\x94\x8c"
    "\x05\x6c\x61\x6e\x67\x73\x94\x5d\x94\x28\x8c\x02\x65\x6e\x94\x8c\x02\x66\x72\x94\x65\x8c\x03\x61\x67\x65\x94\x4b"
    "\x24\x8c\x05\x73\x63\x6f\x72\x65\x94\x47\x3f\xf8\x00\x00\x00\x00\x00\x00\x8c\x04\x6e\x6f\x6e\x65\x94\x4e\x8c\x02"
    "\x6f\x6b\x94\x88\x75\x2e",
    90);
// pickle.dumps(datetime.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=datetime.timezone.utc), protocol=2)
const std::string k_datetime_utc_2 = std::string(
    "\x80\x02\x63\x64\x61\x74\x65\x74\x69\x6d\x65\x0a\x64\x61\x74\x65\x74\x69\x6d\x65\x0a\x71\x00\x63\x5f\x63\x6f\x64"
    "\x65\x63\x73\x0a\x65\x6e\x63\x6f\x64\x65\x0a\x71\x01\x58\x0b\x00\x00\x00\x07\xc3\xa8\x01\x02\x03\x04\x05\x00\x00"
    "\x06\x71\x02\x58\x06\x00\x00\x00\x6c\x61\x74\x69\x6e\x31\x71\x03\x86\x71\x04\x52\x71\x05\x63\x64\x61\x74\x65\x74"
    "\x69\x6d\x65\x0a\x74\x69\x6d\x65\x7a\x6f\x6e\x65\x0a\x71\x06\x63\x64\x61\x74\x65\x74\x69\x6d\x65\x0a\x74\x69\x6d"
    "\x65\x64\x65\x6c\x74\x61\x0a\x71\x07\x4b\x00\x4b\x00\x4b\x00\x87\x71\x08\x52\x71\x09\x85\x71\x0a\x52\x71\x0b\x86"
    "\x71\x0c\x52\x71\x0d\x2e",
    146);
// pickle.dumps(datetime.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=datetime.timezone.utc), protocol=5)
const std::string k_datetime_utc_5 = std::string(
    "\x80\x05\x95\x57\x00\x00\x00\x00\x00\x00\x00\x8c\x08\x64\x61\x74\x65\x74\x69\x6d\x65\x94\x8c\x08\x64\x61\x74\x65"
    "\x74\x69\x6d\x65\x94\x93\x94\x43\x0a\x07\xe8\x01\x02\x03\x04\x05\x00\x00\x06\x94\x68\x00\x8c\x08\x74\x69\x6d\x65"
    "\x7a\x6f\x6e\x65\x94\x93\x94\x68\x00\x8c\x09\x74\x69\x6d\x65\x64\x65\x6c\x74\x61\x94\x93\x94\x4b\x00\x4b\x00\x4b"
    "\x00\x87\x94\x52\x94\x85\x94\x52\x94\x86\x94\x52\x94\x2e",
    98);
// pickle.dumps([18446744073709551616, -9223372036854775809, 1000000000000000000000000000000], protocol=2)
const std::string k_bigint_2 = std::string(
    "\x80\x02\x5d\x71\x00\x28\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01\x8a\x09\xff\xff\xff\xff\xff\xff\xff\x7f\xff"
    "\x8a\x0d\x00\x00\x00\x40\xea\xed\x74\x46\xd0\x9c\x2c\x9f\x0c\x65\x2e",
    45);
// pickle.dumps([18446744073709551616, -9223372036854775809, 1000000000000000000000000000000], protocol=5)
const std::string k_bigint_5 = std::string(
    "\x80\x05\x95\x2a\x00\x00\x00\x00\x00\x00\x00\x5d\x94\x28\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01\x8a\x09\xff"
    "\xff\xff\xff\xff\xff\xff\x7f\xff\x8a\x0d\x00\x00\x00\x40\xea\xed\x74\x46\xd0\x9c\x2c\x9f\x0c\x65\x2e",
    53);
// pickle.dumps([b'ab', b'', bytearray(b'xy')], protocol=2)
const std::string k_bytes_2 = std::string(
    "\x80\x02\x5d\x71\x00\x28\x63\x5f\x63\x6f\x64\x65\x63\x73\x0a\x65\x6e\x63\x6f\x64\x65\x0a\x71\x01\x58\x02\x00\x00"
    "\x00\x61\x62\x71\x02\x58\x06\x00\x00\x00\x6c\x61\x74\x69\x6e\x31\x71\x03\x86\x71\x04\x52\x71\x05\x63\x5f\x5f\x62"
    "\x75\x69\x6c\x74\x69\x6e\x5f\x5f\x0a\x62\x79\x74\x65\x73\x0a\x71\x06\x29\x52\x71\x07\x63\x5f\x5f\x62\x75\x69\x6c"
    "\x74\x69\x6e\x5f\x5f\x0a\x62\x79\x74\x65\x61\x72\x72\x61\x79\x0a\x71\x08\x68\x01\x58\x02\x00\x00\x00\x78\x79\x71"
    "\x09\x68\x03\x86\x71\x0a\x52\x71\x0b\x85\x71\x0c\x52\x71\x0d\x65\x2e",
    129);
// pickle.dumps([b'ab', b'', bytearray(b'xy')], protocol=5)
const std::string k_bytes_5 = std::string(
    "\x80\x05\x95\x19\x00\x00\x00\x00\x00\x00\x00\x5d\x94\x28\x43\x02\x61\x62\x94\x43\x00\x94\x96\x02\x00\x00\x00\x00"
    "\x00\x00\x00\x78\x79\x94\x65\x2e",
    36);

}  // namespace

TEST_CASE("py::Value: construction, accessors and wrong kinds") {
  py::Value user = py::Value::dict({{"name", "Ada"}, {"langs", py::Value::list({"en", "fr"})}, {"age", 36}});
  CHECK(user.kind() == py::Kind::dict);
  CHECK(user["name"].as_str() == "Ada");
  CHECK(user["langs"][1].as_str() == "fr");
  CHECK(user["age"].as_int() == 36);
  CHECK(user.find("missing") == nullptr);
  CHECK_THROWS_AS(user["missing"], cshelve::ValueLookupError);
  CHECK_THROWS_AS(user["langs"][2], cshelve::ValueLookupError);
  CHECK_THROWS_WITH_AS(user["age"].as_str(), "expected str, got int", cshelve::ValueTypeError);
  CHECK_THROWS_AS(py::Value(1.5).as_int(), cshelve::ValueTypeError);
  CHECK(py::Value().is_none());
  CHECK(py::Value(true).as_bool());
  CHECK_FALSE(py::Value(true) == py::Value(1));  // kinds differ here
}

TEST_CASE("py::Value: integers of any size") {
  CHECK(py::Value::integer("9223372036854775807").fits_int64());
  CHECK_FALSE(py::Value::integer("9223372036854775808").fits_int64());
  CHECK(py::Value::integer("-9223372036854775808").as_int() == INT64_MIN);
  const std::string big = "-" + std::string(300, '7');
  CHECK(py::Value::integer(big).int_text() == big);
  CHECK(py::Value(18446744073709551615ULL).int_text() == "18446744073709551615");
  CHECK_THROWS_AS(py::Value::integer("9223372036854775808").as_int(), cshelve::ValueTypeError);
  CHECK_THROWS_AS(py::Value::integer("12a"), cshelve::ValueTypeError);
  CHECK(py::Value::integer("0").as_int() == 0);
}

TEST_CASE("py::Value: equality, sharing and clone") {
  CHECK(py::Value(std::nan("")) == py::Value(std::nan("")));
  CHECK(py::Value::set({1, 2, 3}) == py::Value::set({3, 2, 1}));
  CHECK(py::Value::dict({{"a", 1}, {"b", 2}}) == py::Value::dict({{"b", 2}, {"a", 1}}));
  CHECK_FALSE(py::Value::list({1, 2}) == py::Value::tuple({1, 2}));
  CHECK(py::Value::set({1, 1, 2}).size() == 2);

  py::Value list = py::Value::list({1});
  py::Value alias = list;
  alias.append(2);
  CHECK(list.size() == 2);  // a copy shares, like a Python name
  py::Value copy = list.clone();
  copy.append(3);
  CHECK(list.size() == 2);
}

TEST_CASE("pickle: bytes equal CPython's for fixed values") {
  const py::Value user = py::Value::dict({{"name", "Ada"},
                                          {"langs", py::Value::list({"en", "fr"})},
                                          {"age", 36},
                                          {"score", 1.5},
                                          {"none", nullptr},
                                          {"ok", true}});
  CHECK(py::dumps(user, 2) == k_dict_of_list_2);
  CHECK(py::dumps(user) == k_dict_of_list_5);
  CHECK(py::loads(k_dict_of_list_5) == user);
  CHECK(py::loads(k_dict_of_list_2) == user);

  py::Time t;
  t.hour = 3;
  t.minute = 4;
  t.second = 5;
  t.microsecond = 6;
  t.has_offset = true;
  const py::Value when = py::DateTime{py::Date{2024, 1, 2}, t};
  CHECK(py::dumps(when, 2) == k_datetime_utc_2);
  CHECK(py::dumps(when, 5) == k_datetime_utc_5);
  CHECK(py::loads(k_datetime_utc_5) == when);
  CHECK(py::loads(k_datetime_utc_2).as_datetime().time.has_offset);

  const py::Value ints =
      py::Value::list({py::Value::integer("18446744073709551616"), py::Value::integer("-9223372036854775809"),
                       py::Value::integer("1000000000000000000000000000000")});
  CHECK(py::dumps(ints, 2) == k_bigint_2);
  CHECK(py::dumps(ints, 5) == k_bigint_5);
  CHECK(py::loads(k_bigint_2) == ints);

  const py::Value bytes = py::Value::list({py::Value::bytes("ab"), py::Value::bytes(""), py::Value::bytearray("xy")});
  CHECK(py::dumps(bytes, 2) == k_bytes_2);
  CHECK(py::dumps(bytes, 5) == k_bytes_5);
  CHECK(py::loads(k_bytes_2) == bytes);
}

TEST_CASE("pickle: a value shared in two places is written once, and read back shared") {
  const py::Value inner = py::Value::list({1, 2});
  const py::Value outer = py::Value::list({inner, inner});
  const std::string bytes = py::dumps(outer);
  // pickle.dumps([x, x]) with x = [1, 2]: the second is a memo reference (BINGET 1).
  CHECK(bytes == std::string("\x80\x05\x95\x0f\x00\x00\x00\x00\x00\x00\x00]\x94(]\x94(K\x01K\x02"
                             "eh\x01"
                             "e.",
                             26));
  const py::Value back = py::loads(bytes);
  CHECK(back[0].identity() == back[1].identity());
}

TEST_CASE("pickle: protocols outside 2 to 5 are refused for writing") {
  CHECK_THROWS_AS(py::dumps(py::Value(1), 1), cshelve::ValueTypeError);
  CHECK_THROWS_AS(py::dumps(py::Value(1), 6), cshelve::ValueTypeError);
  CHECK_THROWS_AS(py::dumps(py::Value::str("\xff")), cshelve::ValueTypeError);  // not UTF-8
}

TEST_CASE("py::Value through ValueCodec") {
  const py::Value v = py::Value::tuple({1, "two", 3.0});
  CHECK(cshelve::ValueCodec<py::Value>::decode(cshelve::ValueCodec<py::Value>::encode(v)) == v);
}
