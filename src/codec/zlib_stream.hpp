// zlib (RFC 1950) compression of whole values, streamed straight into the output string.
#ifndef CSHELVE_CODEC_ZLIB_STREAM_HPP
#define CSHELVE_CODEC_ZLIB_STREAM_HPP

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace cshelve::codec {

// zlib's levels: -1 (its default, 6), 0 (stored) to 9.
bool is_valid_zlib_level(int level) noexcept;

// Appends the zlib stream of `input` to `output`: the same bytes as zlib's compress2() at `level`
// (window 15, memory level 8, default strategy), which is also what Python's zlib.compress gives.
// Throws ConfigurationError for a level outside -1..9.
void zlib_compress_append(std::string_view input, int level, std::string& output);

// Inflates one complete zlib stream. Bytes after the stream's end are ignored, as Python's
// zlib.decompress ignores them. Throws DataCorruptionError for damaged or truncated data.
std::string zlib_decompress(std::string_view compressed);

// zlib compression of data that comes a part at a time. At levels 1 to 9 the stream is the one
// zlib_compress_append gives for the whole; level 0 ends its stored blocks where parts end, a
// different stream that inflates to the same bytes.
class ZlibCompressor {
 public:
  explicit ZlibCompressor(int level);
  ~ZlibCompressor();
  ZlibCompressor(const ZlibCompressor&) = delete;
  ZlibCompressor& operator=(const ZlibCompressor&) = delete;
  void update(std::string_view input, std::string& output);  // appends what is ready
  void finish(std::string& output);                          // appends the rest

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Inflates one zlib stream that comes a part at a time, as zlib_decompress does the whole: the
// same errors, and bytes after the stream's end ignored.
class ZlibDecompressor {
 public:
  ZlibDecompressor();
  ~ZlibDecompressor();
  ZlibDecompressor(const ZlibDecompressor&) = delete;
  ZlibDecompressor& operator=(const ZlibDecompressor&) = delete;
  // Hands each piece of inflated output to `out`. Throws DataCorruptionError for damaged data.
  void update(std::string_view input, const std::function<void(std::string_view)>& out);
  // Throws DataCorruptionError when the stream stopped before its end marker.
  void finish() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace cshelve::codec

#endif
