#include "support.hpp"

#include <cshelve/errors.hpp>

#include "config/settings.hpp"

#include <doctest/doctest.h>

#include <openssl/evp.h>
#include <zlib.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace cshelve::test {

std::string from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) throw std::runtime_error("odd hex length");
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::runtime_error("bad hex digit");
  };
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<char>(nibble(hex[2 * i]) * 16 + nibble(hex[2 * i + 1]));
  }
  return out;
}

std::string to_hex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    out += kDigits[static_cast<unsigned char>(c) >> 4];
    out += kDigits[static_cast<unsigned char>(c) & 0xf];
  }
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  return to_hex(std::string_view(reinterpret_cast<const char*>(digest), size));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

std::string reference_inflate(std::string_view compressed, std::size_t expected_size) {
  std::string out(expected_size, '\0');
  uLongf size = expected_size;
  if (uncompress(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(compressed.data()),
                 compressed.size()) != Z_OK ||
      size != expected_size) {
    throw std::runtime_error("reference inflate failed");
  }
  return out;
}

std::string pseudo_random_bytes(std::size_t size, std::uint64_t seed) {
  std::string out(size, '\0');
  std::uint64_t state = seed * 0x9e3779b97f4a7c15ULL + 1;
  for (std::size_t i = 0; i < size; i += 8) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    for (std::size_t j = 0; j < 8 && i + j < size; ++j) {
      out[i + j] = static_cast<char>((state >> (8 * j)) & 0xff);
    }
  }
  return out;
}

std::string flatten(const codec::EncodedRecord& record) {
  std::string out;
  out.reserve(record.size());
  for (const std::string_view piece : record.pieces()) out.append(piece);
  return out;
}

codec::Processing processing_from_ini(std::string_view text) {
  const config::Ini ini = config::parse_ini(text, "vector.ini");
  return config::processing_from_config(ini.find("compression"), ini.find("encryption"));
}

const char* describe(Outcome outcome) {
  switch (outcome) {
    case Outcome::returned: return "returned";
    case Outcome::data_corruption: return "DataCorruptionError";
    case Outcome::encrypted_corruption: return "EncryptedDataCorruptionError";
    case Outcome::signature: return "DataProcessingSignatureError";
    case Outcome::other_error: return "another cshelve::Error";
  }
  return "?";
}

namespace {

template <typename Decode>
Result outcome_of(Decode&& decode) {
  Result result;
  try {
    result.value = decode();
  } catch (const EncryptedDataCorruptionError& error) {
    result.outcome = Outcome::encrypted_corruption;
    result.message = error.what();
  } catch (const DataProcessingSignatureError& error) {
    result.outcome = Outcome::signature;
    result.message = error.what();
  } catch (const DataCorruptionError& error) {
    result.outcome = Outcome::data_corruption;
    result.message = error.what();
  } catch (const Error& error) {
    result.outcome = Outcome::other_error;
    result.message = error.what();
  }
  return result;
}

// The record through codec::RecordReader, fed `part` bytes at a time, after a false start that
// restart() must undo.
Result run_streamed_decode(const std::string& record, const codec::Processing& processing, std::size_t part) {
  return outcome_of([&] {
    std::string payload;
    codec::RecordReader reader(processing, [&payload](std::string_view bytes) { payload.append(bytes); });
    reader.feed(std::string_view(record).substr(0, record.size() / 2));
    reader.restart();
    payload.clear();
    for (std::size_t at = 0; at < record.size(); at += part) reader.feed(std::string_view(record).substr(at, part));
    reader.finish();
    return payload;
  });
}

}  // namespace

Result run_decode(const std::string& record, const codec::Processing& processing) {
  const Result result = outcome_of([&] { return codec::decode_record(record, processing); });
  // Every decode in the codec tests also checks that the streamed reader agrees: same payload, or
  // the same error with the same message, whatever the sizes of the parts it is fed.
  for (const std::size_t part : {std::size_t{1}, std::size_t{7}, std::size_t{4096}, record.size() + 1}) {
    if (part == 1 && record.size() > 65536) continue;
    CAPTURE(part);
    const Result streamed = run_streamed_decode(record, processing, part);
    CHECK(describe(streamed.outcome) == std::string(describe(result.outcome)));
    CHECK(streamed.message == result.message);
    CHECK(streamed.value == result.value);
  }
  return result;
}

std::string stream_encode(std::string_view payload, const codec::Processing& processing, std::string_view nonce,
                          std::size_t part) {
  codec::RecordWriter writer(processing, nonce);
  std::string record;
  for (std::size_t at = 0; at < payload.size(); at += part) writer.update(payload.substr(at, part), record);
  const std::string prefix = writer.finish(record);
  REQUIRE(prefix.size() == writer.prefix_size());
  REQUIRE(record.size() >= prefix.size());
  CHECK(record.compare(0, prefix.size(), std::string(prefix.size(), '\0')) == 0);  // the placeholder
  record.replace(0, prefix.size(), prefix);
  return record;
}

}  // namespace cshelve::test
