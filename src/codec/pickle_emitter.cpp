// The pickle writer's output: the opcodes, memo and frames of CPython 3.11's pickler for scalars,
// strings, bytes and globals.
#include "codec/pickle_common.hpp"
#include "codec/pickle_emitter.hpp"
#include "util/text.hpp"
#include "util/utf8.hpp"

#include <cshelve/errors.hpp>

#include <cstring>

namespace cshelve::py::detail {

namespace {

constexpr std::size_t kFrameTarget = 64 * 1024;  // CPython's _FRAME_SIZE_TARGET
constexpr std::size_t kFrameMin = 4;             // frames shorter than this get no header

}  // namespace

void PickleEmitter::start_frame_if_needed() {
  if (framing_ && frame_start_ == npos) {
    frame_start_ = out_.size();
    out_.append(9, '\0');
  }
}

void PickleEmitter::write(const char* data, std::size_t n) {
  start_frame_if_needed();
  out_.append(data, n);
}

void PickleEmitter::put(char c) {
  start_frame_if_needed();
  out_ += c;
}

void PickleEmitter::put(unsigned char c) { put(static_cast<char>(c)); }

void PickleEmitter::put_le(std::uint64_t v, int n) {
  char buf[8];
  for (int i = 0; i < n; ++i) buf[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  write(buf, static_cast<std::size_t>(n));
}

void PickleEmitter::commit_frame(bool force) {
  if (frame_start_ == npos) return;
  const std::size_t len = out_.size() - frame_start_ - 9;
  if (!force && len < kFrameTarget) return;
  if (len >= kFrameMin) {
    out_[frame_start_] = static_cast<char>(op::FRAME);
    for (int i = 0; i < 8; ++i) out_[frame_start_ + 1 + i] = static_cast<char>((std::uint64_t(len) >> (8 * i)) & 0xff);
  } else {
    out_.erase(frame_start_, 9);
  }
  frame_start_ = npos;
}

// An opcode, its payload's length in `width` bytes and the payload. A payload of a frame's size
// or more goes, with its opcode, outside frames after the current one.
void PickleEmitter::sized(unsigned char code, int width, std::string_view payload) {
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

void PickleEmitter::memoize_index(std::uint32_t index) {
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

const std::uint32_t* IdentityMemo::find(const void* id) const {
  for (std::size_t i = 0; i < few_used_; ++i)
    if (few_[i].id == id) return &few_[i].index;
  if (many_.empty()) return nullptr;
  const auto it = many_.find(id);
  return it == many_.end() ? nullptr : &it->second;
}

void IdentityMemo::set(const void* id, std::uint32_t index) {
  if (id == nullptr) return;  // no identity, nothing to find it by later
  for (std::size_t i = 0; i < few_used_; ++i) {
    if (few_[i].id == id) {
      few_[i].index = index;
      return;
    }
  }
  if (few_used_ < kFew && many_.empty()) {
    few_[few_used_++] = {id, index};
  } else {
    many_[id] = index;
  }
}

std::uint32_t PickleEmitter::memoize() {
  const std::uint32_t index = next_memo_++;
  memoize_index(index);
  return index;
}

void PickleEmitter::memoize(const void* id) { memo_.set(id, memoize()); }

void PickleEmitter::get(std::uint32_t index) {
  if (index < 256) {
    put(op::BINGET);
    put(static_cast<char>(index));
  } else {
    put(op::LONG_BINGET);
    put_le(index, 4);
  }
}

bool PickleEmitter::try_get(const void* id) {
  if (!id) return false;
  const std::uint32_t* index = memo_.find(id);
  if (index == nullptr) return false;
  get(*index);
  return true;
}

void PickleEmitter::save_int(const Value& v) {
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

void PickleEmitter::save_long_bytes(const std::string& le) {
  if (le.size() < 256) {
    put(op::LONG1);
    put(static_cast<char>(le.size()));
  } else {
    put(op::LONG4);
    put_le(le.size(), 4);
  }
  write(le.data(), le.size());
}

void PickleEmitter::save_float(double d) {
  std::uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  char buf[9];
  buf[0] = op::BINFLOAT;
  for (int i = 0; i < 8; ++i) buf[1 + i] = static_cast<char>((bits >> (8 * (7 - i))) & 0xff);
  write(buf, 9);
}

// A str's opcodes, without the memo step.
void PickleEmitter::str_ops(std::string_view s) {
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
void PickleEmitter::shared_str(std::unordered_map<std::string, std::uint32_t>& table, const std::string& s) {
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
bool PickleEmitter::is_str_singleton(std::string_view s) {
  return s.empty() || (s.size() == 1 && static_cast<unsigned char>(s[0]) < 0x80) ||
         (s.size() == 2 && (s[0] == '\xc2' || s[0] == '\xc3'));
}

// `id` null: a str the pickler makes (the latin-1 text of bytes below protocol 3), which for
// one character is that one object. A user's str of one character may or may
// not be it (Python can hold other objects of the same text): it matches the pickler's own
// strs, and the pickler's strs match it, but two users' strs match by identity only.
void PickleEmitter::save_str(std::string_view s, const void* id) {
  const bool singleton = is_str_singleton(s);
  if (singleton) {
    auto it = str_singletons_.find(std::string(s));
    if (it != str_singletons_.end() && (!id || it->second.made_here)) {
      get(it->second.index);
      if (id) memo_.set(id, it->second.index);
      return;
    }
  }
  str_ops(s);
  const std::uint32_t index = memoize();
  if (id) memo_.set(id, index);
  if (singleton && !str_singletons_.count(std::string(s))) str_singletons_[std::string(s)] = {index, !id};
}

void PickleEmitter::save_bytes_data(std::string_view b, const void* id) {
  const std::uint32_t index = save_bytes_ops(b);
  if (id) memo_.set(id, index);
}

std::uint32_t PickleEmitter::save_bytes_ops(std::string_view b) {
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
      for (unsigned char c : b) util::append_utf8(latin, c);
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

void PickleEmitter::save_global(const std::string& module, const std::string& name) {
  commit_frame(false);
  const std::string key = util::concat({module, "\n", name});
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
    const std::string line = util::concat({std::string_view(&op::GLOBAL, 1), m, "\n", name, "\n"});
    write(line.data(), line.size());
  }
  globals_[key] = memoize();
}

// A fresh argument tuple of 1 to 3 items already saved.
void PickleEmitter::end_args(std::size_t n) {
  put(static_cast<unsigned char>(op::TUPLE1 + n - 1));
  memoize();
}

void PickleEmitter::fresh_bytes(std::string_view b) {
  commit_frame(false);
  save_bytes_data(b, nullptr);
}

void PickleEmitter::save_timezone(const TimeDelta& offset) {
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

void PickleEmitter::save_small(std::int64_t i) {
  commit_frame(false);
  save_int(Value(static_cast<long long>(i)));
}

}  // namespace cshelve::py::detail
