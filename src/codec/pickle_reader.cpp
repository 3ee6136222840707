// The pickle reader: protocols 0 to 5, data only. It runs the pickle machine's stack and memo but
// never imports or calls anything: GLOBAL and STACK_GLOBAL resolve only names of an allow-list,
// and REDUCE, NEWOBJ and BUILD on those build the matching py::Value after checking their
// arguments. Every length is checked against the bytes that remain before anything is allocated.
#include "codec/pickle_common.hpp"
#include "codec/pickle_reading.hpp"
#include "util/text.hpp"

#include <cshelve/errors.hpp>

#include <cstdio>
#include <cstring>
#include <vector>

namespace cshelve::py {

namespace detail::reading {

[[noreturn]] void bad(const std::string& what) { throw PickleFormatError(util::concat({"invalid pickle: ", what})); }

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

Value special_value(Global g) {
  auto node = std::make_shared<Node>();
  node->special = static_cast<std::uint8_t>(g);
  return Value(Kind::none, std::move(node));
}

Value text_value(Kind kind, std::string_view bytes) {
  auto node = std::make_shared<Node>();
  node->text.assign(bytes.data(), bytes.size());
  return Value(kind, std::move(node));
}

void check_plain(const Value& v) {
  const Node* n = v.node().get();
  if (!n || (!n->special && !n->holds_special)) return;
  const Global g = static_cast<Global>(n->special);
  if (g == Global::pending_uuid) bad("uuid.UUID without its state (BUILD)");
  if (g == Global::timezone_object)
    throw UnsupportedValueError("unsupported Python value: datetime.timezone alone (only inside a datetime or time)");
  if (g != Global::none)
    throw UnsupportedValueError(
        util::concat({"unsupported Python value: the class or function ", global_name(g), " itself"}));
  throw UnsupportedValueError("unsupported Python value: a tuple holding a class, function or timezone");
}

void adopt(Node& parent, const Value& child, const ReadLimits& limits) {
  if (Node* c = child.node().get()) {
    if (c == &parent) bad("a container inside itself");
    c->contained = true;
    parent.weight += c->weight;
    if (c->depth + 1 > parent.depth) {
      if (c->depth + 1 > limits.max_depth) bad("nesting deeper than " + std::to_string(limits.max_depth));
      parent.depth = c->depth + 1;
    }
    if (c->special || c->holds_special) parent.holds_special = true;
  } else {
    parent.weight += 1;
  }
  if (parent.weight > limits.max_elements)
    bad(util::concat({"the value expands to more than ", std::to_string(limits.max_elements), " elements"}));
}

}  // namespace detail::reading

namespace {

using detail::Node;
namespace op = detail::op;
using namespace detail::reading;

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
      bad(util::concat({"STOP with ", std::to_string(stack_.size()), " values on the stack"}));
    check_plain(stack_.back());
    return std::move(stack_.back());
  }

