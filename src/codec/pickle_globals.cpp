// The allow-list of the pickle reader: the names GLOBAL and STACK_GLOBAL may resolve, and the
// values REDUCE, NEWOBJ and BUILD make of them, after checking their arguments as the Python
// constructors would.
#include "codec/pickle_reading.hpp"

#include <cshelve/errors.hpp>

#include <cstring>

#include "util/text.hpp"

namespace cshelve::py::detail::reading {

namespace {

struct AllowedName {
  std::string_view module;
  std::string_view name;
  Global global;
};

// The names CPython 3.11 writes for these types at protocols 0 to 5 (protocols 0 to 2 spell
// builtins "__builtin__" and copyreg "copy_reg").
constexpr AllowedName kAllowed[] = {
    {"_codecs", "encode", Global::codecs_encode},
    {"builtins", "set", Global::set},
    {"builtins", "frozenset", Global::frozenset},
    {"builtins", "bytearray", Global::bytearray},
    {"builtins", "bytes", Global::bytes},
    {"builtins", "complex", Global::complex},
    {"builtins", "object", Global::object},
    {"copyreg", "_reconstructor", Global::reconstructor},
    {"datetime", "date", Global::date},
    {"datetime", "time", Global::time},
    {"datetime", "datetime", Global::datetime},
    {"datetime", "timedelta", Global::timedelta},
    {"datetime", "timezone", Global::timezone},
    {"decimal", "Decimal", Global::decimal},
    {"uuid", "UUID", Global::uuid},
};

bool small_int(const Value& v, std::int64_t lo, std::int64_t hi, std::int64_t& out) {
  if (!v.fits_int64()) return false;
  out = v.as_int();
  return out >= lo && out <= hi;
}

bool valid_date(int y, int m, int d) {
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= days[m - 1] + (m == 2 && leap ? 1 : 0);
}

const std::string& bytes_arg(const Value& v, const char* what) {
  if (v.kind() != Kind::bytes) bad(util::concat({what, " expects bytes, got ", v.kind_name()}));
  return v.as_bytes();
}

TimeDelta delta_from(const Items& a) {
  std::int64_t d, s, us;
  if (a.size() != 3 || !small_int(a[0], -999999999, 999999999, d) || !small_int(a[1], 0, 86399, s) ||
      !small_int(a[2], 0, 999999, us))
    bad("datetime.timedelta expects normalized (days, seconds, microseconds)");
  return TimeDelta{static_cast<std::int32_t>(d), static_cast<std::int32_t>(s), static_cast<std::int32_t>(us)};
}

// Time of day from state bytes (for time, fold is the top bit of the hour).
Time time_from(std::string_view b, bool fold_in_hour) {
  Time t;
  int hour = static_cast<unsigned char>(b[0]);
  if (fold_in_hour && hour > 127) {
    t.fold = 1;
    hour -= 128;
  }
  t.hour = hour;
  t.minute = static_cast<unsigned char>(b[1]);
  t.second = static_cast<unsigned char>(b[2]);
  t.microsecond = (static_cast<unsigned char>(b[3]) << 16) | (static_cast<unsigned char>(b[4]) << 8) |
                  static_cast<unsigned char>(b[5]);
  if (t.hour > 23 || t.minute > 59 || t.second > 59 || t.microsecond > 999999) bad("time state out of range");
  return t;
}

void set_tz(Time& t, const Items& a, const char* what) {
  if (a.size() == 1) return;
  if (a.size() > 2) bad(util::concat({what, ": too many arguments"}));
  const Value& tz = a[1];
  if (tz.is_none() && !tz.node()) return;
  if (special_of(tz) != Global::timezone_object) bad(util::concat({what, ": tzinfo is not a datetime.timezone"}));
  t.has_offset = true;
  t.utc_offset = tz.node()->delta;
}

}  // namespace

std::string global_name(Global g) {
  for (const auto& allowed : kAllowed)
    if (allowed.global == g) return util::concat({allowed.module, ".", allowed.name});
  return "?";
}

Global find_global(std::string_view module, std::string_view name) {
  std::string_view m = module;
  if (m == "__builtin__") m = "builtins";
  if (m == "copy_reg") m = "copyreg";
  for (const auto& allowed : kAllowed)
    if (allowed.module == m && allowed.name == name) return allowed.global;
  throw UnsupportedValueError(util::concat(
      {"unsupported Python value: ", module.substr(0, 200), ".", name.substr(0, 200), " (only plain data is read)"}));
}

Value call_global(Global g, const Items& a, const ReadLimits& limits) {
  if (g != Global::reconstructor && g != Global::datetime && g != Global::time)
    for (const auto& v : a) check_plain(v);
  auto node = std::make_shared<Node>();
  switch (g) {
    case Global::codecs_encode: {
      // _codecs.encode(str, "latin1"): how protocols 0 to 2 write bytes.
      if (a.size() != 2 || a[0].kind() != Kind::str || a[1].kind() != Kind::str ||
          (a[1].as_str() != "latin1" && a[1].as_str() != "latin-1"))
        bad("_codecs.encode expects (str, 'latin1')");
      const std::string& s = a[0].as_str();
      node->text.reserve(s.size());
      for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
          node->text += static_cast<char>(c);
        } else if ((c == 0xc2 || c == 0xc3) && i + 1 < s.size()) {
          node->text += static_cast<char>(((c & 0x03) << 6) | (static_cast<unsigned char>(s[++i]) & 0x3f));
        } else {
          bad("_codecs.encode: a character beyond latin-1");
        }
      }
      return Value(Kind::bytes, std::move(node));
    }
    case Global::bytes:
      if (!a.empty()) bad("bytes expects no arguments here");
      return Value(Kind::bytes, std::move(node));
    case Global::bytearray:
      if (a.size() == 1 && a[0].kind() == Kind::bytes) {
        node->text = a[0].as_bytes();
      } else if (!a.empty()) {
        bad("bytearray expects (bytes,) or ()");
      }
      return Value(Kind::bytearray, std::move(node));
    case Global::set:
    case Global::frozenset: {
      Value v(g == Global::set ? Kind::set : Kind::frozenset, node);
      if (a.empty()) return v;
      if (a.size() != 1 || a[0].kind() != Kind::list) bad(util::concat({global_name(g), " expects (list,)"}));
      for (const auto& item : a[0].node()->items) {
        if (!is_hashable(item)) bad(util::concat({"unhashable set item of type ", item.kind_name()}));
        adopt(*node, item, limits);
        node->items.push_back(item);
      }
      return v;
    }
    case Global::complex:
      if (a.size() != 2 || a[0].kind() != Kind::floating || a[1].kind() != Kind::floating)
        bad("complex expects (float, float)");
      node->real = a[0].as_float();
      node->imag = a[1].as_float();
      return Value(Kind::complex, std::move(node));
    case Global::date: {
      if (a.size() != 1) bad("datetime.date expects (bytes,)");
      const std::string& b = bytes_arg(a[0], "datetime.date");
      if (b.size() != 4) bad(util::concat({"datetime.date state of ", std::to_string(b.size()), " bytes"}));
      Date& d = node->datetime.date;
      d.year = static_cast<unsigned char>(b[0]) * 256 + static_cast<unsigned char>(b[1]);
      d.month = static_cast<unsigned char>(b[2]);
      d.day = static_cast<unsigned char>(b[3]);
      if (!valid_date(d.year, d.month, d.day)) bad("datetime.date out of range");
      return Value(Kind::date, std::move(node));
    }
    case Global::time: {
      if (a.empty()) bad("datetime.time expects (bytes[, tzinfo])");
      const std::string& b = bytes_arg(a[0], "datetime.time");
      if (b.size() != 6) bad(util::concat({"datetime.time state of ", std::to_string(b.size()), " bytes"}));
      node->datetime.time = time_from(b, true);
      set_tz(node->datetime.time, a, "datetime.time");
      return Value(Kind::time, std::move(node));
    }
    case Global::datetime: {
      if (a.empty()) bad("datetime.datetime expects (bytes[, tzinfo])");
      const std::string& b = bytes_arg(a[0], "datetime.datetime");
      if (b.size() != 10) bad(util::concat({"datetime.datetime state of ", std::to_string(b.size()), " bytes"}));
      DateTime& dt = node->datetime;
      int month = static_cast<unsigned char>(b[2]);
      int fold = 0;
      if (month > 127) {
        fold = 1;
        month -= 128;
      }
      dt.date = Date{static_cast<unsigned char>(b[0]) * 256 + static_cast<unsigned char>(b[1]), month,
                     static_cast<unsigned char>(b[3])};
      if (!valid_date(dt.date.year, dt.date.month, dt.date.day)) bad("datetime.datetime out of range");
      dt.time = time_from(std::string_view(b).substr(4), false);
      dt.time.fold = fold;
      set_tz(dt.time, a, "datetime.datetime");
      return Value(Kind::datetime, std::move(node));
    }
    case Global::timedelta: node->delta = delta_from(a); return Value(Kind::timedelta, std::move(node));
    case Global::timezone: {
      if (a.size() == 2) throw UnsupportedValueError("unsupported Python value: datetime.timezone with a name");
      if (a.size() != 1 || a[0].kind() != Kind::timedelta) bad("datetime.timezone expects (timedelta,)");
      const TimeDelta& d = a[0].as_timedelta();
      // Python: strictly between -24 and 24 hours.
      if (!(d.days == 0 || (d.days == -1 && (d.seconds > 0 || d.microseconds > 0))))
        bad("datetime.timezone offset out of range");
      node->delta = d;
      node->special = static_cast<std::uint8_t>(Global::timezone_object);
      return Value(Kind::none, std::move(node));
    }
    case Global::decimal: {
      if (a.size() != 1 || a[0].kind() != Kind::str) bad("decimal.Decimal expects (str,)");
      const std::string& s = a[0].as_str();
      if (s.empty()) bad("decimal.Decimal of an empty text");
      for (char c : s)
        if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E' ||
              (c != 0 && std::strchr("InfinitysNa", c))))
          bad("decimal.Decimal of a text that is not a number");
      node->text = s;
      return Value(Kind::decimal, std::move(node));
    }
    case Global::reconstructor: {
      // copyreg._reconstructor(uuid.UUID, object, None): protocols 0 and 1 for UUID.
      if (a.size() != 3 || special_of(a[0]) != Global::uuid || special_of(a[1]) != Global::object ||
          a[2].kind() != Kind::none || a[2].node())
        throw UnsupportedValueError("unsupported Python value: copyreg._reconstructor other than for uuid.UUID");
      return special_value(Global::pending_uuid);
    }
    case Global::uuid: bad("uuid.UUID is made by NEWOBJ or copyreg._reconstructor, not called");
    default: break;
  }
  throw UnsupportedValueError(util::concat({"unsupported Python value: a call of ", global_name(g)}));
}

