// The object behind a py::Value that is not an inline scalar (include/cshelve/python.hpp), and the
// integer arithmetic the pickle codec and the tool share.
#ifndef CSHELVE_CODEC_PYTHON_NODE_HPP
#define CSHELVE_CODEC_PYTHON_NODE_HPP

#include <cshelve/python.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cshelve::py::detail {

struct Node {
  // str (UTF-8), bytes, bytearray, Decimal's text, or an int beyond int64 as Python's pickle
  // writes it (two's complement, little-endian, fewest bytes).
  std::string text;
  Items items;      // list, tuple, set, frozenset
  Entries entries;  // dict, in insertion order
  double real = 0;  // complex
  double imag = 0;
  DateTime datetime;  // date (its date), time (its time), datetime
  TimeDelta delta;
  Uuid uuid;
  // The reader's bookkeeping: how many elements the value expands to (memo reuse counted again),
  // and whether it sits inside another container already (then it may no longer change, which
  // keeps the count exact and makes cycles impossible).
  std::size_t weight = 1;
  std::size_t depth = 1;
  bool contained = false;
  // Only on the reader's stack: a name of its allow-list or an object that only exists inside a
  // pickle (a timezone, a UUID before its state), and tuples holding one; never in a result.
  std::uint8_t special = 0;
  bool holds_special = false;
};

// An integer from Python's two's complement little-endian bytes: inline when it fits int64.
Value integer_from_le(std::string_view bytes);
// Python's encode_long for an int64 (used for values beyond 32 bits).
std::string le_from_int64(std::int64_t v);
// Decimal text <-> two's complement bytes (no size limit here: callers bound the input).
std::string le_from_decimal(std::string_view text);  // throws ValueTypeError on a bad number
std::string decimal_from_le(std::string_view bytes);

}  // namespace cshelve::py::detail

#endif
