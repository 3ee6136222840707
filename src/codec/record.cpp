#include "codec/record.hpp"

#include "codec/eax.hpp"
#include "codec/zlib_stream.hpp"

#include <cshelve/errors.hpp>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <zlib.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "codec/envelope.hpp"
#include "util/text.hpp"

namespace cshelve::codec {

using namespace detail;

void check_key_size(std::size_t size) {
  if (!eax::is_valid_key_size(size)) {
    throw MissingEncryptionKeyError(
        util::concat({"The encryption key is ", std::to_string(size),
                      " bytes long (UTF-8); AES needs a key of exactly 16, 24 or 32 bytes"}));
  }
}

Processing::~Processing() { wipe(encryption_key); }

Processing& Processing::operator=(const Processing& other) {
  if (this != &other) {
    wipe(encryption_key);
    zlib_level = other.zlib_level;
    encryption_key = other.encryption_key;
    require_encryption = other.require_encryption;
  }
  return *this;
}

EncodedRecord::EncodedRecord(const EncodedRecord& other)
    : header(other.header), processed(other.processed), data(other.data) {
  if (!processed.empty()) data = processed;
}

EncodedRecord::EncodedRecord(EncodedRecord&& other) noexcept
    : header(std::move(other.header)), processed(std::move(other.processed)), data(other.data) {
  if (!processed.empty()) data = processed;
  other.data = {};
}

EncodedRecord& EncodedRecord::operator=(const EncodedRecord& other) {
  if (this != &other) {
    header = other.header;
    processed = other.processed;
    data = processed.empty() ? other.data : std::string_view(processed);
  }
  return *this;
}

EncodedRecord& EncodedRecord::operator=(EncodedRecord&& other) noexcept {
  if (this != &other) {
    header = std::move(other.header);
    processed = std::move(other.processed);
    data = processed.empty() ? other.data : std::string_view(processed);
    other.data = {};
  }
  return *this;
}

EncodedRecord encode_record(std::string_view payload, const Processing& processing, std::string_view nonce) {
  const bool compress = processing.zlib_level.has_value();
  const bool encrypt = !processing.encryption_key.empty();
  if (encrypt) check_key_size(processing.encryption_key.size());
  check_nonce_size(nonce);

  EncodedRecord record;
  std::string signature;
  const std::size_t nonce_size = nonce.empty() ? kNonceSize : nonce.size();
  // Room for the encryption header in front, so that the compressed data is encrypted where it
  // lies instead of being copied.
  const std::size_t encryption_prefix = encrypt ? kEncryptionHeaderSize + eax::kTagSize + nonce_size : 0;

  if (compress) {
    record.processed.assign(encryption_prefix, '\0');
    zlib_compress_append(payload, *processing.zlib_level, record.processed);
    signature.insert(signature.begin(), kCompressionStep);
  }
  if (encrypt) {
    const unsigned char* plaintext = nullptr;
    std::size_t plaintext_size = 0;
    if (compress) {
      plaintext = bytes(record.processed, encryption_prefix);
      plaintext_size = record.processed.size() - encryption_prefix;
    } else {
      record.processed.resize(encryption_prefix + payload.size());
      plaintext = reinterpret_cast<const unsigned char*>(payload.data());
      plaintext_size = payload.size();
    }
    std::string drawn_nonce;
    if (nonce.empty()) {
      drawn_nonce = fresh_nonce();
      nonce = drawn_nonce;
    }
    unsigned char* out = bytes(record.processed, 0);
    const eax::Tag tag =
        eax::encrypt(processing.encryption_key, nonce, {}, plaintext, plaintext_size, out + encryption_prefix);
    put_encryption_header(out, tag, nonce);
    signature.insert(signature.begin(), kEncryptionStep);
  }
  record.data = record.processed.empty() ? payload : std::string_view(record.processed);

  record.header = envelope_header(signature, record.data.size());
  return record;
}

bool writes_plain(const Processing& processing) noexcept {
  return !processing.zlib_level && processing.encryption_key.empty();
}

std::string plain_record_header(std::uint64_t payload_size) { return envelope_header({}, payload_size); }

std::string decode_record(std::string record, const Processing& processing) {
  if (record.empty()) throw DataCorruptionError("The stored record is empty");
  // Records from before the versioned format are the payload itself, whatever the configuration.
  if (static_cast<unsigned char>(record[0]) > kRecordVersion) {
    check_legacy_allowed(processing);
    return record;
  }
  if (record.size() < kEnvelopeHeaderSize) {
    throw DataCorruptionError(util::concat(
        {"The stored record is truncated: ", std::to_string(record.size()), " bytes cannot hold its 10-byte header"}));
  }
  const std::size_t signature_size = static_cast<unsigned char>(record[1]);
  const std::uint64_t data_size = read_u64_le(record, 2);
  check_envelope(signature_size, data_size, record.size() - kEnvelopeHeaderSize);
  const std::string left_to_undo = record.substr(kEnvelopeHeaderSize, signature_size);
  check_strict(processing, left_to_undo);

  // The data stays in `record` (decrypted in place) until decompression gives it a new home.
  std::string inflated;
  std::string* buffer = &record;
  Region region{kEnvelopeHeaderSize + signature_size, static_cast<std::size_t>(data_size)};
  const Plan plan = plan_for(processing, left_to_undo);
  for (const char step : plan.steps) {
    if (step == kEncryptionStep) {
      decrypt_in_place(*buffer, region, processing.encryption_key);
    } else {
      std::string output = zlib_decompress(std::string_view(*buffer).substr(region.begin, region.size));
      inflated = std::move(output);
      buffer = &inflated;
      region = Region{0, inflated.size()};
    }
  }
  if (!plan.left.empty()) {
    throw_missing_steps(plan.left, std::string_view(record).substr(kEnvelopeHeaderSize, signature_size));
  }

  if (buffer == &inflated) return inflated;
  record.erase(0, region.begin);
  record.resize(region.size);
  return record;
}

}  // namespace cshelve::codec