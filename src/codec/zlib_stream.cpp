#include "codec/zlib_stream.hpp"

#include <cshelve/errors.hpp>

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <new>
#include <string>

#include "util/text.hpp"

namespace cshelve::codec {
namespace {

// zlib counts in uInt; larger inputs and outputs are handed over in pieces of at most this size.
constexpr std::size_t kMaxZlibChunk = UINT_MAX;
constexpr std::size_t kMinimumOutputGrowth = 64 * 1024;

Bytef* as_zlib_input(const char* data) {
  // zlib's next_in is not const-qualified in every build, but zlib never writes through it.
  return reinterpret_cast<Bytef*>(const_cast<char*>(data));
}

// Gives zlib the next slice of the input when it has used up the last one (its lengths are 32-bit).
void feed_input(z_stream& stream, const char*& next_input, std::size_t& input_left) {
  if (stream.avail_in != 0 || input_left == 0) return;
  const std::size_t piece = std::min(input_left, kMaxZlibChunk);
  stream.next_in = as_zlib_input(next_input);
  stream.avail_in = static_cast<uInt>(piece);
  next_input += piece;
  input_left -= piece;
}

std::string zlib_message(const z_stream& stream, int code) {
  if (stream.msg != nullptr) return stream.msg;
  return "zlib error " + std::to_string(code);
}

// A z_stream from its init call, made by the derived class's constructor, to its matching end
// call. The end call is safe when the init call failed: zlib then leaves no state to free.
template <int (*End)(z_streamp)>
class ZlibStream {
 public:
  ZlibStream() = default;
  ~ZlibStream() { End(&stream_); }
  ZlibStream(const ZlibStream&) = delete;
  ZlibStream& operator=(const ZlibStream&) = delete;
  z_stream& stream() { return stream_; }

 protected:
  z_stream stream_{};
};

class Deflater : public ZlibStream<deflateEnd> {
 public:
  explicit Deflater(int level) {
    if (deflateInit(&stream_, level) != Z_OK) {
      throw ConfigurationError(util::concat({"zlib could not start compressing at level ", std::to_string(level)}));
    }
  }
};

class Inflater : public ZlibStream<inflateEnd> {
 public:
  Inflater() {
    if (inflateInit(&stream_) != Z_OK) throw DataCorruptionError("zlib could not start inflating");
  }
};

// Grows `output` so that there is room to write after `used` bytes, and points the stream there.
void provide_output(z_stream& stream, std::string& output, std::size_t used, std::size_t wanted) {
  if (output.size() - used < wanted) output.resize(used + wanted);
  stream.next_out = reinterpret_cast<Bytef*>(&output[used]);
  stream.avail_out = static_cast<uInt>(std::min(output.size() - used, kMaxZlibChunk));
}

// Leaves at most a quarter of the string unused, so a value kept by the caller does not pin a
// much larger allocation made while its final size was unknown.
void trim(std::string& output, std::size_t used) {
  output.resize(used);
  if (output.capacity() - used > used / 4 + kMinimumOutputGrowth) output.shrink_to_fit();
}

[[noreturn]] void throw_truncated() {
  throw DataCorruptionError("The compressed data is truncated: the zlib stream ends before its end marker");
}

// What inflate's failures mean (Z_BUF_ERROR, a want of input, is the caller's to judge).
[[noreturn]] void throw_inflate_error(const z_stream& stream, int status) {
  switch (status) {
    case Z_NEED_DICT:
      throw DataCorruptionError("The compressed data is damaged: the zlib stream asks for a preset dictionary");
    case Z_MEM_ERROR: throw std::bad_alloc();
    default:
      throw DataCorruptionError(util::concat({"The compressed data is damaged: ", zlib_message(stream, status)}));
  }
}

void check_level(int level) {
  if (!is_valid_zlib_level(level)) {
    throw ConfigurationError(util::concat(
        {"zlib compression level ", std::to_string(level), " is out of range: use -1 (zlib's default) or 0 to 9"}));
  }
}

// Output is made this much at a time by the streaming classes.
constexpr std::size_t kStreamOutputPart = 256 * 1024;

}  // namespace

bool is_valid_zlib_level(int level) noexcept { return level >= -1 && level <= 9; }

void zlib_compress_append(std::string_view input, int level, std::string& output) {
  check_level(level);
  Deflater deflater(level);
  z_stream& stream = deflater.stream();

  // The output gets zlib's bound at once, as compress2() gives it. Level 0 cuts its stored
  // blocks to the output space on hand, so it needs all of it up front to give compress2's bytes
  // (the other levels do not depend on the space). Nothing written is ever moved: data that shrinks well leaves
  // most of the space unused, and `trim` then copies only the small result.
  std::size_t used = output.size();
  const std::size_t bound = deflateBound(&stream, static_cast<uLong>(input.size()));
  std::size_t input_left = input.size();
  const char* next_input = input.data();
  int status = Z_OK;
  do {
    if (stream.avail_out == 0) provide_output(stream, output, used, std::max(bound, used));
    feed_input(stream, next_input, input_left);
    const std::size_t space_before = stream.avail_out;
    status = deflate(&stream, input_left != 0 ? Z_NO_FLUSH : Z_FINISH);
    used += space_before - stream.avail_out;
  } while (status == Z_OK);
  if (status != Z_STREAM_END) {
    throw Error(util::concat({"zlib compression failed: ", zlib_message(stream, status)}));
  }
  trim(output, used);
}

std::string zlib_decompress(std::string_view compressed) {
  Inflater inflater;
  z_stream& stream = inflater.stream();
  std::string output;
  std::size_t used = 0;
  // The inflated size is not recorded anywhere. The first guess fits incompressible data (stored
  // blocks) without ever moving it; compressible data then grows the output by doubling.
  std::size_t next_growth = compressed.size() + compressed.size() / 8 + kMinimumOutputGrowth;
  std::size_t input_left = compressed.size();
  const char* next_input = compressed.data();
  for (;;) {
    if (stream.avail_out == 0) {
      provide_output(stream, output, used, next_growth);
      next_growth = output.size();
    }
    feed_input(stream, next_input, input_left);
    const std::size_t space_before = stream.avail_out;
    const int status = inflate(&stream, Z_NO_FLUSH);
    used += space_before - stream.avail_out;
    if (status == Z_STREAM_END) break;
    switch (status) {
      case Z_OK: continue;
      case Z_BUF_ERROR:
        // There is output space, so zlib wants input that is not there.
        if (stream.avail_in == 0 && input_left == 0) throw_truncated();
        continue;
      default: throw_inflate_error(stream, status);
    }
  }
  trim(output, used);
  return output;
}

struct ZlibCompressor::State {
  explicit State(int level) : deflater(level) {}
  Deflater deflater;