 private:
  // --- Input -----------------------------------------------------------------------------------
  std::string_view take(std::uint64_t n) {
    if (n > data_.size() - pos_)
      bad(util::concat({"truncated: needs ", std::to_string(n), " bytes at offset ", std::to_string(pos_), ", ",
                        std::to_string(data_.size() - pos_), " remain"}));
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
  // APPEND(S), SETITEM(S), ADDITEMS: the stack from `first` onto `target`.
  void extend(Value& target, std::size_t first) {
    Node* node = target.node().get();
    if (!node || node->special) bad(util::concat({"adding items to a ", target.kind_name()}));
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
        if (!is_hashable(key)) bad(util::concat({"unhashable dict key of type ", key.kind_name()}));
        adopt(*node, key, limits_);
        adopt(*node, value, limits_);
        node->entries.emplace_back(std::move(key), std::move(value));
      }
    } else {
      const bool set = target.kind() == Kind::set;
      if (target.kind() != Kind::list && !set) bad(util::concat({"adding items to a ", target.kind_name()}));
      node->items.reserve(node->items.size() + n);
      for (std::size_t i = first; i < stack_.size(); ++i) {
        Value& item = stack_[i];
        check_plain(item);
        if (set && !is_hashable(item)) bad(util::concat({"unhashable set item of type ", item.kind_name()}));
        adopt(*node, item, limits_);
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
        adopt(*node, stack_[i], limits_);
        node->items.push_back(std::move(stack_[i]));
      }
      stack_.resize(first);
    } else {
      extend(v, first);
    }
    return v;
  }
  Value empty(Kind kind) { return Value(kind, std::make_shared<Node>()); }
  Value str(std::string_view utf8) {
    if (!detail::valid_utf8_surrogatepass(utf8)) bad("a str that is not UTF-8");
    return text_value(Kind::str, utf8);
  }

  // --- Memo ------------------------------------------------------------------------------------
  void memo_put(std::uint64_t index) {
    const Value& v = top();
    if (index >= limits_.max_memo) bad(util::concat({"memo index ", std::to_string(index), " beyond the limit"}));
    if (index >= memo_.size()) {
      // CPython writes indices in order; a far jump would only cost memory.
      if (index > memo_.size() + 65536)
        bad(util::concat({"memo index ", std::to_string(index), " far beyond the memo's size"}));
      memo_.resize(static_cast<std::size_t>(index) + 1);
      defined_.resize(static_cast<std::size_t>(index) + 1, false);
    }
    if (!defined_[index]) ++memo_count_;
    memo_[index] = v;
    defined_[index] = true;
  }
  void memo_get(std::uint64_t index) {
    if (index >= memo_.size() || !defined_[index])
      bad(util::concat({"memo index ", std::to_string(index), " not defined"}));
    stack_.push_back(memo_[index]);
  }
  // --- The allow-list's calls (pickle_globals.cpp builds their values) -------------------------
  void reduce() {
    Value args = pop();
    Value callable = pop();
    if (args.kind() != Kind::tuple) bad("REDUCE arguments are not a tuple");
    const Global g = special_of(callable);
    if (g == Global::none || g == Global::timezone_object || g == Global::pending_uuid)
      bad(util::concat({"REDUCE on ", callable.kind_name(), ", not an allowed name"}));
    push(call_global(g, args.node()->items, limits_));
  }

  void newobj(const Value& cls, const Value& args, const Value* kwargs) {
    check_newobj(cls, args, kwargs);
    push(special_value(Global::pending_uuid));
  }

  void build() {
    Value state = pop();
    Value& target = top();
    if (special_of(target) != Global::pending_uuid)
      throw UnsupportedValueError(util::concat({"unsupported Python value: BUILD of a ", target.kind_name()}));
    apply_uuid_state(*target.node(), state);
    // The same object, now a UUID: memo entries that refer to it see the change, as in Python.
    target = Value(Kind::uuid, target.node());
    for (std::size_t i = 0; i < memo_.size(); ++i)
      if (defined_[i] && memo_[i].node() == target.node()) memo_[i] = target;
  }

  // MARK ... DICT, LIST or TUPLE: a new container of the items above the mark.
  void push_collected(Kind kind) {
    const std::size_t first = pop_mark();
    push(collect(kind, first));
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
      case op::INT: push(int_from_text(line(), false, limits_.max_int_digits)); return;
      case op::LONG: push(int_from_text(line(), true, limits_.max_int_digits)); return;
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
        push(special_value(find_global(module, name)));
        return;
      }
      case op::DICT: push_collected(Kind::dict); return;
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
          throw UnsupportedValueError(
              util::concat({"unsupported Python value: ", module.substr(0, 200), ".", name.substr(0, 200), " (INST)"}));
        }
        throw UnsupportedValueError("unsupported Python value: an instance (OBJ)");
      }
      case op::LIST: push_collected(Kind::list); return;
      case op::EMPTY_LIST: push(empty(Kind::list)); return;
      case op::PUT: memo_put(decimal_index(line())); return;
      case op::BINPUT: memo_put(le(1)); return;
      case op::LONG_BINPUT: memo_put(le(4)); return;
      case op::SETITEM: {
        if (stack_.size() < floor() + 3) bad("stack underflow");
        extend(stack_[stack_.size() - 3], stack_.size() - 2);
        return;
      }
      case op::TUPLE: push_collected(Kind::tuple); return;
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
      case op::BINBYTES: push(text_value(Kind::bytes, take(le(4)))); return;
      case op::SHORT_BINBYTES: push(text_value(Kind::bytes, take(le(1)))); return;
      case op::PROTO: {
        const auto proto = le(1);
        if (proto > 5) bad(util::concat({"protocol ", std::to_string(proto), " (this reader knows 0 to 5)"}));
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
      case op::BINBYTES8: push(text_value(Kind::bytes, take(le(8)))); return;
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
        push(special_value(find_global(module.as_str(), name.as_str())));
        return;
      }
      case op::MEMOIZE: memo_put(memo_count_); return;
      case op::FRAME: {
        const std::uint64_t n = le(8);
        if (n > data_.size() - pos_) bad(util::concat({"FRAME of ", std::to_string(n), " bytes, beyond the data"}));
        return;
      }
      case op::BYTEARRAY8: push(text_value(Kind::bytearray, take(le(8)))); return;
      case op::NEXT_BUFFER:
      case op::READONLY_BUFFER:
        throw UnsupportedValueError("unsupported Python value: an out-of-band buffer (pickle protocol 5 buffers)");
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "0x%02x", code);
        bad(util::concat({"unknown opcode ", buf, " at offset ", std::to_string(pos_ - 1)}));
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
