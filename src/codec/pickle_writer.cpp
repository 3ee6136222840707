// The pickle writer, protocols 2 to 5: each kind of value as CPython 3.11's pickler writes it, so
// that C++ and Python write the same bytes for the same value (the opcodes, memo and frames are
// pickle_emitter.cpp's). Objects are memoized by identity
// (a py::Value copied shares its object, like a Python name), as Python memoizes by id().
#include "codec/pickle_common.hpp"
#include "codec/pickle_emitter.hpp"
#include "util/text.hpp"

#include <cshelve/errors.hpp>

#include <cstring>

namespace cshelve::py {

namespace {

namespace op = detail::op;

constexpr std::size_t kBatch = 1000;     // CPython's _BATCHSIZE
constexpr std::size_t kMaxDepth = 1000;  // Python's pickler stops near 500

class Writer : detail::PickleEmitter {
 public:
  explicit Writer(int protocol) : PickleEmitter(protocol) {}

  std::string run(const Value& v) {
    out_.reserve(256);
    out_ += static_cast<char>(op::PROTO);
    out_ += static_cast<char>(proto_);
    framing_ = proto_ >= 4;
    save(v, 0);
    put(op::STOP);
    commit_frame(true);
    return std::move(out_);
  }

 private:
  // REDUCE on a callable and a fresh argument tuple of `args` items already saved, memoizing the
  // result as the object `id`.
  void call_and_memoize(std::size_t args, const void* id) {
    end_args(args);
    put(op::REDUCE);
    memoize(id);
  }

  // --- Dates and times -----------------------------------------------------------------------------
  static std::string time_bytes(const Time& t, bool fold_in_hour) {
    std::string b;
    b += static_cast<char>(t.hour + (fold_in_hour && t.fold ? 128 : 0));  // time's fold
    b += static_cast<char>(t.minute);
    b += static_cast<char>(t.second);
    b += static_cast<char>((t.microsecond >> 16) & 0xff);
    b += static_cast<char>((t.microsecond >> 8) & 0xff);
    b += static_cast<char>(t.microsecond & 0xff);
    return b;
  }
  static void check_time(const Time& t) {
    if (t.hour < 0 || t.hour > 23 || t.minute < 0 || t.minute > 59 || t.second < 0 || t.second > 59 ||
        t.microsecond < 0 || t.microsecond > 999999 || (t.fold != 0 && t.fold != 1))
      throw ValueTypeError("datetime.time out of range");
    if (t.has_offset && !(t.utc_offset.days == 0 ||
                          (t.utc_offset.days == -1 && (t.utc_offset.seconds > 0 || t.utc_offset.microseconds > 0))))
      throw ValueTypeError("a UTC offset must be strictly between -24 and 24 hours");
    if (t.has_offset) check_delta(t.utc_offset);
  }
  static void check_date(const Date& d) {
    if (d.year < 1 || d.year > 9999 || d.month < 1 || d.month > 12 || d.day < 1 || d.day > 31)
      throw ValueTypeError("datetime.date out of range");
  }
  static void check_delta(const TimeDelta& d) {
    if (d.days < -999999999 || d.days > 999999999 || d.seconds < 0 || d.seconds > 86399 || d.microseconds < 0 ||
        d.microseconds > 999999)
      throw ValueTypeError("datetime.timedelta not normalized (0 <= seconds < 86400, 0 <= microseconds < 10^6)");
  }