  // Runs deflate over `input` with `flush`, appending all it writes.
  int run(std::string_view input, int flush, std::string& output) {
    z_stream& stream = deflater.stream();
    int status = Z_OK;
    do {
      const std::size_t piece = std::min(input.size(), kMaxZlibChunk);
      stream.next_in = as_zlib_input(input.data());
      stream.avail_in = static_cast<uInt>(piece);
      do {
        const std::size_t used = output.size();
        provide_output(stream, output, used, kStreamOutputPart);
        const std::size_t space_before = stream.avail_out;
        status = deflate(&stream, piece == input.size() ? flush : Z_NO_FLUSH);
        output.resize(used + space_before - stream.avail_out);
      } while (status == Z_OK && stream.avail_out == 0);
      input.remove_prefix(piece - stream.avail_in);
    } while ((status == Z_OK || status == Z_BUF_ERROR) && !input.empty());
    return status;
  }
};

ZlibCompressor::ZlibCompressor(int level) {
  check_level(level);
  state_ = std::make_unique<State>(level);
}

ZlibCompressor::~ZlibCompressor() = default;

void ZlibCompressor::update(std::string_view input, std::string& output) {
  const int status = state_->run(input, Z_NO_FLUSH, output);
  if (status != Z_OK && status != Z_BUF_ERROR) {
    throw Error(util::concat({"zlib compression failed: ", zlib_message(state_->deflater.stream(), status)}));
  }
}

void ZlibCompressor::finish(std::string& output) {
  const int status = state_->run({}, Z_FINISH, output);
  if (status != Z_STREAM_END) {
    throw Error(util::concat({"zlib compression failed: ", zlib_message(state_->deflater.stream(), status)}));
  }
}

struct ZlibDecompressor::State {
  Inflater inflater;
  bool ended = false;
  std::string buffer = std::string(kStreamOutputPart, '\0');
};

ZlibDecompressor::ZlibDecompressor() : state_(std::make_unique<State>()) {}

ZlibDecompressor::~ZlibDecompressor() = default;

void ZlibDecompressor::update(std::string_view input, const std::function<void(std::string_view)>& out) {
  State& state = *state_;
  z_stream& stream = state.inflater.stream();
  while (!input.empty() && !state.ended) {
    const std::size_t piece = std::min(input.size(), kMaxZlibChunk);
    stream.next_in = as_zlib_input(input.data());
    stream.avail_in = static_cast<uInt>(piece);
    for (;;) {
      stream.next_out = reinterpret_cast<Bytef*>(state.buffer.data());
      stream.avail_out = static_cast<uInt>(state.buffer.size());
      const int status = inflate(&stream, Z_NO_FLUSH);
      const std::size_t made = state.buffer.size() - stream.avail_out;
      if (made != 0) out(std::string_view(state.buffer.data(), made));
      if (status == Z_STREAM_END) {
        state.ended = true;  // what follows the stream is ignored
        break;
      }
      if (status == Z_BUF_ERROR || (status == Z_OK && stream.avail_in == 0 && stream.avail_out != 0)) break;
      if (status != Z_OK) throw_inflate_error(stream, status);
    }
    input.remove_prefix(piece - stream.avail_in);
  }
}

void ZlibDecompressor::finish() const {
  if (!state_->ended) throw_truncated();
}

}  // namespace cshelve::codec
