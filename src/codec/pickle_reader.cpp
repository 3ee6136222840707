// The pickle reader: protocols 0 to 5, data only. It runs the pickle machine's stack and memo but
// never imports or calls anything: GLOBAL and STACK_GLOBAL resolve only names of an allow-list,
// and REDUCE, NEWOBJ and BUILD on those build the matching py::Value after checking their
// arguments. Every length is checked against the bytes that remain before anything is allocated.
#include "codec/pickle_common.hpp"
#include "codec/python_node.hpp"

#include <cshelve/errors.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

namespace cshelve::py {

namespace detail {

bool valid_utf8_surrogatepass(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    unsigned long cp;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) return false;
    i += len;
  }
  return true;
}

void append_utf8(std::string& out, unsigned long cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

}  // namespace detail

namespace {

using detail::Node;
namespace op = detail::op;

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

[[noreturn]] void bad(const std::string& what) { throw PickleFormatError("invalid pickle: " + what); }

bool is_hashable(const Value& v) {
  switch (v.kind()) {
    case Kind::list:
    case Kind::dict:
    case Kind::set:
    case Kind::bytearray: return false;
    case Kind::tuple:
      for (const auto& item : v.items())
        if (!is_hashable(item)) return false;
      return true;
    default: return true;
  }
}

Global special_of(const Value& v) {
  const Node* n = v.node().get();
  return n ? static_cast<Global>(n->special) : Global::none;
}

std::string global_name(Global g) {
  for (const auto& allowed : kAllowed)
    if (allowed.global == g) return std::string(allowed.module) + "." + std::string(allowed.name);
  return "?";
}

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

class Reader {
 public:
  Reader(std::string_view data, const ReadLimits& limits) : data_(data), limits_(limits) {}

  Value run() {
    for (;;) {
      const auto code = static_cast<unsigned char>(take(1)[0]);
      if (code == static_cast<unsigned char>(op::STOP)) break;
      step(code);
    }
    if (stack_.size() != 1 || !marks_.empty())
      bad("STOP with " + std::to_string(stack_.size()) + " values on the stack");
    check_plain(stack_.back());
    return std::move(stack_.back());
  }