  // --- Containers --------------------------------------------------------------------------------
  // Batches of 1000 elements between MARK and `batch_op`, each element written by
  // `save_element(i)`. CPython's save_set and batch_dict_exact end a full last batch with an empty
  // one; batch_list_exact does not.
  template <class SaveElement>
  void save_batches(std::size_t count, unsigned char batch_op, bool empty_batch_after_full, SaveElement save_element) {
    std::size_t i = 0, batch;
    do {
      put(op::MARK);
      for (batch = 0; i < count && batch < kBatch; ++i, ++batch) save_element(i);
      put(batch_op);
    } while (empty_batch_after_full ? batch == kBatch : i < count);
  }
  // The containers start empty and are memoized as `id` (null: not recorded) before their
  // elements, which may refer back to them.
  // As CPython's batch_list_exact: one item alone is APPEND, more go in batches with APPENDS.
  void save_list(const Items& items, const void* id, std::size_t depth) {
    put(op::EMPTY_LIST);
    memoize(id);
    if (items.size() == 1) {
      save(items[0], depth);
      put(op::APPEND);
    } else if (!items.empty()) {
      save_batches(items.size(), op::APPENDS, false, [&](std::size_t i) { save(items[i], depth); });
    }
  }
  // As CPython's save_set: batches with ADDITEMS.
  void save_set(const Items& items, const void* id, std::size_t depth) {
    put(op::EMPTY_SET);
    memoize(id);
    if (!items.empty()) save_batches(items.size(), op::ADDITEMS, true, [&](std::size_t i) { save(items[i], depth); });
  }
  // As CPython's batch_dict_exact: one entry alone is SETITEM, more go in batches with SETITEMS.
  void save_dict(const Entries& entries, const void* id, std::size_t depth) {
    const auto save_entry = [&](std::size_t i) {
      save(entries[i].first, depth);
      save(entries[i].second, depth);
    };
    put(op::EMPTY_DICT);
    memoize(id);
    if (entries.size() == 1) {
      save_entry(0);
      put(op::SETITEM);
    } else if (!entries.empty()) {
      save_batches(entries.size(), op::SETITEMS, true, save_entry);
    }
  }
  // set and frozenset below protocol 4: reduce(set, (list(items),)).
  void save_set_reduce(const Value& v, const char* name, std::size_t depth) {
    save_global("builtins", name);
    commit_frame(false);
    save_list(v.node()->items, nullptr, depth);
    call_and_memoize(1, v.identity());
  }

