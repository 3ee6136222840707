// py::Value: construction, accessors, equality, repr (integers of any size: python_integer.cpp).
#include "codec/python_node.hpp"

#include <cshelve/errors.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "util/text.hpp"

namespace cshelve::py {

using detail::Node;

std::string_view kind_name(Kind kind) noexcept {
  switch (kind) {
    case Kind::none: return "NoneType";
    case Kind::boolean: return "bool";
    case Kind::integer: return "int";
    case Kind::floating: return "float";
    case Kind::complex: return "complex";
    case Kind::str: return "str";
    case Kind::bytes: return "bytes";
    case Kind::bytearray: return "bytearray";
    case Kind::list: return "list";
    case Kind::tuple: return "tuple";
    case Kind::dict: return "dict";
    case Kind::set: return "set";
    case Kind::frozenset: return "frozenset";
    case Kind::date: return "datetime.date";
    case Kind::time: return "datetime.time";
    case Kind::datetime: return "datetime.datetime";
    case Kind::timedelta: return "datetime.timedelta";
    case Kind::decimal: return "decimal.Decimal";
    case Kind::uuid: return "uuid.UUID";
  }
  return "?";
}

namespace {

std::shared_ptr<Node> make_node() { return std::make_shared<Node>(); }

Value text_value(Kind kind, std::string_view text) {
  auto node = make_node();
  node->text.assign(text.data(), text.size());
  return Value(kind, std::move(node));
}

Value items_value(Kind kind, Items items) {
  auto node = make_node();
  node->items = std::move(items);
  return Value(kind, std::move(node));
}

[[noreturn]] void wrong_kind(const Value& v, std::string_view wanted) {
  throw ValueTypeError(util::concat({"expected ", wanted, ", got ", v.kind_name()}));
}

// The node of `v`, which must be of kind `kind` (whose Python name is `wanted`).
Node& node_of(const Value& v, Kind kind, std::string_view wanted) {
  if (v.kind() != kind) wrong_kind(v, wanted);
  return *v.node();
}

}  // namespace

Value::Value(const char* utf8) : Value(text_value(Kind::str, utf8)) {}
Value::Value(std::string_view utf8) : Value(text_value(Kind::str, utf8)) {}
Value::Value(const Date& v) : kind_(Kind::date), node_(make_node()) {
  scalar_.i = 0;
  node_->datetime.date = v;
}
Value::Value(const Time& v) : kind_(Kind::time), node_(make_node()) {
  scalar_.i = 0;
  node_->datetime.time = v;
}
Value::Value(const DateTime& v) : kind_(Kind::datetime), node_(make_node()) {
  scalar_.i = 0;
  node_->datetime = v;
}
Value::Value(const TimeDelta& v) : kind_(Kind::timedelta), node_(make_node()) {
  scalar_.i = 0;
  node_->delta = v;
}
Value::Value(const Uuid& v) : kind_(Kind::uuid), node_(make_node()) {
  scalar_.i = 0;
  node_->uuid = v;
}

Value Value::str(std::string_view utf8) { return text_value(Kind::str, utf8); }
Value Value::bytes(std::string_view data) { return text_value(Kind::bytes, data); }
Value Value::bytearray(std::string_view data) { return text_value(Kind::bytearray, data); }
Value Value::decimal(std::string_view text) { return text_value(Kind::decimal, text); }
Value Value::complex(double real, double imag) {
  auto node = make_node();
  node->real = real;
  node->imag = imag;
  return Value(Kind::complex, std::move(node));
}
Value Value::list(std::initializer_list<Value> items) { return items_value(Kind::list, Items(items)); }
Value Value::list(Items items) { return items_value(Kind::list, std::move(items)); }
Value Value::tuple(std::initializer_list<Value> items) { return items_value(Kind::tuple, Items(items)); }
Value Value::tuple(Items items) { return items_value(Kind::tuple, std::move(items)); }
Value Value::set(std::initializer_list<Value> items) { return set(Items(items)); }
Value Value::set(Items items) {
  Value v = items_value(Kind::set, {});
  for (auto& item : items) v.add(std::move(item));
  return v;
}
Value Value::frozenset(std::initializer_list<Value> items) { return frozenset(Items(items)); }
Value Value::frozenset(Items items) {
  Value v = set(std::move(items));
  v.kind_ = Kind::frozenset;
  return v;
}
Value Value::dict(std::initializer_list<std::pair<Value, Value>> entries) { return dict(Entries(entries)); }
Value Value::dict(Entries entries) {
  Value v(Kind::dict, make_node());
  for (auto& [key, value] : entries) v.set_item(std::move(key), std::move(value));
  return v;
}

bool Value::as_bool() const {
  if (kind_ != Kind::boolean) wrong_kind(*this, "bool");
  return scalar_.b;
}
bool Value::fits_int64() const noexcept { return kind_ == Kind::integer && !node_; }
std::int64_t Value::as_int() const {
  if (kind_ != Kind::integer) wrong_kind(*this, "int");
  if (node_) throw ValueTypeError(util::concat({"int ", int_text(), " does not fit in 64 bits"}));
  return scalar_.i;
}
std::string Value::int_text() const {
  if (kind_ != Kind::integer) wrong_kind(*this, "int");
  return node_ ? detail::decimal_from_le(node_->text) : std::to_string(scalar_.i);
}
double Value::as_float() const {
  if (kind_ != Kind::floating) wrong_kind(*this, "float");
  return scalar_.f;
}
std::pair<double, double> Value::as_complex() const {
  const Node& node = node_of(*this, Kind::complex, "complex");
  return {node.real, node.imag};
}
const std::string& Value::as_str() const { return node_of(*this, Kind::str, "str").text; }
const std::string& Value::as_bytes() const {
  if (kind_ != Kind::bytes && kind_ != Kind::bytearray) wrong_kind(*this, "bytes");
  return node_->text;
}
std::string& Value::as_bytearray() { return node_of(*this, Kind::bytearray, "bytearray").text; }
const std::string& Value::as_decimal() const { return node_of(*this, Kind::decimal, "decimal.Decimal").text; }
Items& Value::as_list() { return node_of(*this, Kind::list, "list").items; }
const Items& Value::items() const {
  if (kind_ != Kind::list && kind_ != Kind::tuple && kind_ != Kind::set && kind_ != Kind::frozenset)
    wrong_kind(*this, "list, tuple, set or frozenset");
  return node_->items;
}
Entries& Value::as_dict() { return node_of(*this, Kind::dict, "dict").entries; }
const Entries& Value::entries() const { return node_of(*this, Kind::dict, "dict").entries; }
const Date& Value::as_date() const { return node_of(*this, Kind::date, "datetime.date").datetime.date; }
const Time& Value::as_time() const { return node_of(*this, Kind::time, "datetime.time").datetime.time; }
const DateTime& Value::as_datetime() const { return node_of(*this, Kind::datetime, "datetime.datetime").datetime; }
const TimeDelta& Value::as_timedelta() const { return node_of(*this, Kind::timedelta, "datetime.timedelta").delta; }
const Uuid& Value::as_uuid() const { return node_of(*this, Kind::uuid, "uuid.UUID").uuid; }

const Value& Value::operator[](std::size_t index) const {
  if (kind_ != Kind::list && kind_ != Kind::tuple) wrong_kind(*this, "list or tuple");
  if (index >= node_->items.size())
    throw ValueLookupError(util::concat({kind_name(), " index ", std::to_string(index), " out of range (size ",
                                         std::to_string(node_->items.size()), ")"}));
  return node_->items[index];
}
const Value& Value::operator[](int index) const {
  if (index >= 0) return (*this)[static_cast<std::size_t>(index)];
  const std::size_t n = size();
  const auto back = static_cast<std::size_t>(-static_cast<long long>(index));
  if (back > n) throw ValueLookupError(util::concat({kind_name(), " index ", std::to_string(index), " out of range"}));
  return (*this)[n - back];
}
const Value* Value::find(const Value& key) const {
  for (const auto& entry : entries())
    if (entry.first == key) return &entry.second;
  return nullptr;
}
const Value& Value::operator[](const Value& key) const {
  if (const Value* v = find(key)) return *v;
  throw ValueLookupError(util::concat({"dict has no key ", key.repr()}));
}
std::size_t Value::size() const {
  switch (kind_) {
    case Kind::str:
    case Kind::bytes:
    case Kind::bytearray: return node_->text.size();
    case Kind::list:
    case Kind::tuple:
    case Kind::set:
    case Kind::frozenset: return node_->items.size();
    case Kind::dict: return node_->entries.size();
    default: wrong_kind(*this, "a str, bytes or container");
  }
}

void Value::append(Value item) { as_list().push_back(std::move(item)); }
void Value::add(Value item) {
  if (kind_ != Kind::set && kind_ != Kind::frozenset) wrong_kind(*this, "set");
  for (const auto& existing : node_->items)
    if (existing == item) return;
  node_->items.push_back(std::move(item));
}
void Value::set_item(Value key, Value value) {
  for (auto& entry : as_dict())
    if (entry.first == key) {
      entry.second = std::move(value);
      return;
    }
  node_->entries.emplace_back(std::move(key), std::move(value));
}

Value Value::clone() const {
  if (!node_) return *this;
  auto node = std::make_shared<Node>(*node_);
  for (auto& item : node->items) item = item.clone();
  for (auto& entry : node->entries) entry = {entry.first.clone(), entry.second.clone()};
  node->contained = false;
  return Value(kind_, std::move(node));
}

namespace {

bool same_float(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

bool unordered_equal(const Items& a, const Items& b) {
  if (a.size() != b.size()) return false;
  std::vector<bool> used(b.size(), false);
  for (const auto& x : a) {
    bool found = false;
    for (std::size_t j = 0; j < b.size() && !found; ++j)
      if (!used[j] && x == b[j]) used[j] = found = true;
    if (!found) return false;
  }
  return true;
}

}  // namespace

bool operator==(const Value& a, const Value& b) {
  if (a.kind_ != b.kind_) return false;
  if (a.node_ == b.node_ && a.node_) return true;
  switch (a.kind_) {
    case Kind::none: return true;
    case Kind::boolean: return a.scalar_.b == b.scalar_.b;
    case Kind::integer:
      if (!a.node_ || !b.node_) return !a.node_ && !b.node_ && a.scalar_.i == b.scalar_.i;
      return a.node_->text == b.node_->text;
    case Kind::floating: return same_float(a.scalar_.f, b.scalar_.f);
    case Kind::complex: return same_float(a.node_->real, b.node_->real) && same_float(a.node_->imag, b.node_->imag);
    case Kind::str:
    case Kind::bytes:
    case Kind::bytearray:
    case Kind::decimal: return a.node_->text == b.node_->text;
    case Kind::list:
    case Kind::tuple: return a.node_->items == b.node_->items;
    case Kind::set:
    case Kind::frozenset: return a.node_->items == b.node_->items || unordered_equal(a.node_->items, b.node_->items);
    case Kind::dict: {
      const auto& x = a.node_->entries;
      const auto& y = b.node_->entries;
      if (x.size() != y.size()) return false;
      if (x == y) return true;
      for (const auto& entry : x) {
        const Value* other = b.find(entry.first);
        if (!other || !(*other == entry.second)) return false;
      }
      return true;
    }
    case Kind::date: return a.node_->datetime.date == b.node_->datetime.date;
    case Kind::time: return a.node_->datetime.time == b.node_->datetime.time;
    case Kind::datetime: return a.node_->datetime == b.node_->datetime;
    case Kind::timedelta: return a.node_->delta == b.node_->delta;
    case Kind::uuid: return a.node_->uuid == b.node_->uuid;
  }
  return false;
}

namespace {

std::string float_repr(double f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
  // The shortest text that reads back as the same double, as Python's repr.
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof buf, f).ptr;
  std::string out(buf, end);
  if (out.find_first_of(".e") == std::string::npos) out += ".0";
  return out;
}

std::string quoted(std::string_view text, bool bytes) {
  std::string out = bytes ? "b'" : "'";
  for (unsigned char c : text) {
    if (c == '\'' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f || (bytes && c >= 0x80)) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "'";
}

std::string join(const Items& items, std::string open, std::string close) {
  std::string out = std::move(open);
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i].repr();
  return out + close;
}

std::string two(int v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%d", v);
  return buf;
}

}  // namespace

std::string Value::repr() const {
  switch (kind_) {
    case Kind::none: return "None";
    case Kind::boolean: return scalar_.b ? "True" : "False";
    case Kind::integer: return int_text();
    case Kind::floating: return float_repr(scalar_.f);
    case Kind::complex: return util::concat({"complex(", float_repr(node_->real), ", ", float_repr(node_->imag), ")"});
    case Kind::str: return quoted(node_->text, false);
    case Kind::bytes: return quoted(node_->text, true);
    case Kind::bytearray: return util::concat({"bytearray(", quoted(node_->text, true), ")"});
    case Kind::decimal: return util::concat({"Decimal('", node_->text, "')"});
    case Kind::list: return join(node_->items, "[", "]");
    case Kind::tuple: return join(node_->items, "(", node_->items.size() == 1 ? ",)" : ")");
    case Kind::set: return node_->items.empty() ? "set()" : join(node_->items, "{", "}");
    case Kind::frozenset: return join(node_->items, "frozenset({", "})");
    case Kind::dict: {
      std::string out = "{";
      for (std::size_t i = 0; i < node_->entries.size(); ++i)
        out += util::concat({i ? ", " : "", node_->entries[i].first.repr(), ": ", node_->entries[i].second.repr()});
      return out + "}";
    }
    case Kind::date: {
      const Date& d = node_->datetime.date;
      return util::concat({"datetime.date(", two(d.year), ", ", two(d.month), ", ", two(d.day), ")"});
    }
    case Kind::time:
    case Kind::datetime: {
      const Date& d = node_->datetime.date;
      const Time& t = node_->datetime.time;
      std::string out =
          kind_ == Kind::time
              ? "datetime.time("
              : util::concat({"datetime.datetime(", two(d.year), ", ", two(d.month), ", ", two(d.day), ", "});
      out += util::concat({two(t.hour), ", ", two(t.minute), ", ", two(t.second), ", ", two(t.microsecond)});
      if (t.fold) out += ", fold=1";
      if (t.has_offset)
        out += util::concat({", tzinfo=timezone(timedelta(", two(t.utc_offset.days), ", ", two(t.utc_offset.seconds),
                             ", ", two(t.utc_offset.microseconds), "))"});
      return out + ")";
    }
    case Kind::timedelta:
      return util::concat({"datetime.timedelta(", two(node_->delta.days), ", ", two(node_->delta.seconds), ", ",
                           two(node_->delta.microseconds), ")"});
    case Kind::uuid: {
      std::string out = "UUID('";
      char buf[4];
      for (std::size_t i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        std::snprintf(buf, sizeof buf, "%02x", node_->uuid.bytes[i]);
        out += buf;
      }
      return out + "')";
    }
  }
  return "?";
}

}  // namespace cshelve::py
