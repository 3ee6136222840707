// cshelve: Python values, read from and written as the pickles Python cshelve stores.
//
//   #include <cshelve/python.hpp>
//   namespace py = cshelve::py;
//   py::Value user = py::Value::dict({{"name", "Ada"}, {"langs", py::Value::list({"en", "fr"})}});
//   db.set("user/1", user);                              // Python reads db["user/1"] as a dict
//   py::Value back = db.get<py::Value>("user/1");
//   std::string name = back["name"].as_str();
//
// A Value is a handle, like a Python name: copying it shares the object (a list appended to through
// one copy changes for every copy), and a value shared in two places is written once and referenced
// again, as Python's pickle does. clone() makes an independent deep copy.
//
// Reading never imports or calls anything: only the types below are accepted; anything else is
// UnsupportedValueError naming the class, and a damaged or hostile pickle is PickleFormatError.
// docs/python-values.md has the type mapping, the limits and examples.
#ifndef CSHELVE_PYTHON_HPP
#define CSHELVE_PYTHON_HPP

#include <cshelve/export.hpp>
#include <cshelve/value_codec.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cshelve::py {

enum class Kind : std::uint8_t {
  none,
  boolean,
  integer,
  floating,
  complex,
  str,
  bytes,
  bytearray,
  list,
  tuple,
  dict,
  set,
  frozenset,
  date,
  time,
  datetime,
  timedelta,
  decimal,
  uuid
};

// The Python name of a kind ("int", "datetime.date", ...), for messages.
CSHELVE_API std::string_view kind_name(Kind kind) noexcept;

// datetime.timedelta, normalized as Python keeps it: 0 <= seconds < 86400, 0 <= microseconds < 10^6.
struct TimeDelta {
  std::int32_t days = 0;
  std::int32_t seconds = 0;
  std::int32_t microseconds = 0;
  bool operator==(const TimeDelta& o) const noexcept {
    return days == o.days && seconds == o.seconds && microseconds == o.microseconds;
  }
  bool operator!=(const TimeDelta& o) const noexcept { return !(*this == o); }
};

// datetime.date: year 1..9999.
struct Date {
  int year = 1;
  int month = 1;
  int day = 1;
  bool operator==(const Date& o) const noexcept { return year == o.year && month == o.month && day == o.day; }
  bool operator!=(const Date& o) const noexcept { return !(*this == o); }
};

// datetime.time; with has_offset, tzinfo is datetime.timezone(utc_offset) (zero: timezone.utc).
struct Time {
  int hour = 0;
  int minute = 0;
  int second = 0;
  int microsecond = 0;
  int fold = 0;
  bool has_offset = false;
  TimeDelta utc_offset;
  bool operator==(const Time& o) const noexcept {
    return hour == o.hour && minute == o.minute && second == o.second && microsecond == o.microsecond &&
           fold == o.fold && has_offset == o.has_offset && (!has_offset || utc_offset == o.utc_offset);
  }
  bool operator!=(const Time& o) const noexcept { return !(*this == o); }
};

// datetime.datetime: a date and a time of day (naive, or with a fixed offset).
struct DateTime {
  Date date;
  Time time;
  bool operator==(const DateTime& o) const noexcept { return date == o.date && time == o.time; }
  bool operator!=(const DateTime& o) const noexcept { return !(*this == o); }
};

// uuid.UUID: its 16 bytes, big-endian (UUID.bytes), and UUID.is_safe (SafeUUID: 0 safe, -1 unsafe).
struct Uuid {
  std::array<std::uint8_t, 16> bytes{};
  bool has_is_safe = false;
  int is_safe = 0;
  bool operator==(const Uuid& o) const noexcept { return bytes == o.bytes; }
  bool operator!=(const Uuid& o) const noexcept { return !(*this == o); }
};

class Value;
namespace detail {
struct Node;
}

using Items = std::vector<Value>;
using Entries = std::vector<std::pair<Value, Value>>;

class CSHELVE_API Value {
 public:
  Value() noexcept : kind_(Kind::none) { scalar_.i = 0; }  // None
  Value(std::nullptr_t) noexcept : Value() {}
  Value(bool b) noexcept : kind_(Kind::boolean) { scalar_.b = b; }
  Value(int i) noexcept : kind_(Kind::integer) { scalar_.i = i; }
  Value(long i) noexcept : kind_(Kind::integer) { scalar_.i = static_cast<std::int64_t>(i); }
  Value(long long i) noexcept : kind_(Kind::integer) { scalar_.i = static_cast<std::int64_t>(i); }
  Value(unsigned i) noexcept : kind_(Kind::integer) { scalar_.i = i; }
  Value(unsigned long i);       // above 2^63 - 1 becomes a big int
  Value(unsigned long long i);  // above 2^63 - 1 becomes a big int
  Value(double f) noexcept : kind_(Kind::floating) { scalar_.f = f; }
  Value(const char* utf8);       // str
  Value(std::string_view utf8);  // str
  Value(const std::string& utf8) : Value(std::string_view(utf8)) {}
  Value(const Date& v);
  Value(const Time& v);
  Value(const DateTime& v);
  Value(const TimeDelta& v);
  Value(const Uuid& v);

