#include "io/file.hpp"
#include "util/text.hpp"

#include <cshelve/errors.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace cshelve::io {

FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) ::close(fd_);
}

void FileDescriptor::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

bool FileDescriptor::close() noexcept {
  const int fd = fd_;
  fd_ = -1;
  return ::close(fd) == 0;
}

std::string system_reason() { return std::strerror(errno); }

std::size_t read_file_at(int fd, const std::string& path, std::uint64_t offset, char* buffer, std::size_t room) {
  std::size_t filled = 0;
  while (filled < room) {
    const ssize_t got = ::pread(fd, buffer + filled, room - filled, static_cast<off_t>(offset + filled));
    if (got < 0) {
      if (errno == EINTR) continue;
      throw StorageError(util::concat({"cannot read '", path, "': ", system_reason()}));
    }
    if (got == 0) break;
    filled += static_cast<std::size_t>(got);
  }
  return filled;
}

void read_exactly_at(int fd, const std::string& path, std::uint64_t offset, char* buffer, std::size_t size) {
  const std::size_t got = read_file_at(fd, path, offset, buffer, size);
  if (got != size) {
    throw StorageError(util::concat({"cannot read '", path, "': it ended ", std::to_string(size - got),
                                     " bytes early (was it changed while being read?)"}));
  }
}

void read_in_parts(int fd, const std::string& path, std::uint64_t size,
                   const std::function<void(std::string_view)>& take) {
  constexpr std::uint64_t kPart = 1 << 20;
  std::string part(static_cast<std::size_t>(std::min(kPart, size)), '\0');
  for (std::uint64_t offset = 0; offset < size;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(part.size(), size - offset));
    read_exactly_at(fd, path, offset, part.data(), n);
    take(std::string_view(part.data(), n));
    offset += n;
  }
}

void write_file(int fd, const std::string& path, std::string_view data) {
  while (!data.empty()) {
    const ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      throw StorageError(util::concat({"cannot write '", path, "': ", system_reason()}));
    }
    data.remove_prefix(static_cast<std::size_t>(written));
  }
}

void write_file_at(int fd, const std::string& path, std::uint64_t offset, std::string_view data) {
  while (!data.empty()) {
    const ssize_t written = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (written < 0) {
      if (errno == EINTR) continue;
      throw StorageError(util::concat({"cannot write '", path, "': ", system_reason()}));
    }
    data.remove_prefix(static_cast<std::size_t>(written));
    offset += static_cast<std::uint64_t>(written);
  }
}

}  // namespace cshelve::io
