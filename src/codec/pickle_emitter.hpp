// The lower half of the pickle writer: output and frames, the memo, scalars, strings, bytes and
// globals, as CPython 3.11's pickler writes them. pickle_writer.cpp builds on it to write each kind
// of value.
#ifndef CSHELVE_CODEC_PICKLE_EMITTER_HPP
#define CSHELVE_CODEC_PICKLE_EMITTER_HPP

#include "codec/python_node.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cshelve::py::detail {

// The memo of objects by identity, Python's id(). A typical value memoizes a handful of objects:
// those sit in a small array searched in order, and only a larger value pays for a hash map,
// whose nodes would otherwise cost an allocation each.
class IdentityMemo {
 public:
  // The memo index of `id`, or null when it has none.
  const std::uint32_t* find(const void* id) const;
  // Gives `id` the memo index `index`, replacing any it had; a null `id` is not recorded.
  void set(const void* id, std::uint32_t index);

 private:
  struct Entry {
    const void* id;
    std::uint32_t index;
  };
  static constexpr std::size_t kFew = 32;
  std::array<Entry, kFew> few_{};
  std::size_t few_used_ = 0;
  std::unordered_map<const void*, std::uint32_t> many_;
};

class PickleEmitter {
 protected:
  explicit PickleEmitter(int protocol) : proto_(protocol) {}

  // --- Output and frames (pickle.py's _Framer) -------------------------------------------------
  void start_frame_if_needed();
  void write(const char* data, std::size_t n);
  void put(char c);
  void put(unsigned char c);
  void put_le(std::uint64_t v, int n);
  void commit_frame(bool force);
  // An opcode, its payload's length in `width` bytes and the payload. A payload of a frame's size
  // or more goes, with its opcode, outside frames after the current one.
  void sized(unsigned char code, int width, std::string_view payload);

  // --- Memo --------------------------------------------------------------------------------------
  void memoize_index(std::uint32_t index);
  std::uint32_t memoize();
  void memoize(const void* id);
  void get(std::uint32_t index);
  bool try_get(const void* id);

  // --- Scalars and strings ---------------------------------------------------------------------
  void save_int(const Value& v);
  void save_long_bytes(const std::string& le);
  void save_float(double d);
  // A str's opcodes, without the memo step.
  void str_ops(std::string_view s);
  // A string the pickler writes once and references after (a module's name, a constant): memo
  // by its text within `table`.
  void shared_str(std::unordered_map<std::string, std::uint32_t>& table, const std::string& s);
  // CPython keeps one object for the empty str and each one-character latin-1 str: wherever
  // they appear, also as the text of bytes at protocol 2, the pickle references the first.
  static bool is_str_singleton(std::string_view s);
  // `id` null: a str the pickler makes (the latin-1 text of bytes below protocol 3), which for
  // one character is that one object. A user's str of one character may or may
  // not be it (Python can hold other objects of the same text): it matches the pickler's own
  // strs, and the pickler's strs match it, but two users' strs match by identity only.
  void save_str(std::string_view s, const void* id);
  void save_bytes_data(std::string_view b, const void* id);
  std::uint32_t save_bytes_ops(std::string_view b);

  // --- Globals and reduce ----------------------------------------------------------------------
  void save_global(const std::string& module, const std::string& name);
  // A fresh argument tuple of 1 to 3 items already saved.
  void end_args(std::size_t n);
  void fresh_bytes(std::string_view b);
  void save_timezone(const TimeDelta& offset);
  void save_small(std::int64_t i);

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  static constexpr std::uint32_t npos32 = static_cast<std::uint32_t>(-1);
  int proto_;
  bool framing_ = false;
  std::string out_;
  std::size_t frame_start_ = npos;
  std::uint32_t next_memo_ = 0;
  IdentityMemo memo_;
  std::unordered_map<std::string, std::uint32_t> globals_, modules_, names_, constants_;
  struct Singleton {
    std::uint32_t index;
    bool made_here;  // by the pickler, not a user's str
  };
  std::unordered_map<std::string, Singleton> str_singletons_;
  std::uint32_t utc_memo_ = npos32;
};

}  // namespace cshelve::py::detail

#endif