  // Makers for the kinds a C++ literal does not say.
  static Value integer(std::string_view decimal_text);  // any size: "-123456789012345678901234567890"
  static Value str(std::string_view utf8);
  static Value bytes(std::string_view data);
  static Value bytearray(std::string_view data);
  static Value complex(double real, double imag);
  static Value decimal(std::string_view text);  // decimal.Decimal("text"), kept as its text
  static Value list(std::initializer_list<Value> items = {});
  static Value list(Items items);
  static Value tuple(std::initializer_list<Value> items = {});
  static Value tuple(Items items);
  static Value dict(std::initializer_list<std::pair<Value, Value>> entries = {});
  static Value dict(Entries entries);
  static Value set(std::initializer_list<Value> items = {});
  static Value set(Items items);
  static Value frozenset(std::initializer_list<Value> items = {});
  static Value frozenset(Items items);

  Kind kind() const noexcept { return kind_; }
  std::string_view kind_name() const noexcept { return py::kind_name(kind_); }
  bool is_none() const noexcept { return kind_ == Kind::none; }
  bool is(Kind k) const noexcept { return kind_ == k; }

  // Typed accessors: each throws ValueTypeError naming both kinds when the value is another kind.
  // Containers come back as references to the shared object.
  bool as_bool() const;
  bool fits_int64() const noexcept;  // an integer within int64
  std::int64_t as_int() const;       // ValueTypeError also when beyond int64 (see int_text())
  std::string int_text() const;      // integer as decimal text, any size
  double as_float() const;
  std::pair<double, double> as_complex() const;
  const std::string& as_str() const;      // UTF-8 (lone surrogates as WTF-8, see python-values.md)
  const std::string& as_bytes() const;    // bytes or bytearray
  std::string& as_bytearray();            // mutable bytearray
  const std::string& as_decimal() const;  // Decimal's text
  Items& as_list();                       // list (mutable)
  const Items& items() const;             // list, tuple, set, frozenset
  Entries& as_dict();                     // dict (mutable), insertion order
  const Entries& entries() const;         // dict
  const Date& as_date() const;
  const Time& as_time() const;
  const DateTime& as_datetime() const;
  const TimeDelta& as_timedelta() const;
  const Uuid& as_uuid() const;

  // Lookups: list/tuple by index, dict by key; ValueLookupError when absent. find() returns
  // nullptr instead.
  const Value& operator[](std::size_t index) const;
  const Value& operator[](int index) const;  // negative counts from the end, as in Python
  const Value& operator[](const Value& key) const;
  const Value& operator[](const char* key) const { return (*this)[Value(key)]; }
  const Value* find(const Value& key) const;
  std::size_t size() const;  // str (bytes of UTF-8), bytes, containers

  // Append to a list, add to a set, set a key of a dict (replacing an equal key's value).
  void append(Value item);
  void add(Value item);
  void set_item(Value key, Value value);

  // An independent copy, sharing nothing with this one.
  Value clone() const;
  // Python-like repr, for logs and tests.
  std::string repr() const;

  // Structural equality by kind (1 and 1.0 and True are different values here); floats equal by
  // value with NaN equal to NaN; dicts and sets regardless of order.
  friend CSHELVE_API bool operator==(const Value& a, const Value& b);
  friend bool operator!=(const Value& a, const Value& b) { return !(a == b); }

  // Internal: the object's identity for the pickle writer's memo (nullptr for inline scalars).
  const void* identity() const noexcept { return node_.get(); }
  const std::shared_ptr<detail::Node>& node() const noexcept { return node_; }
  Value(Kind kind, std::shared_ptr<detail::Node> node) noexcept : kind_(kind), node_(std::move(node)) { scalar_.i = 0; }

 private:
  Kind kind_;
  union {
    bool b;
    std::int64_t i;
    double f;
  } scalar_;
  std::shared_ptr<detail::Node> node_;  // everything that is not an inline scalar
};

// Limits of the reader (docs/python-values.md). Each guards the host against a hostile pickle.
struct ReadLimits {
  std::size_t max_depth = 1000;           // containers inside containers (Python writes < 500)
  std::size_t max_elements = 10'000'000;  // the value fully expanded: every element counted
                                          // once per place it appears (memo reuse counts again)
  std::size_t max_memo = 10'000'000;      // memo entries
  std::size_t max_int_digits = 4300;      // decimal digits of an int read as text (Python's own)
};

// Read a pickle (protocols 0 to 5). Throws PickleFormatError for bytes that are not a valid
// pickle of data, UnsupportedValueError for a valid pickle of a type this library does not build.
CSHELVE_API Value loads(std::string_view pickle, const ReadLimits& limits = {});

// Write a pickle, protocol 2 to 5 (5, Python cshelve's, by default): for the same value the same
// bytes as CPython 3.11's pickle.dumps(value, protocol).
CSHELVE_API std::string dumps(const Value& value, int protocol = 5);

}  // namespace cshelve::py

namespace cshelve {

template <>
struct ValueCodec<py::Value> {
  static std::string encode(const py::Value& value) { return py::dumps(value); }
  static py::Value decode(std::string_view bytes) { return py::loads(bytes); }
};

}  // namespace cshelve

#endif
