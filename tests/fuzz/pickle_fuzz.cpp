// libFuzzer target: the pickle reader and writer (include/cshelve/python.hpp).
//
// Reading: any bytes either read or throw PickleFormatError or UnsupportedValueError; any other
// exception, a crash, a leak or undefined behaviour is a bug. Writing: a value read is written
// again at protocols 2 to 5; each of those reads back and writes the same bytes again, and from
// protocol 4 on (below it, datetime's fold is not written, as in Python) reads back equal.
#include <cshelve/errors.hpp>
#include <cshelve/python.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"

using cshelve_fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  cshelve::py::Value value;
  try {
    value = cshelve::py::loads(input);
  } catch (const cshelve::PickleFormatError&) {
    return 0;
  } catch (const cshelve::UnsupportedValueError&) {
    return 0;
  }
  for (int protocol = 2; protocol <= 5; ++protocol) {
    std::string written;
    try {
      written = cshelve::py::dumps(value, protocol);
    } catch (const cshelve::ValueTypeError&) {
      // A value Python could not hold either (a str that is not UTF-8 read from STRING...).
      return 0;
    }
    const cshelve::py::Value again = cshelve::py::loads(written);
    if (protocol >= 4) check(again == value, "a value written reads back equal");
    check(cshelve::py::dumps(again, protocol) == written, "a value read back writes the same bytes");
  }
  return 0;
}
