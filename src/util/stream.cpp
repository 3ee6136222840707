#include "util/stream.hpp"

#include <cshelve/errors.hpp>

#include <algorithm>
#include <string>

#include "util/text.hpp"

namespace cshelve::util {

std::size_t read_source(const ReadAt& source, std::uint64_t size, std::uint64_t offset, char* buffer,
                        std::size_t room) {
  const auto wanted = static_cast<std::size_t>(std::min<std::uint64_t>(room, size - offset));
  const std::size_t got = source(offset, buffer, wanted);
  if (got == 0 && wanted > 0) {
    throw StorageError(
        util::concat({"the body ended ", std::to_string(size - offset), " bytes before its announced length"}));
  }
  return got;
}

}  // namespace cshelve::util
