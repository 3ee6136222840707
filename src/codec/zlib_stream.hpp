// zlib (RFC 1950) compression of whole values, streamed straight into the output string.
#ifndef CSHELVE_CODEC_ZLIB_STREAM_HPP
#define CSHELVE_CODEC_ZLIB_STREAM_HPP

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

}  // namespace cshelve::codec

#endif
