// The pickle writer, protocols 2 to 5: the opcodes, memo and frames of CPython 3.11's pickler, so
// that C++ and Python write the same bytes for the same value. Objects are memoized by identity
// (a py::Value copied shares its object, like a Python name), as Python memoizes by id().
#include "codec/pickle_common.hpp"
#include "codec/python_node.hpp"

#include <cshelve/errors.hpp>

#include <cstring>
#include <unordered_map>

namespace cshelve::py {

namespace {

namespace op = detail::op;

constexpr std::size_t kFrameTarget = 64 * 1024;  // CPython's _FRAME_SIZE_TARGET
constexpr std::size_t kFrameMin = 4;             // frames shorter than this get no header
constexpr std::size_t kBatch = 1000;             // CPython's _BATCHSIZE
constexpr std::size_t kMaxDepth = 1000;          // Python's pickler stops near 500

class Writer {
 public:
  explicit Writer(int protocol) : proto_(protocol) {}

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
  // --- Output and frames (pickle.py's _Framer) -------------------------------------------------
  void start_frame_if_needed() {
    if (framing_ && frame_start_ == npos) {
      frame_start_ = out_.size();
      out_.append(9, '\0');
    }
  }
  void write(const char* data, std::size_t n) {
    start_frame_if_needed();
    out_.append(data, n);
  }
  void put(char c) {
    start_frame_if_needed();
    out_ += c;
  }
  void put(unsigned char c) { put(static_cast<char>(c)); }
  void put_le(std::uint64_t v, int n) {
    char buf[8];
    for (int i = 0; i < n; ++i) buf[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    write(buf, static_cast<std::size_t>(n));
  }
  void commit_frame(bool force) {
    if (frame_start_ == npos) return;
    const std::size_t len = out_.size() - frame_start_ - 9;
    if (!force && len < kFrameTarget) return;
    if (len >= kFrameMin) {
      out_[frame_start_] = static_cast<char>(op::FRAME);
      for (int i = 0; i < 8; ++i)
        out_[frame_start_ + 1 + i] = static_cast<char>((std::uint64_t(len) >> (8 * i)) & 0xff);
    } else {
      out_.erase(frame_start_, 9);
    }
    frame_start_ = npos;
  }
  // An opcode, its payload's length in `width` bytes and the payload. A payload of a frame's size
  // or more goes, with its opcode, outside frames after the current one.
  void sized(unsigned char code, int width, std::string_view payload) {
    char head[9];
    head[0] = static_cast<char>(code);
    for (int i = 0; i < width; ++i) head[1 + i] = static_cast<char>((std::uint64_t(payload.size()) >> (8 * i)) & 0xff);
    if (framing_ && payload.size() >= kFrameTarget) {
      commit_frame(true);
      out_.append(head, static_cast<std::size_t>(1 + width));
      out_.append(payload.data(), payload.size());
    } else {
      write(head, static_cast<std::size_t>(1 + width));
      write(payload.data(), payload.size());
    }
  }

  // --- Memo --------------------------------------------------------------------------------------
  void memoize_index(std::uint32_t index) {
    if (proto_ >= 4) {
      put(op::MEMOIZE);
    } else if (index < 256) {
      put(op::BINPUT);
      put(static_cast<char>(index));
    } else {
      put(op::LONG_BINPUT);
      put_le(index, 4);
    }
  }
  std::uint32_t memoize() {
    const std::uint32_t index = next_memo_++;
    memoize_index(index);
    return index;
  }
  void memoize(const void* id) { memo_[id] = memoize(); }
  void get(std::uint32_t index) {
    if (index < 256) {
      put(op::BINGET);
      put(static_cast<char>(index));
    } else {
      put(op::LONG_BINGET);
      put_le(index, 4);
    }
  }
  bool try_get(const void* id) {
    if (!id) return false;
    auto it = memo_.find(id);
    if (it == memo_.end()) return false;
    get(it->second);
    return true;
  }

  // --- Scalars and strings ---------------------------------------------------------------------
  void save_int(const Value& v) {
    if (v.fits_int64()) {
      const std::int64_t i = v.as_int();
      if (i >= 0 && i <= 0xff) {
        put(op::BININT1);
        put(static_cast<char>(i));
        return;
      }
      if (i >= 0 && i <= 0xffff) {
        put(op::BININT2);
        put_le(static_cast<std::uint64_t>(i), 2);
        return;
      }
      if (i >= -0x80000000LL && i <= 0x7fffffffLL) {
        put(op::BININT);
        put_le(static_cast<std::uint64_t>(i), 4);
        return;
      }
      save_long_bytes(detail::le_from_int64(i));
      return;
    }
    save_long_bytes(v.node()->text);
  }
  void save_long_bytes(const std::string& le) {
    if (le.size() < 256) {
      put(op::LONG1);
      put(static_cast<char>(le.size()));
    } else {
      put(op::LONG4);
      put_le(le.size(), 4);
    }
    write(le.data(), le.size());
  }
  void save_float(double d) {
    std::uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    char buf[9];
    buf[0] = op::BINFLOAT;
    for (int i = 0; i < 8; ++i) buf[1 + i] = static_cast<char>((bits >> (8 * (7 - i))) & 0xff);
    write(buf, 9);
  }
  // A str's opcodes, without the memo step.
  void str_ops(std::string_view s) {
    if (!detail::valid_utf8_surrogatepass(s)) throw ValueTypeError("a str that is not UTF-8 cannot be pickled");
    const std::size_t n = s.size();
    if (n <= 0xff && proto_ >= 4) {
      sized(op::SHORT_BINUNICODE, 1, s);
    } else if (n > 0xffffffffULL && proto_ >= 4) {
      sized(op::BINUNICODE8, 8, s);
    } else {
      if (n > 0xffffffffULL) throw ValueTypeError("a str over 4 GiB needs protocol 4 or later");
      sized(static_cast<unsigned char>(op::BINUNICODE), 4, s);
    }
  }
  // A string the pickler writes once and references after (a module's name, a constant): memo
  // by its text within `table`.
  void shared_str(std::unordered_map<std::string, std::uint32_t>& table, const std::string& s) {
    commit_frame(false);
    auto it = table.find(s);
    if (it != table.end()) {
      get(it->second);
      return;
    }
    str_ops(s);
    table[s] = memoize();
  }
  // CPython keeps one object for the empty str and each one-character latin-1 str: wherever
  // they appear, also as the text of bytes at protocol 2, the pickle references the first.
  static bool is_str_singleton(std::string_view s) {
    return s.empty() || (s.size() == 1 && static_cast<unsigned char>(s[0]) < 0x80) ||
           (s.size() == 2 && (s[0] == '\xc2' || s[0] == '\xc3'));
  }
  // `id` null: a str the pickler makes (the latin-1 text of bytes below protocol 3), which for
  // one character is that one object. A user's str of one character may or may
  // not be it (Python can hold other objects of the same text): it matches the pickler's own
  // strs, and the pickler's strs match it, but two users' strs match by identity only.
  void save_str(std::string_view s, const void* id) {
    const bool singleton = is_str_singleton(s);
    if (singleton) {
      auto it = str_singletons_.find(std::string(s));
      if (it != str_singletons_.end() && (!id || it->second.made_here)) {
        get(it->second.index);
        if (id) memo_[id] = it->second.index;
        return;
      }
    }
    str_ops(s);
    const std::uint32_t index = memoize();
    if (id) memo_[id] = index;
    if (singleton && !str_singletons_.count(std::string(s))) str_singletons_[std::string(s)] = {index, !id};
  }
  void save_bytes_data(std::string_view b, const void* id) {
    const std::uint32_t index = save_bytes_ops(b);
    if (id) memo_[id] = index;
  }
  std::uint32_t save_bytes_ops(std::string_view b) {
    if (proto_ < 3) {
      if (b.empty()) {
        save_global("builtins", "bytes");
        commit_frame(false);
        put(op::EMPTY_TUPLE);
        put(op::REDUCE);
      } else {
        // _codecs.encode(str(b, 'latin1'), 'latin1')
        save_global("_codecs", "encode");
        commit_frame(false);
        std::string latin;
        latin.reserve(b.size() * 2);
        for (unsigned char c : b) detail::append_utf8(latin, c);
        save_str(latin, nullptr);
        shared_str(constants_, "latin1");
        put(op::TUPLE2);
        memoize();
        put(op::REDUCE);
      }
      return memoize();
    }
    const std::size_t n = b.size();
    if (n <= 0xff) {
      sized(static_cast<unsigned char>(op::SHORT_BINBYTES), 1, b);
    } else if (n > 0xffffffffULL && proto_ >= 4) {
      sized(op::BINBYTES8, 8, b);
    } else {
      if (n > 0xffffffffULL) throw ValueTypeError("bytes over 4 GiB need protocol 4 or later");
      sized(static_cast<unsigned char>(op::BINBYTES), 4, b);
    }
    return memoize();
  }

  // --- Globals and reduce ----------------------------------------------------------------------
  void save_global(const std::string& module, const std::string& name) {
    commit_frame(false);
    const std::string key = module + "\n" + name;
    auto it = globals_.find(key);
    if (it != globals_.end()) {
      get(it->second);
      return;
    }
    if (proto_ >= 4) {
      shared_str(modules_, module);
      shared_str(names_, name);
      put(op::STACK_GLOBAL);
    } else {
      std::string m = module;
      if (proto_ < 3 && m == "builtins") m = "__builtin__";
      std::string line;
      line += op::GLOBAL;
      line += m + "\n" + name + "\n";
      write(line.data(), line.size());
    }
    globals_[key] = memoize();
  }
  // A fresh argument tuple of 1 to 3 items already saved.
  void end_args(std::size_t n) {
    put(static_cast<unsigned char>(op::TUPLE1 + n - 1));
    memoize();
  }
  void fresh_bytes(std::string_view b) {
    commit_frame(false);
    save_bytes_data(b, nullptr);
  }
  void save_timezone(const TimeDelta& offset) {
    commit_frame(false);
    const bool utc = offset == TimeDelta{};
    if (utc && utc_memo_ != npos32) {
      get(utc_memo_);
      return;
    }
    save_global("datetime", "timezone");
    save_global("datetime", "timedelta");
    save_small(offset.days);
    save_small(offset.seconds);
    save_small(offset.microseconds);
    end_args(3);
    put(op::REDUCE);
    memoize();
    end_args(1);
    put(op::REDUCE);
    const std::uint32_t index = memoize();
    if (utc) utc_memo_ = index;  // timezone.utc is one object in Python
  }
  void save_small(std::int64_t i) {
    commit_frame(false);
    save_int(Value(static_cast<long long>(i)));
  }

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
  // As CPython's batch_list_exact: one item alone is APPEND; otherwise batches of 1000 between
  // MARK and APPENDS.
  void save_list_items(const Items& items, std::size_t depth) {
    if (items.empty()) return;
    if (items.size() == 1) {
      save(items[0], depth);
      put(op::APPEND);
      return;
    }
    std::size_t i = 0;
    do {
      put(op::MARK);
      const std::size_t end = std::min(items.size(), i + kBatch);
      for (; i < end; ++i) save(items[i], depth);
      put(op::APPENDS);
    } while (i < items.size());
  }
  // As CPython's save_set: batches of 1000 between MARK and ADDITEMS, and one empty batch after
  // a full last one.
  void save_set_items(const Items& items, std::size_t depth) {
    if (items.empty()) return;
    std::size_t i = 0, batch;
    do {
      put(op::MARK);
      batch = 0;
      for (; i < items.size() && batch < kBatch; ++i, ++batch) save(items[i], depth);
      put(op::ADDITEMS);
    } while (batch == kBatch);
  }
  // As CPython's batch_dict_exact: one entry alone is SETITEM; otherwise as sets, with SETITEMS.
  void save_entries(const Entries& entries, std::size_t depth) {
    if (entries.empty()) return;
    if (entries.size() == 1) {
      save(entries[0].first, depth);
      save(entries[0].second, depth);
      put(op::SETITEM);
      return;
    }
    std::size_t i = 0, batch;
    do {
      put(op::MARK);
      batch = 0;
      for (; i < entries.size() && batch < kBatch; ++i, ++batch) {
        save(entries[i].first, depth);
        save(entries[i].second, depth);
      }
      put(op::SETITEMS);
    } while (batch == kBatch);
  }
  // set and frozenset below protocol 4: reduce(set, (list(items),)).
  void save_set_reduce(const Value& v, const char* name, std::size_t depth) {
    save_global("builtins", name);
    commit_frame(false);
    put(op::EMPTY_LIST);
    memoize();
    save_list_items(v.node()->items, depth);
    end_args(1);
    put(op::REDUCE);
    memoize(v.identity());
  }

  void save(const Value& v, std::size_t depth) {
    commit_frame(false);
    if (depth > kMaxDepth)
      throw ValueTypeError("nesting deeper than " + std::to_string(kMaxDepth) + " cannot be pickled");
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
        end_args(2);
        put(op::REDUCE);
        memoize(id);
        return;
      }
      case Kind::list:
        put(op::EMPTY_LIST);
        memoize(id);
        save_list_items(v.node()->items, inner);
        return;
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
      case Kind::dict:
        put(op::EMPTY_DICT);
        memoize(id);
        save_entries(v.node()->entries, inner);
        return;
      case Kind::set:
        if (proto_ < 4) return save_set_reduce(v, "set", inner);
        put(op::EMPTY_SET);
        memoize(id);
        save_set_items(v.node()->items, inner);
        return;
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
        end_args(1);
        put(op::REDUCE);
        memoize(id);
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
        if (dt.time.has_offset) {
          save_timezone(dt.time.utc_offset);
          end_args(2);
        } else {
          end_args(1);
        }
        put(op::REDUCE);
        memoize(id);
        return;
      }
      case Kind::timedelta: {
        const TimeDelta& d = v.as_timedelta();
        check_delta(d);
        save_global("datetime", "timedelta");
        save_small(d.days);
        save_small(d.seconds);
        save_small(d.microseconds);
        end_args(3);
        put(op::REDUCE);
        memoize(id);
        return;
      }
      case Kind::decimal: {
        save_global("decimal", "Decimal");
        commit_frame(false);
        str_ops(v.as_decimal());  // str(Decimal) is a new object, never the shared one-character str
        memoize();
        end_args(1);
        put(op::REDUCE);
        memoize(id);
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

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  static constexpr std::uint32_t npos32 = static_cast<std::uint32_t>(-1);
  int proto_;
  bool framing_ = false;
  std::string out_;
  std::size_t frame_start_ = npos;
  std::uint32_t next_memo_ = 0;
  std::unordered_map<const void*, std::uint32_t> memo_;
  std::unordered_map<std::string, std::uint32_t> globals_, modules_, names_, constants_;
  struct Singleton {
    std::uint32_t index;
    bool made_here;  // by the pickler, not a user's str
  };
  std::unordered_map<std::string, Singleton> str_singletons_;
  std::uint32_t utc_memo_ = npos32;
};

}  // namespace

std::string dumps(const Value& value, int protocol) {
  if (protocol < 2 || protocol > 5)
    throw ValueTypeError("pickle protocol " + std::to_string(protocol) + " (this writer writes 2 to 5)");
  return Writer(protocol).run(value);
}

}  // namespace cshelve::py