  void save(const Value& v, std::size_t depth) {
    commit_frame(false);
    if (depth > kMaxDepth)
      throw ValueTypeError(util::concat({"nesting deeper than ", std::to_string(kMaxDepth), " cannot be pickled"}));
    if (v.kind() != Kind::integer && try_get(v.identity())) return;
    const void* id = v.identity();
    const std::size_t inner = depth + 1;
    switch (v.kind()) {
      case Kind::none: put(op::NONE); return;
      case Kind::boolean: put(v.as_bool() ? op::NEWTRUE : op::NEWFALSE); return;
      case Kind::integer: save_int(v); return;
      case Kind::floating: save_float(v.as_float()); return;
      case Kind::str: save_str(v.as_str(), id); return;
      case Kind::bytes: save_bytes_data(v.as_bytes(), id); return;
      case Kind::bytearray: {
        const std::string& b = v.as_bytes();
        if (proto_ < 5) {
          save_global("builtins", "bytearray");
          if (b.empty()) {
            commit_frame(false);
            put(op::EMPTY_TUPLE);
          } else {
            fresh_bytes(b);
            end_args(1);
          }
          put(op::REDUCE);
          memoize(id);
          return;
        }
        sized(op::BYTEARRAY8, 8, b);
        memoize(id);
        return;
      }
      case Kind::complex: {
        save_global("builtins", "complex");
        const auto [re, im] = v.as_complex();
        commit_frame(false);
        save_float(re);
        commit_frame(false);
        save_float(im);
        call_and_memoize(2, id);
        return;
      }
      case Kind::list: return save_list(v.node()->items, id, inner);
      case Kind::tuple: {
        const Items& items = v.node()->items;
        if (items.empty()) {
          put(op::EMPTY_TUPLE);
          return;
        }
        if (items.size() <= 3) {
          for (const auto& item : items) save(item, inner);
          put(static_cast<unsigned char>(op::TUPLE1 + items.size() - 1));
        } else {
          put(op::MARK);
          for (const auto& item : items) save(item, inner);
          put(op::TUPLE);
        }
        memoize(id);
        return;
      }
      case Kind::dict: return save_dict(v.node()->entries, id, inner);
      case Kind::set:
        if (proto_ < 4) return save_set_reduce(v, "set", inner);
        return save_set(v.node()->items, id, inner);
      case Kind::frozenset:
        if (proto_ < 4) return save_set_reduce(v, "frozenset", inner);
        put(op::MARK);
        for (const auto& item : v.node()->items) save(item, inner);
        put(op::FROZENSET);
        memoize(id);
        return;
      case Kind::date: {
        const Date& d = v.as_date();
        check_date(d);
        save_global("datetime", "date");
        std::string b{static_cast<char>(d.year >> 8), static_cast<char>(d.year & 0xff), static_cast<char>(d.month),
                      static_cast<char>(d.day)};
        fresh_bytes(b);
        call_and_memoize(1, id);
        return;
      }
      case Kind::time:
      case Kind::datetime: {
        const bool is_time = v.kind() == Kind::time;
        const DateTime& dt = v.node()->datetime;
        check_time(dt.time);
        std::string b;
        if (!is_time) {
          check_date(dt.date);
          b += static_cast<char>(dt.date.year >> 8);
          b += static_cast<char>(dt.date.year & 0xff);
          // Python writes fold from protocol 4 on.
          b += static_cast<char>(dt.date.month + (dt.time.fold && proto_ >= 4 ? 128 : 0));
          b += static_cast<char>(dt.date.day);
        }
        b += time_bytes(dt.time, is_time && proto_ >= 4);
        save_global("datetime", is_time ? "time" : "datetime");
        fresh_bytes(b);
        if (dt.time.has_offset) save_timezone(dt.time.utc_offset);
        call_and_memoize(dt.time.has_offset ? 2 : 1, id);
        return;
      }
      case Kind::timedelta: {
        const TimeDelta& d = v.as_timedelta();
        check_delta(d);
        save_global("datetime", "timedelta");
        save_small(d.days);
        save_small(d.seconds);
        save_small(d.microseconds);
        call_and_memoize(3, id);
        return;
      }
      case Kind::decimal: {
        save_global("decimal", "Decimal");
        commit_frame(false);
        str_ops(v.as_decimal());  // str(Decimal) is a new object, never the shared one-character str
        memoize();
        call_and_memoize(1, id);
        return;
      }
      case Kind::uuid: {
        const Uuid& u = v.as_uuid();
        save_global("uuid", "UUID");
        commit_frame(false);
        put(op::EMPTY_TUPLE);
        put(op::NEWOBJ);
        memoize(id);
        // The state dict {'int': ..., 'is_safe': ...}; its keys are constants in Python.
        commit_frame(false);
        put(op::EMPTY_DICT);
        memoize();
        std::string le;
        for (int i = 15; i >= 0; --i) le += static_cast<char>(u.bytes[static_cast<std::size_t>(i)]);
        le += '\0';
        const Value number = detail::integer_from_le(le);
        if (u.has_is_safe) put(op::MARK);
        shared_str(constants_, "int");
        commit_frame(false);
        save_int(number);
        if (u.has_is_safe) {
          shared_str(constants_, "is_safe");
          save_small(u.is_safe);
          put(op::SETITEMS);
        } else {
          put(op::SETITEM);
        }
        put(op::BUILD);
        return;
      }
    }
  }
};

}  // namespace

std::string dumps(const Value& value, int protocol) {
  if (protocol < 2 || protocol > 5)
    throw ValueTypeError(util::concat({"pickle protocol ", std::to_string(protocol), " (this writer writes 2 to 5)"}));
  return Writer(protocol).run(value);
}

}  // namespace cshelve::py