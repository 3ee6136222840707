// [compression] and [encryption] into the codec's Processing.
#include <cshelve/errors.hpp>

#include <zlib.h>

#include <cerrno>
#include <cstdlib>
#include <limits>

#include "codec/zlib_stream.hpp"
#include "config/settings.hpp"
#include "config/values.hpp"
#include "util/text.hpp"

namespace cshelve::config {
namespace {

const std::string* find(const Section& section, const char* option) {
  const auto found = section.find(option);
  return found == section.end() ? nullptr : &found->second;
}

int parse_zlib_level(const std::string& text, const std::string& at) {
  // Python reads the level with int(): optional sign and decimal digits, spaces around allowed.
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  std::size_t begin = 0;
  std::size_t end = text.size();
  while (begin < end && is_space(text[begin])) ++begin;
  while (end > begin && is_space(text[end - 1])) --end;
  const std::string trimmed = text.substr(begin, end - begin);
  const auto refuse = [&](std::string_view problem) {
    throw ConfigurationError(util::concat({at, "[compression] level = '", trimmed, "' ", problem}));
  };
  std::size_t first_digit = 0;
  if (!trimmed.empty() && (trimmed[0] == '-' || trimmed[0] == '+')) first_digit = 1;
  bool digits = first_digit < trimmed.size();
  for (std::size_t i = first_digit; i < trimmed.size(); ++i) digits = digits && trimmed[i] >= '0' && trimmed[i] <= '9';
  if (!digits) refuse("is not an integer");
  errno = 0;
  const long level = std::strtol(trimmed.c_str(), nullptr, 10);
  if (errno == ERANGE || level < std::numeric_limits<int>::min() || level > std::numeric_limits<int>::max() ||
      !codec::is_valid_zlib_level(static_cast<int>(level))) {
    refuse("is out of range: use -1 (zlib's default) or 0 to 9");
  }
  return static_cast<int>(level);
}

}  // namespace

codec::Processing processing_from_config(const Section* compression, const Section* encryption,
                                         std::string_view origin) {
  codec::Processing processing;
  // Messages start with the file's name when there is one, as every configuration error does.
  const std::string at = origin.empty() ? std::string() : std::string(origin) + ": ";

  if (compression != nullptr) {
    if (const std::string* algorithm = find(*compression, "algorithm")) {
      if (*algorithm != "zlib") {
        throw UnknownCompressionAlgorithmError(
            util::concat({at, "Unknown [compression] algorithm '", *algorithm, "': the only one is 'zlib'"}));
      }
      const std::string* level = find(*compression, "level");
      processing.zlib_level = level != nullptr ? parse_zlib_level(*level, at) : Z_DEFAULT_COMPRESSION;
    }
  }

  if (encryption != nullptr) {
    if (const std::string* algorithm = find(*encryption, "algorithm")) {
      // Python cshelve looks for the key before it looks at the algorithm's name.
      if (const std::string* variable = find(*encryption, "environment_key")) {
        const char* value = std::getenv(variable->c_str());
        if (value == nullptr || *value == '\0') {
          throw MissingEncryptionKeyError(util::concat(
              {at, "[encryption] environment_key names the variable '", *variable, "', which is not set or is empty"}));
        }
        processing.encryption_key = value;
      } else if (const std::string* key = find(*encryption, "key"); key != nullptr && !key->empty()) {
        processing.encryption_key = *key;
      } else {
        throw MissingEncryptionKeyError(util::concat({at, "[encryption] has no key: set `key` or `environment_key`"}));
      }
      if (*algorithm != "aes256") {
        throw UnknownEncryptionAlgorithmError(
            util::concat({at, "Unknown [encryption] algorithm '", *algorithm, "': the only one is 'aes256'"}));
      }
      codec::check_key_size(processing.encryption_key.size());
      if (const std::string* strict = find(*encryption, "strict")) {
        processing.require_encryption = parse_bool(*strict, OptionName{origin, "encryption", "strict"});
      }
    }
  }
  return processing;
}

}  // namespace cshelve::config
