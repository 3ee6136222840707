// libFuzzer target: the stored record format (src/codec/record.hpp), with no processing, zlib,
// AES-EAX, and both.
//
// Decoding: any bytes from storage either decode or throw DataCorruptionError (or one of its
// kinds), under every configuration; any other exception, a crash, a leak or undefined behaviour is
// a bug. Encoding: every input, taken as a value, must come back unchanged from its own record
// under its own configuration, and under any configuration that has more steps (the reader's
// subset rule).
#include "codec/record.hpp"

#include <cshelve/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"

namespace {

// The seed corpus's encrypted records were written with this key, so that they decrypt and the
// fuzzer starts from data that passes the tag check.
constexpr std::string_view kKey = "fuzzing key: 32 bytes, AES-256!!";
constexpr std::string_view kNonce = "sixteen-b nonce!";

cshelve::codec::Processing make(std::optional<int> level, std::string_view key) {
  cshelve::codec::Processing processing;
  processing.zlib_level = level;
  processing.encryption_key = std::string(key);
  return processing;
}

const std::vector<cshelve::codec::Processing>& configurations() {
  // none, zlib, aes, zlib+aes: each one's steps are a subset of those of the ones after it,
  // except aes and zlib, which are disjoint.
  static const std::vector<cshelve::codec::Processing> all = {make(std::nullopt, ""), make(-1, ""),
                                                              make(std::nullopt, kKey), make(-1, kKey)};
  return all;
}

using cshelve_fuzz::check;

bool is_subset(std::size_t writer, std::size_t reader) { return writer == reader || writer == 0 || reader == 3; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto& all = configurations();

  for (const auto& processing : all) {
    try {
      cshelve::codec::decode_record(std::string(input), processing);
    } catch (const cshelve::DataCorruptionError&) {
    }
  }

  // One configuration per input writes it (picked by its first byte, so that every configuration
  // gets its share); each AES-EAX operation costs far more than the rest of the work.
  const std::size_t writer = size > 0 ? data[0] % all.size() : 0;
  const cshelve::codec::EncodedRecord record = cshelve::codec::encode_record(input, all[writer], kNonce);
  std::string stored = record.header;
  stored.append(record.data);
  check(stored.size() == record.size(), "size() is the stored size");
  for (std::size_t reader = 0; reader < all.size(); ++reader) {
    if (!is_subset(writer, reader)) continue;
    check(cshelve::codec::decode_record(stored, all[reader]) == input, "a value reads back unchanged from its record");
  }
  return 0;
}
