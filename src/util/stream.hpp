// The two shapes in which large bodies move between the layers (shelf, providers, S3 client,
// HTTP), so that none of them has to hold a value whole: bytes read at any offset, and a sink
// that takes bytes as they arrive.
#ifndef CSHELVE_UTIL_STREAM_HPP
#define CSHELVE_UTIL_STREAM_HPP

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

namespace cshelve::util {

// Bytes read at any offset, from a file say: fills `buffer` with up to `room` bytes from `offset`
// and returns how many, fewer only at the end. The same range must give the same bytes each time,
// since a body is read once to be hashed and again to be sent (or resent).
using ReadAt = std::function<std::size_t(std::uint64_t offset, char* buffer, std::size_t room)>;

// Reads the source's bytes from `offset` into `buffer`: as many as `room` holds, never past
// `size`. A source that runs dry before `size` throws StorageError.
std::size_t read_source(const ReadAt& source, std::uint64_t size, std::uint64_t offset, char* buffer, std::size_t room);

// Where bytes go as they arrive. restart() comes before the first byte, and again whenever a
// transfer starts over from the beginning (a retry), so what came before must be dropped.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void restart() = 0;
  virtual void write(std::string_view bytes) = 0;
};

}  // namespace cshelve::util

#endif
