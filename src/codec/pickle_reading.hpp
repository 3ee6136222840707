// What the parts of the pickle reader share (pickle_reader.cpp runs the machine,
// pickle_globals.cpp holds the allow-list and builds its values, pickle_text.cpp parses the text
// arguments of protocol 0). Every function reports bad input as PickleFormatError or
// UnsupportedValueError.
#ifndef CSHELVE_CODEC_PICKLE_READING_HPP
#define CSHELVE_CODEC_PICKLE_READING_HPP

#include "codec/python_node.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cshelve::py::detail::reading {

// What a name of the allow-list stands for on the stack. Other stack entries are plain values.
enum class Global : std::uint8_t {
  none,
  codecs_encode,
  set,
  frozenset,
  bytearray,
  bytes,
  complex,
  object,
  reconstructor,
  date,
  time,
  datetime,
  timedelta,
  timezone,
  decimal,
  uuid,
  // Not names: an object that only the allow-list's constructors make.
  timezone_object,  // datetime.timezone(offset); its offset in delta
  pending_uuid,     // uuid.UUID made by NEWOBJ or _reconstructor, waiting for BUILD's state
};

[[noreturn]] void bad(const std::string& what);

// Values on the reader's stack (pickle_reader.cpp).
Global special_of(const Value& v);
Value special_value(Global g);
Value text_value(Kind kind, std::string_view bytes);
bool is_hashable(const Value& v);
// A value may become data (go into a list, dict or set, or be the result) only when it is not a
// name or an object that exists only inside a pickle.
void check_plain(const Value& v);
// Put `child` into `parent`: the child is frozen from now on, and counted in the parent's size
// and depth.
void adopt(Node& parent, const Value& child, const ReadLimits& limits);

// The allow-list (pickle_globals.cpp).
std::string global_name(Global g);
// GLOBAL, STACK_GLOBAL: the allowed name, or UnsupportedValueError.
Global find_global(std::string_view module, std::string_view name);
// REDUCE: the value the allowed callable would return, after checking its arguments.
Value call_global(Global g, const Items& args, const ReadLimits& limits);
// NEWOBJ / NEWOBJ_EX: only uuid.UUID, with no arguments (its state follows in BUILD).
void check_newobj(const Value& cls, const Value& args, const Value* kwargs);
// BUILD on a pending uuid.UUID: checks the state dict and makes the node a UUID's.
void apply_uuid_state(Node& uuid, const Value& state);

// The text arguments of protocol 0 (pickle_text.cpp).
Value int_from_text(std::string_view s, bool is_long, std::size_t max_digits);
Value float_from_text(std::string_view s);
// STRING: a quoted Python 2 str with backslash escapes; Python 3 reads it as ASCII.
Value string_literal(std::string_view s);
Value ascii_str(std::string_view bytes);
// UNICODE: raw-unicode-escape (latin-1 bytes; \uXXXX and \UXXXXXXXX escapes).
Value raw_unicode(std::string_view s);
// PUT, GET: a memo index in decimal.
std::uint64_t decimal_index(std::string_view s);

}  // namespace cshelve::py::detail::reading

#endif
