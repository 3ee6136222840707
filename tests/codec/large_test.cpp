// 256 MiB values through every configuration: the streaming paths and in-place decoding at size.
#include "codec/record.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace {

using cshelve::codec::decode_record;
using cshelve::codec::encode_record;
using cshelve::codec::Processing;
using namespace cshelve::test;

constexpr std::size_t kLargeSize = std::size_t{256} << 20;

Processing make(std::optional<int> level, std::string key) {
  Processing processing;
  processing.zlib_level = level;
  processing.encryption_key = std::move(key);
  return processing;
}

// Random bytes with long repeated stretches, so that zlib has work of both kinds to do.
std::string large_value() {
  std::string value = pseudo_random_bytes(kLargeSize, 256);
  for (std::size_t offset = 0; offset + (1 << 20) <= value.size(); offset += 4 << 20) {
    value.replace(offset, 1 << 20, 1 << 20, static_cast<char>(offset >> 20));
  }
  return value;
}

}  // namespace

TEST_CASE("large: 256 MiB round trips through none, zlib, aes and zlib+aes") {
  const std::string value = large_value();
  const std::string value_digest = sha256_hex(value);
  const std::pair<const char*, Processing> configs[] = {{"none", make(std::nullopt, "")},
                                                        {"zlib", make(-1, "")},
                                                        {"aes", make(std::nullopt, "0123456789abcdef0123456789ABCDEF")},
                                                        {"zlib+aes", make(-1, "Sixteen byte key")}};
  for (const auto& [name, processing] : configs) {
    CAPTURE(name);
    std::string record;
    {
      const auto encoded = encode_record(value, processing);
      if (processing.zlib_level || !processing.encryption_key.empty()) {
        CHECK(encoded.data.data() == encoded.processed.data());
      } else {
        CHECK(encoded.data.data() == value.data());
      }
      record = flatten(encoded);
    }
    const char* storage = record.data();
    const std::string decoded = decode_record(std::move(record), processing);
    CHECK(decoded.size() == value.size());
    CHECK(sha256_hex(decoded) == value_digest);
    if (!processing.zlib_level) CHECK(decoded.data() == storage);
  }
}