 private:
  // --- Input -----------------------------------------------------------------------------------
  std::string_view take(std::uint64_t n) {
    if (n > data_.size() - pos_)
      bad("truncated: needs " + std::to_string(n) + " bytes at offset " + std::to_string(pos_) + ", " +
          std::to_string(data_.size() - pos_) + " remain");
    std::string_view out = data_.substr(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return out;
  }
  std::uint64_t le(std::size_t n) {
    const std::string_view b = take(n);
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t(static_cast<unsigned char>(b[i])) << (8 * i);
    return v;
  }
  std::string_view line() {
    const std::size_t end = data_.find('\n', pos_);
    if (end == std::string_view::npos) bad("truncated: a text argument has no end of line");
    std::string_view out = data_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return out;
  }

  // --- Stack -----------------------------------------------------------------------------------
  std::size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  Value pop() {
    if (stack_.size() <= floor()) bad("stack underflow");
    Value v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  Value& top() {
    if (stack_.size() <= floor()) bad("stack underflow");
    return stack_.back();
  }
  std::size_t pop_mark() {
    if (marks_.empty()) bad("MARK missing");
    const std::size_t m = marks_.back();
    marks_.pop_back();
    return m;
  }
  void push(Value v) { stack_.push_back(std::move(v)); }
  Value special(Global g) {
    auto node = std::make_shared<Node>();
    node->special = static_cast<std::uint8_t>(g);
    return Value(Kind::none, std::move(node));
  }

  // A value may become data (go into a list, dict or set, or be the result) only when it is not a
  // name or an object that exists only inside a pickle.
  static void check_plain(const Value& v) {
    const Node* n = v.node().get();
    if (!n || (!n->special && !n->holds_special)) return;
    const Global g = static_cast<Global>(n->special);
    if (g == Global::pending_uuid) bad("uuid.UUID without its state (BUILD)");
    if (g == Global::timezone_object)
      throw UnsupportedValueError("unsupported Python value: datetime.timezone alone (only inside a datetime or time)");
    if (g != Global::none)
      throw UnsupportedValueError("unsupported Python value: the class or function " + std::string(global_name(g)) +
                                  " itself");
    throw UnsupportedValueError("unsupported Python value: a tuple holding a class, function or timezone");
  }

  static bool is_hashable(const Value& v) {
    switch (v.kind()) {
      case Kind::list:
      case Kind::dict:
      case Kind::set:
      case Kind::bytearray: return false;
      case Kind::tuple:
        for (const auto& item : v.node()->items)
          if (!is_hashable(item)) return false;
        return true;
      default: return true;
    }
  }

  // Put `child` into `parent`: the child is frozen from now on, and counted in the parent's size
  // and depth.
  void adopt(Node& parent, const Value& child) {
    if (Node* c = child.node().get()) {
      if (c == &parent) bad("a container inside itself");
      c->contained = true;
      parent.weight += c->weight;
      if (c->depth + 1 > parent.depth) {
        if (c->depth + 1 > limits_.max_depth) bad("nesting deeper than " + std::to_string(limits_.max_depth));
        parent.depth = c->depth + 1;
      }
      if (c->special || c->holds_special) parent.holds_special = true;
    } else {
      parent.weight += 1;
    }
    if (parent.weight > limits_.max_elements)
      bad("the value expands to more than " + std::to_string(limits_.max_elements) + " elements");
  }

  // APPEND(S), SETITEM(S), ADDITEMS: the stack from `first` onto `target`.
  void extend(Value& target, std::size_t first) {
    Node* node = target.node().get();
    if (!node || node->special) bad("adding items to a " + std::string(target.kind_name()));
    if (node->contained) bad("a container changed after it was put into another");
    const std::size_t n = stack_.size() - first;
    if (target.kind() == Kind::dict) {
      if (n % 2) bad("SETITEMS with an odd number of items");
      node->entries.reserve(node->entries.size() + n / 2);
      for (std::size_t i = first; i < stack_.size(); i += 2) {
        Value& key = stack_[i];
        Value& value = stack_[i + 1];
        check_plain(key);
        check_plain(value);
        if (!is_hashable(key)) bad("unhashable dict key of type " + std::string(key.kind_name()));
        adopt(*node, key);
        adopt(*node, value);
        node->entries.emplace_back(std::move(key), std::move(value));
      }
    } else {
      const bool set = target.kind() == Kind::set;
      if (target.kind() != Kind::list && !set) bad("adding items to a " + std::string(target.kind_name()));
      node->items.reserve(node->items.size() + n);
      for (std::size_t i = first; i < stack_.size(); ++i) {
        Value& item = stack_[i];
        check_plain(item);
        if (set && !is_hashable(item)) bad("unhashable set item of type " + std::string(item.kind_name()));
        adopt(*node, item);
        node->items.push_back(std::move(item));
      }
    }
    stack_.resize(first);
  }

  // TUPLE*, FROZENSET, LIST, DICT: a new container from the stack's top items.
  Value collect(Kind kind, std::size_t first) {
    if (first > stack_.size() || first < floor()) bad("stack underflow");
    auto node = std::make_shared<Node>();
    Value v(kind, node);
    if (kind == Kind::tuple) {
      node->items.reserve(stack_.size() - first);
      for (std::size_t i = first; i < stack_.size(); ++i) {
        adopt(*node, stack_[i]);
        node->items.push_back(std::move(stack_[i]));
      }
      stack_.resize(first);
    } else {
      extend(v, first);
    }
    return v;
  }
  Value empty(Kind kind) { return Value(kind, std::make_shared<Node>()); }
  Value text(Kind kind, std::string_view bytes) {
    auto node = std::make_shared<Node>();
    node->text.assign(bytes.data(), bytes.size());
    return Value(kind, std::move(node));
  }
  Value str(std::string_view utf8) {
    if (!detail::valid_utf8_surrogatepass(utf8)) bad("a str that is not UTF-8");
    return text(Kind::str, utf8);
  }

  // --- Memo ------------------------------------------------------------------------------------
  void memo_put(std::uint64_t index) {
    const Value& v = top();
    if (index >= limits_.max_memo) bad("memo index " + std::to_string(index) + " beyond the limit");
    if (index >= memo_.size()) {
      // CPython writes indices in order; a far jump would only cost memory.
      if (index > memo_.size() + 65536) bad("memo index " + std::to_string(index) + " far beyond the memo's size");
      memo_.resize(static_cast<std::size_t>(index) + 1);
      defined_.resize(static_cast<std::size_t>(index) + 1, false);
    }
    if (!defined_[index]) ++memo_count_;
    memo_[index] = v;
    defined_[index] = true;
  }
  void memo_get(std::uint64_t index) {
    if (index >= memo_.size() || !defined_[index]) bad("memo index " + std::to_string(index) + " not defined");
    stack_.push_back(memo_[index]);
  }
  std::uint64_t decimal_index(std::string_view s) {
    std::uint64_t v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size())
      bad("bad memo index '" + std::string(s.substr(0, 40)) + "'");
    return v;
  }

  // --- Text forms of protocol 0 ----------------------------------------------------------------
  Value int_from_text(std::string_view s, bool is_long) {
    if (is_long && !s.empty() && s.back() == 'L') s.remove_suffix(1);
    if (!is_long && s == "01") return Value(true);
    if (!is_long && s == "00") return Value(false);
    std::string_view digits = s;
    if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) digits.remove_prefix(1);
    if (digits.empty() || digits.size() > limits_.max_int_digits)
      bad("an int of " + std::to_string(digits.size()) + " digits");
    for (char c : digits)
      if (c < '0' || c > '9') bad("not an int: '" + std::string(s.substr(0, 40)) + "'");
    return detail::integer_from_le(detail::le_from_decimal(s));
  }
  Value float_from_text(std::string_view s) {
    double d = 0;
    std::string_view t = s;
    if (!t.empty() && t[0] == '+') t.remove_prefix(1);
    auto r = std::from_chars(t.data(), t.data() + t.size(), d);
    if (r.ec == std::errc::result_out_of_range && r.ptr == t.data() + t.size()) {
      d = std::strtod(std::string(t).c_str(), nullptr);  // Python's float(): inf or 0.0
    } else if (r.ec != std::errc() || r.ptr != t.data() + t.size()) {
      bad("not a float: '" + std::string(s.substr(0, 40)) + "'");
    }
    return Value(d);
  }
  // STRING: a quoted Python 2 str with backslash escapes; Python 3 reads it as ASCII.
  Value string_literal(std::string_view s) {
    if (s.size() < 2 || s.front() != s.back() || (s.front() != '\'' && s.front() != '"')) bad("STRING not quoted");
    s = s.substr(1, s.size() - 2);
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      char c = s[i];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (++i == s.size()) bad("STRING ends in a backslash");
      c = s[i];
      switch (c) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'v': out += '\v'; break;
        case '\n': break;
        case 'x': {
          if (s.size() - i < 3) bad("STRING: short \\x escape");
          unsigned v = 0;
          auto r = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
          if (r.ptr != s.data() + i + 3) bad("STRING: bad \\x escape");
          out += static_cast<char>(v);
          i += 2;
          break;
        }
        default:
          if (c >= '0' && c <= '7') {
            unsigned v = 0;
            std::size_t k = 0;
            for (; k < 3 && i + k < s.size() && s[i + k] >= '0' && s[i + k] <= '7'; ++k)
              v = v * 8 + unsigned(s[i + k] - '0');
            out += static_cast<char>(v & 0xff);
            i += k - 1;
          } else if (c == '\\' || c == '\'' || c == '"') {
            out += c;
          } else {
            out += '\\';
            out += c;
          }
      }
    }
    return ascii_str(out);
  }
  Value ascii_str(std::string_view bytes) {
    for (unsigned char c : bytes)
      if (c >= 0x80) bad("a Python 2 str that is not ASCII");
    return text(Kind::str, bytes);
  }
  // UNICODE: raw-unicode-escape (latin-1 bytes; \uXXXX and \UXXXXXXXX escapes).
  Value raw_unicode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c == '\\') {
        std::size_t run = 0;
        while (i + run < s.size() && s[i + run] == '\\') ++run;
        const std::size_t after = i + run;
        if (run % 2 == 1 && after < s.size() && (s[after] == 'u' || s[after] == 'U')) {
          out.append(run - 1, '\\');
          const std::size_t digits = s[after] == 'u' ? 4 : 8;
          if (s.size() - after - 1 < digits) bad("UNICODE: short escape");
          unsigned long cp = 0;
          auto r = std::from_chars(s.data() + after + 1, s.data() + after + 1 + digits, cp, 16);
          if (r.ptr != s.data() + after + 1 + digits || cp > 0x10ffff) bad("UNICODE: bad escape");
          detail::append_utf8(out, cp);
          i = after + 1 + digits;
        } else {
          out.append(run, '\\');
          i = after;
        }
        continue;
      }
      detail::append_utf8(out, c);
      ++i;
    }
    return text(Kind::str, out);
  }

  // --- The allow-list --------------------------------------------------------------------------
  void push_global(std::string_view module, std::string_view name) {
    std::string_view m = module;
    if (m == "__builtin__") m = "builtins";
    if (m == "copy_reg") m = "copyreg";
    for (const auto& allowed : kAllowed)
      if (allowed.module == m && allowed.name == name) {
        push(special(allowed.global));
        return;
      }
    throw UnsupportedValueError("unsupported Python value: " + std::string(module.substr(0, 200)) + "." +
                                std::string(name.substr(0, 200)) + " (only plain data is read)");
  }

  static const std::string& bytes_arg(const Value& v, const char* what) {
    if (v.kind() != Kind::bytes) bad(std::string(what) + " expects bytes, got " + std::string(v.kind_name()));
    return v.as_bytes();
  }

  static TimeDelta delta_from(const Items& a) {
    std::int64_t d, s, us;
    if (a.size() != 3 || !small_int(a[0], -999999999, 999999999, d) || !small_int(a[1], 0, 86399, s) ||
        !small_int(a[2], 0, 999999, us))
      bad("datetime.timedelta expects normalized (days, seconds, microseconds)");
    return TimeDelta{static_cast<std::int32_t>(d), static_cast<std::int32_t>(s), static_cast<std::int32_t>(us)};
  }

  // Time of day from state bytes (for time, fold is the top bit of the hour).
  static Time time_from(std::string_view b, bool fold_in_hour) {
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

  static void set_tz(Time& t, const Items& a, const char* what) {
    if (a.size() == 1) return;
    if (a.size() > 2) bad(std::string(what) + ": too many arguments");
    const Value& tz = a[1];
    if (tz.is_none() && !tz.node()) return;
    if (special_of(tz) != Global::timezone_object) bad(std::string(what) + ": tzinfo is not a datetime.timezone");
    t.has_offset = true;
    t.utc_offset = tz.node()->delta;
  }

  static void check_args_plain(const Items& a) {
    for (const auto& v : a) check_plain(v);
  }

  // REDUCE: the value the allowed callable would return, after checking its arguments.
  Value call(Global g, const Items& a) {
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
        if (a.size() != 1 || a[0].kind() != Kind::list) bad(std::string(global_name(g)) + " expects (list,)");
        for (const auto& item : a[0].node()->items) {
          if (!is_hashable(item)) bad("unhashable set item of type " + std::string(item.kind_name()));
          adopt(*node, item);
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
        if (b.size() != 4) bad("datetime.date state of " + std::to_string(b.size()) + " bytes");
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
        if (b.size() != 6) bad("datetime.time state of " + std::to_string(b.size()) + " bytes");
        node->datetime.time = time_from(b, true);
        set_tz(node->datetime.time, a, "datetime.time");
        return Value(Kind::time, std::move(node));
      }
      case Global::datetime: {
        if (a.empty()) bad("datetime.datetime expects (bytes[, tzinfo])");
        const std::string& b = bytes_arg(a[0], "datetime.datetime");
        if (b.size() != 10) bad("datetime.datetime state of " + std::to_string(b.size()) + " bytes");
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
        return pending_uuid();
      }
      case Global::uuid: bad("uuid.UUID is made by NEWOBJ or copyreg._reconstructor, not called");
      default: break;
    }
    throw UnsupportedValueError("unsupported Python value: a call of " + std::string(global_name(g)));
  }
  Value pending_uuid() {
    auto node = std::make_shared<Node>();
    node->special = static_cast<std::uint8_t>(Global::pending_uuid);
    return Value(Kind::none, std::move(node));
  }

  void reduce() {
    Value args = pop();
    Value callable = pop();
    if (args.kind() != Kind::tuple) bad("REDUCE arguments are not a tuple");
    const Global g = special_of(callable);
    if (g == Global::none || g == Global::timezone_object || g == Global::pending_uuid)
      bad("REDUCE on " + std::string(callable.kind_name()) + ", not an allowed name");
    const Items& a = args.node()->items;
    if (g != Global::reconstructor && g != Global::datetime && g != Global::time) check_args_plain(a);
    push(call(g, a));
  }

  // NEWOBJ / NEWOBJ_EX: only uuid.UUID, with no arguments (its state follows in BUILD).
  void newobj(const Value& cls, const Value& args, const Value* kwargs) {
    const Global g = special_of(cls);
    if (g != Global::uuid)
      throw UnsupportedValueError("unsupported Python value: NEWOBJ of " +
                                  (g == Global::none ? std::string(cls.kind_name()) : std::string(global_name(g))));
    if (args.kind() != Kind::tuple || !args.node()->items.empty() ||
        (kwargs && (kwargs->kind() != Kind::dict || !kwargs->node()->entries.empty())))
      bad("uuid.UUID made with arguments");
    push(pending_uuid());
  }

  void build() {
    Value state = pop();
    Value& target = top();
    if (special_of(target) != Global::pending_uuid)
      throw UnsupportedValueError("unsupported Python value: BUILD of a " + std::string(target.kind_name()));
    if (state.kind() != Kind::dict) bad("uuid.UUID state is not a dict");
    Node& n = *target.node();
    bool has_int = false;
    for (const auto& [key, value] : state.node()->entries) {
      if (key.kind() != Kind::str) bad("uuid.UUID state key is not a str");
      if (key.as_str() == "int") {
        if (value.kind() != Kind::integer) bad("uuid.UUID int is not an int");
        std::string le = value.fits_int64() ? detail::le_from_int64(value.as_int()) : value.node()->text;
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
    // The same object, now a UUID: memo entries that refer to it see the change, as in Python.
    n.special = 0;
    target = Value(Kind::uuid, target.node());
    for (std::size_t i = 0; i < memo_.size(); ++i)
      if (defined_[i] && memo_[i].node() == target.node()) memo_[i] = target;
  }

  void step(unsigned char code) {
    switch (code) {
      case op::MARK: marks_.push_back(stack_.size()); return;
      case op::POP:
        if (!stack_.empty() && stack_.size() == floor() && !marks_.empty()) {
          marks_.pop_back();  // Python's POP discards a MARK at the top
        } else {
          pop();
        }
        return;
      case op::POP_MARK: stack_.resize(pop_mark()); return;
      case op::DUP: push(top()); return;
      case op::FLOAT: push(float_from_text(line())); return;
      case op::INT: push(int_from_text(line(), false)); return;
      case op::LONG: push(int_from_text(line(), true)); return;
      case op::BININT: push(Value(static_cast<long long>(static_cast<std::int32_t>(le(4))))); return;
      case op::BININT1: push(Value(static_cast<long long>(le(1)))); return;
      case op::BININT2: push(Value(static_cast<long long>(le(2)))); return;
      case op::NONE: push(Value()); return;
      case op::PERSID:
      case op::BINPERSID: throw UnsupportedValueError("unsupported Python value: a persistent id (PERSID)");
      case op::REDUCE: reduce(); return;
      case op::STRING: push(string_literal(line())); return;
      case op::BINSTRING: {
        const auto n = static_cast<std::int32_t>(le(4));
        if (n < 0) bad("BINSTRING of negative length");
        push(ascii_str(take(static_cast<std::uint64_t>(n))));
        return;
      }
      case op::SHORT_BINSTRING: push(ascii_str(take(le(1)))); return;
      case op::UNICODE: push(raw_unicode(line())); return;
      case op::BINUNICODE: push(str(take(le(4)))); return;
      case op::APPEND: {
        const std::size_t first = stack_.size() - 1;
        if (stack_.size() < floor() + 2) bad("stack underflow");
        extend(stack_[first - 1], first);
        return;
      }
      case op::BUILD: build(); return;
      case op::GLOBAL: {
        const std::string_view module = line();
        const std::string_view name = line();
        push_global(module, name);
        return;
      }
      case op::DICT: {
        const std::size_t first = pop_mark();
        push(collect(Kind::dict, first));
        return;
      }
      case op::EMPTY_DICT: push(empty(Kind::dict)); return;
      case op::APPENDS:
      case op::SETITEMS:
      case op::ADDITEMS: {
        const std::size_t first = pop_mark();
        if (first == 0 || first < floor() + 1) bad("stack underflow");
        if (code == op::ADDITEMS && stack_[first - 1].kind() != Kind::set) bad("ADDITEMS on a non-set");
        if (code == op::APPENDS && stack_[first - 1].kind() != Kind::list) bad("APPENDS on a non-list");
        if (code == op::SETITEMS && stack_[first - 1].kind() != Kind::dict) bad("SETITEMS on a non-dict");
        extend(stack_[first - 1], first);
        return;
      }
      case op::GET: memo_get(decimal_index(line())); return;
      case op::BINGET: memo_get(le(1)); return;
      case op::LONG_BINGET: memo_get(le(4)); return;
      case op::INST:
      case op::OBJ: {
        if (code == op::INST) {
          const std::string_view module = line();
          const std::string_view name = line();
          throw UnsupportedValueError("unsupported Python value: " + std::string(module.substr(0, 200)) + "." +
                                      std::string(name.substr(0, 200)) + " (INST)");
        }
        throw UnsupportedValueError("unsupported Python value: an instance (OBJ)");
      }
      case op::LIST: {
        const std::size_t first = pop_mark();
        push(collect(Kind::list, first));
        return;
      }
      case op::EMPTY_LIST: push(empty(Kind::list)); return;
      case op::PUT: memo_put(decimal_index(line())); return;
      case op::BINPUT: memo_put(le(1)); return;
      case op::LONG_BINPUT: memo_put(le(4)); return;
      case op::SETITEM: {
        if (stack_.size() < floor() + 3) bad("stack underflow");
        extend(stack_[stack_.size() - 3], stack_.size() - 2);
        return;
      }
      case op::TUPLE: {
        const std::size_t first = pop_mark();
        push(collect(Kind::tuple, first));
        return;
      }
      case op::EMPTY_TUPLE: push(empty(Kind::tuple)); return;
      case op::BINFLOAT: {
        const std::uint64_t raw = le(8);
        std::uint64_t be = 0;
        for (int i = 0; i < 8; ++i) be |= ((raw >> (8 * i)) & 0xff) << (8 * (7 - i));
        double d;
        std::memcpy(&d, &be, sizeof d);
        push(Value(d));
        return;
      }
      case op::BINBYTES: push(text(Kind::bytes, take(le(4)))); return;
      case op::SHORT_BINBYTES: push(text(Kind::bytes, take(le(1)))); return;
      case op::PROTO: {
        const auto proto = le(1);
        if (proto > 5) bad("protocol " + std::to_string(proto) + " (this reader knows 0 to 5)");
        return;
      }
      case op::NEWOBJ: {
        Value args = pop();
        Value cls = pop();
        newobj(cls, args, nullptr);
        return;
      }
      case op::NEWOBJ_EX: {
        Value kwargs = pop();
        Value args = pop();
        Value cls = pop();
        newobj(cls, args, &kwargs);
        return;
      }
      case op::EXT1:
      case op::EXT2:
      case op::EXT4: throw UnsupportedValueError("unsupported Python value: an extension code (EXT)");
      case op::TUPLE1:
      case op::TUPLE2:
      case op::TUPLE3: {
        const std::size_t n = code - op::TUPLE1 + 1;
        if (stack_.size() < floor() + n) bad("stack underflow");
        push(collect(Kind::tuple, stack_.size() - n));
        return;
      }
      case op::NEWTRUE: push(Value(true)); return;
      case op::NEWFALSE: push(Value(false)); return;
      case op::LONG1: push(detail::integer_from_le(take(le(1)))); return;
      case op::LONG4: {
        const auto n = static_cast<std::int32_t>(le(4));
        if (n < 0) bad("LONG4 of negative length");
        push(detail::integer_from_le(take(static_cast<std::uint64_t>(n))));
        return;
      }
      case op::SHORT_BINUNICODE: push(str(take(le(1)))); return;
      case op::BINUNICODE8: push(str(take(le(8)))); return;
      case op::BINBYTES8: push(text(Kind::bytes, take(le(8)))); return;
      case op::EMPTY_SET: push(empty(Kind::set)); return;
      case op::FROZENSET: {
        const std::size_t first = pop_mark();
        auto v = empty(Kind::set);
        extend(v, first);
        push(Value(Kind::frozenset, v.node()));
        return;
      }
      case op::STACK_GLOBAL: {
        Value name = pop();
        Value module = pop();
        if (module.kind() != Kind::str || name.kind() != Kind::str) bad("STACK_GLOBAL of non-str names");
        push_global(module.as_str(), name.as_str());
        return;
      }
      case op::MEMOIZE: memo_put(memo_count_); return;
      case op::FRAME: {
        const std::uint64_t n = le(8);
        if (n > data_.size() - pos_) bad("FRAME of " + std::to_string(n) + " bytes, beyond the data");
        return;
      }
      case op::BYTEARRAY8: push(text(Kind::bytearray, take(le(8)))); return;
      case op::NEXT_BUFFER:
      case op::READONLY_BUFFER:
        throw UnsupportedValueError("unsupported Python value: an out-of-band buffer (pickle protocol 5 buffers)");
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "0x%02x", code);
        bad(std::string("unknown opcode ") + buf + " at offset " + std::to_string(pos_ - 1));
      }
    }
  }

  std::string_view data_;
  std::size_t pos_ = 0;
  const ReadLimits& limits_;
  std::vector<Value> stack_;
  std::vector<std::size_t> marks_;
  std::vector<Value> memo_;
  std::vector<bool> defined_;
  std::size_t memo_count_ = 0;
};

}  // namespace

Value loads(std::string_view pickle, const ReadLimits& limits) { return Reader(pickle, limits).run(); }

}  // namespace cshelve::py
