#include "config/config_file.hpp"
#include "util/text.hpp"

#include <cshelve/errors.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace cshelve::config {
namespace {

class OpenFile {
 public:
  explicit OpenFile(int fd) noexcept : fd_(fd) {}
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  ~OpenFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

[[noreturn]] void refuse(const std::string& path, const std::string& why) {
  throw ConfigurationError(util::concat({"configuration file '", path, "' ", why}));
}

}  // namespace

std::size_t first_invalid_utf8(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = byte(i);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // the range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;   // overlong
      if (lead == 0xED) high = 0x9F;  // surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;   // overlong
      if (lead == 0xF4) high = 0x8F;  // past U+10FFFF
    } else {
      return i;
    }
    if (i + length > text.size()) return i;
    if (byte(i + 1) < low || byte(i + 1) > high) return i;
    for (std::size_t k = 2; k < length; ++k) {
      if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return i;
    }
    i += length;
  }
  return std::string_view::npos;
}

std::string read_config_file(const std::string& path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway.
  OpenFile file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (file.get() < 0) refuse(path, util::concat({"cannot be read (missing or not readable): ", std::strerror(errno)}));
  struct stat info {};
  if (::fstat(file.get(), &info) != 0) refuse(path, util::concat({"cannot be read: ", std::strerror(errno)}));
  if (!S_ISREG(info.st_mode)) refuse(path, "is not a regular file (a device, pipe, socket or folder)");
  const std::string too_large =
      "is larger than the " + std::to_string(kMaxConfigFileBytes >> 20) + " MiB a configuration file may hold";
  if (static_cast<std::uint64_t>(info.st_size) > kMaxConfigFileBytes) refuse(path, too_large);
  // The file may grow after fstat: read one byte past the limit to tell.
  std::string text(kMaxConfigFileBytes + 1, '\0');
  std::size_t filled = 0;
  while (filled < text.size()) {
    const ssize_t got = ::read(file.get(), text.data() + filled, text.size() - filled);
    if (got < 0) {
      if (errno == EINTR) continue;
      refuse(path, util::concat({"cannot be read: ", std::strerror(errno)}));
    }
    if (got == 0) break;
    filled += static_cast<std::size_t>(got);
  }
  if (filled > kMaxConfigFileBytes) refuse(path, too_large);
  text.resize(filled);
  const std::size_t bad = first_invalid_utf8(text);
  if (bad != std::string::npos) {
    const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(bad), '\n');
    refuse(path, "is not UTF-8 text: invalid byte at line " + std::to_string(line));
  }
  return text;
}

}  // namespace cshelve::config
