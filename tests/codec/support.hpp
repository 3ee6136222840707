// Helpers shared by the codec tests.
#ifndef CSHELVE_TESTS_CODEC_SUPPORT_HPP
#define CSHELVE_TESTS_CODEC_SUPPORT_HPP

#include "codec/record.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace cshelve::test {

std::string from_hex(std::string_view hex);
std::string to_hex(std::string_view bytes);
std::string sha256_hex(std::string_view bytes);
std::string read_file(const std::string& path);
// Inflates with zlib's own uncompress(), independent of the code under test.
std::string reference_inflate(std::string_view compressed, std::size_t expected_size);
// Deterministic pseudo-random bytes (xorshift), fast enough for hundreds of MiB.
std::string pseudo_random_bytes(std::size_t size, std::uint64_t seed);
// The record as one string, as a storage would hold it.
std::string flatten(const codec::EncodedRecord& record);

// Processing from the text of an INI file, read by the parser that ships.
codec::Processing processing_from_ini(std::string_view text);

// What a call did: returned, or which cshelve error (the most derived of the codec's) it threw.
enum class Outcome { returned, data_corruption, encrypted_corruption, signature, other_error };
const char* describe(Outcome outcome);
struct Result {
  Outcome outcome = Outcome::returned;
  std::string value;    // when returned
  std::string message;  // when thrown
};
Result run_decode(const std::string& record, const codec::Processing& processing);
// The record codec::RecordWriter makes of `payload` fed `part` bytes at a time, prefix in place.
std::string stream_encode(std::string_view payload, const codec::Processing& processing, std::string_view nonce,
                          std::size_t part);

}  // namespace cshelve::test

#endif
