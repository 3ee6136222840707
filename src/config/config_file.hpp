// Reading a configuration file's bytes with bounds: whatever a path names (a huge file, a device, a
// pipe, binary data), it costs at most kMaxConfigFileBytes of memory and a ConfigurationError.
#ifndef CSHELVE_CONFIG_CONFIG_FILE_HPP
#define CSHELVE_CONFIG_CONFIG_FILE_HPP

#include <cstddef>
#include <string>
#include <string_view>

namespace cshelve::config {

// Far above any real configuration (a few hundred bytes), far below what would strain a process.
constexpr std::size_t kMaxConfigFileBytes = 1u << 20;

// The text of a regular file of at most kMaxConfigFileBytes, which must be UTF-8 (as Python's
// configparser requires). Anything else is a ConfigurationError naming `path` and the reason.
std::string read_config_file(const std::string& path);

// Where `text` stops being well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF); npos when it is UTF-8 throughout.
std::size_t first_invalid_utf8(std::string_view text);

}  // namespace cshelve::config

#endif