void check_newobj(const Value& cls, const Value& args, const Value* kwargs) {
  const Global g = special_of(cls);
  if (g != Global::uuid)
    throw UnsupportedValueError(util::concat(
        {"unsupported Python value: NEWOBJ of ", g == Global::none ? std::string(cls.kind_name()) : global_name(g)}));
  if (args.kind() != Kind::tuple || !args.node()->items.empty() ||
      (kwargs && (kwargs->kind() != Kind::dict || !kwargs->node()->entries.empty())))
    bad("uuid.UUID made with arguments");
}

void apply_uuid_state(Node& n, const Value& state) {
  if (state.kind() != Kind::dict) bad("uuid.UUID state is not a dict");
  bool has_int = false;
  for (const auto& [key, value] : state.node()->entries) {
    if (key.kind() != Kind::str) bad("uuid.UUID state key is not a str");
    if (key.as_str() == "int") {
      if (value.kind() != Kind::integer) bad("uuid.UUID int is not an int");
      std::string le = value.fits_int64() ? le_from_int64(value.as_int()) : value.node()->text;
      if (!le.empty() && (static_cast<unsigned char>(le.back()) & 0x80)) bad("uuid.UUID int is negative");
      while (le.size() > 16 && le.back() == 0) le.pop_back();
      if (le.size() > 16) bad("uuid.UUID int beyond 128 bits");
      n.uuid.bytes = {};
      for (std::size_t i = 0; i < le.size(); ++i) n.uuid.bytes[15 - i] = static_cast<std::uint8_t>(le[i]);
      has_int = true;
    } else if (key.as_str() == "is_safe") {
      std::int64_t v = 0;
      if (value.is_none()) {
        n.uuid.has_is_safe = false;
      } else if (small_int(value, -1, 0, v)) {
        n.uuid.has_is_safe = true;
        n.uuid.is_safe = static_cast<int>(v);
      } else {
        bad("uuid.UUID is_safe is not 0, -1 or None");
      }
    } else {
      bad("uuid.UUID state has an unknown key");
    }
  }
  if (!has_int) bad("uuid.UUID state without int");
  n.special = 0;
}

}  // namespace cshelve::py::detail::reading
