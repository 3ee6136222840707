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

namespace cshelve::codec {
namespace {

constexpr unsigned char kRecordVersion = 0;
constexpr std::size_t kEnvelopeHeaderSize = 1 + 1 + 8;  // version, signature length, data length
constexpr char kCompressionStep = 'c';
constexpr char kEncryptionStep = 'e';

// Encrypted data: algorithm byte, tag length, nonce length, tag, nonce, ciphertext.
constexpr unsigned char kAesEaxAlgorithm = 1;
constexpr std::size_t kEncryptionHeaderSize = 3;
constexpr std::size_t kNonceSize = 16;
// Python cshelve rejects encrypted data shorter than this before looking at it further.
constexpr std::size_t kShortestEncryptedData = 5;

void wipe(std::string& secret) {
  // Clear the whole allocation, not just the current contents, which may be shorter than what
  // the string held before.
  secret.resize(secret.capacity());
  OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
}

const std::string* find(const Section& section, const char* option) {
  const auto found = section.find(option);
  return found == section.end() ? nullptr : &found->second;
}

void check_key_size(std::size_t size) {
  if (!eax::is_valid_key_size(size)) {
    throw MissingEncryptionKeyError(
        "The encryption key is " + std::to_string(size) +
        " bytes long (UTF-8); AES needs a key of exactly 16, 24 or 32 bytes");
  }
}

int parse_zlib_level(const std::string& text) {
  // Python reads the level with int(): optional sign and decimal digits, spaces around allowed.
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  std::size_t begin = 0;
  std::size_t end = text.size();
  while (begin < end && is_space(text[begin])) ++begin;
  while (end > begin && is_space(text[end - 1])) --end;
  const std::string trimmed = text.substr(begin, end - begin);
  const std::string problem = "[compression] level = '" + trimmed + "' ";
  std::size_t first_digit = 0;
  if (!trimmed.empty() && (trimmed[0] == '-' || trimmed[0] == '+')) first_digit = 1;
  if (first_digit == trimmed.size()) throw ConfigurationError(problem + "is not an integer");
  for (std::size_t i = first_digit; i < trimmed.size(); ++i) {
    if (trimmed[i] < '0' || trimmed[i] > '9')
      throw ConfigurationError(problem + "is not an integer");
  }
  errno = 0;
  const long level = std::strtol(trimmed.c_str(), nullptr, 10);
  if (errno == ERANGE || level < std::numeric_limits<int>::min() ||
      level > std::numeric_limits<int>::max() || !is_valid_zlib_level(static_cast<int>(level))) {
    throw ConfigurationError(problem + "is out of range: use -1 (zlib's default) or 0 to 9");
  }
  return static_cast<int>(level);
}

void append_u64_le(std::string& out, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

std::uint64_t read_u64_le(const std::string& in, std::size_t offset) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) {
    value = (value << 8) | static_cast<unsigned char>(in[offset + static_cast<std::size_t>(i)]);
  }
  return value;
}

unsigned char* bytes(std::string& s, std::size_t offset) {
  return reinterpret_cast<unsigned char*>(&s[0]) + offset;
}

// The steps a reader can undo, in the order Python cshelve lists them for its configuration.
std::string reader_signature(const Processing& processing) {
  std::string signature;
  if (!processing.encryption_key.empty()) signature += kEncryptionStep;
  if (processing.zlib_level) signature += kCompressionStep;
  return signature;
}

std::string printable(std::string_view raw) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : raw) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\' && byte != '\'') {
      out += c;
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

// A range of a string being decoded: the data still to be processed.
struct Region {
  std::size_t begin;
  std::size_t size;
};

// Checks and decrypts encrypted data in place; on return `region` covers the plaintext.
void decrypt_in_place(std::string& buffer, Region& region, const std::string& key) {
  check_key_size(key.size());
  const unsigned char* data = bytes(buffer, region.begin);
  if (region.size < kShortestEncryptedData) {
    throw EncryptedDataCorruptionError(
        "The encrypted data is corrupted: " + std::to_string(region.size) +
        " bytes cannot hold its header");
  }
  if (data[0] != kAesEaxAlgorithm) {
    throw EncryptedDataCorruptionError("The data was encrypted with an unknown algorithm (" +
                                       std::to_string(data[0]) +
                                       "); this library knows AES-EAX (1) only");
  }
  const std::size_t tag_size = data[1];
  const std::size_t nonce_size = data[2];
  if (kEncryptionHeaderSize + tag_size + nonce_size > region.size) {
    throw EncryptedDataCorruptionError(
        "The encrypted data is truncated: it is shorter than its tag and nonce");
  }
  if (nonce_size == 0) {
    throw EncryptedDataCorruptionError("The encrypted data is corrupted: its nonce is empty");
  }
  if (tag_size != eax::kTagSize) {
    throw EncryptedDataCorruptionError("The encrypted data is corrupted: its tag is " +
                                       std::to_string(tag_size) + " bytes, not 16");
  }
  eax::Tag tag{};
  std::memcpy(tag.data(), data + kEncryptionHeaderSize, tag.size());
  const std::string_view nonce(
      reinterpret_cast<const char*>(data) + kEncryptionHeaderSize + tag_size, nonce_size);
  const std::size_t ciphertext_offset = kEncryptionHeaderSize + tag_size + nonce_size;
  const std::size_t ciphertext_size = region.size - ciphertext_offset;
  // Python cshelve also refuses ciphertexts shorter than 2 bytes even when they authenticate.
  // Those only come from payloads of 0 or 1 bytes, which Python never produces (its payloads are
  // pickles) but C++ callers may store; they are accepted here so that such values round-trip.
  unsigned char* ciphertext = bytes(buffer, region.begin + ciphertext_offset);
  if (!eax::decrypt(key, nonce, {}, ciphertext, ciphertext_size, tag, ciphertext)) {
    throw EncryptedDataCorruptionError(
        "The encrypted data is corrupted, or the encryption key is not the one it was written "
        "with: its tag does not verify");
  }
  region.begin += ciphertext_offset;
  region.size = ciphertext_size;
}

void check_legacy_allowed(const Processing& processing) {
  if (processing.require_encryption) {
    throw DataProcessingSignatureError(
        "The record is in the unversioned legacy form, not encrypted; [encryption] strict = true refuses it");
  }
}

// The record's length must be exactly what its header announces.
void check_envelope(std::size_t signature_size, std::uint64_t data_size, std::uint64_t after_header) {
  if (signature_size > after_header || data_size != after_header - signature_size) {
    throw DataCorruptionError(
        "The stored record is truncated or has extra bytes: its header announces " +
        std::to_string(signature_size) + " signature and " + std::to_string(data_size) +
        " data bytes, but " + std::to_string(after_header) + " bytes follow the header");
  }
}

void check_strict(const Processing& processing, std::string_view signature) {
  if (processing.require_encryption && signature.find(kEncryptionStep) == std::string_view::npos) {
    throw DataProcessingSignatureError("The record is not encrypted (signature '" + printable(signature) +
                                       "'); [encryption] strict = true refuses it");
  }
}

}  // namespace

RecordReader::RecordReader(const Processing& processing, std::function<void(std::string_view)> out)
    : processing_(processing), out_(std::move(out)) {}

void RecordReader::restart() {
  mode_ = Mode::undecided;
  head_.clear();
  data_size_ = 0;
  data_seen_ = 0;
}

void RecordReader::feed(std::string_view bytes) {
  if (mode_ == Mode::undecided) {
    if (head_.empty() && !bytes.empty() && static_cast<unsigned char>(bytes[0]) > kRecordVersion) {
      check_legacy_allowed(processing_);
      mode_ = Mode::legacy;
    } else {
      const std::size_t taken = std::min(bytes.size(), kEnvelopeHeaderSize - head_.size());
      head_.append(bytes.substr(0, taken));
      bytes.remove_prefix(taken);
      if (head_.size() < kEnvelopeHeaderSize) return;
      if (head_[1] != '\0') {
        // Processing steps work on the whole data: gather it for decode_record.
        mode_ = Mode::gathered;
      } else {
        mode_ = Mode::plain;
        data_size_ = read_u64_le(head_, 2);
      }
    }
  }
  switch (mode_) {
    case Mode::legacy:
      out_(bytes);
      break;
    case Mode::gathered:
      head_.append(bytes);
      break;
    case Mode::plain:
      data_seen_ += bytes.size();
      // Under strict the record is refused in finish(); nothing of it is handed on.
      if (!processing_.require_encryption && !bytes.empty()) out_(bytes);
      break;
    case Mode::undecided:
      break;
  }
}

void RecordReader::finish() {
  switch (mode_) {
    case Mode::undecided:
      decode_record(std::move(head_), processing_);  // too short: throws as for the whole record
      break;
    case Mode::legacy:
      break;
    case Mode::plain:
      check_envelope(0, data_size_, data_seen_);
      check_strict(processing_, {});
      break;
    case Mode::gathered: {
      const std::string payload = decode_record(std::move(head_), processing_);
      out_(payload);
      break;
    }
  }
  restart();
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

Processing processing_from_config(const Section* compression, const Section* encryption) {
  Processing processing;

  if (compression != nullptr) {
    if (const std::string* algorithm = find(*compression, "algorithm")) {
      if (*algorithm != "zlib") {
        throw UnknownCompressionAlgorithmError("Unknown [compression] algorithm '" + *algorithm +
                                               "': the only one is 'zlib'");
      }
      const std::string* level = find(*compression, "level");
      processing.zlib_level = level != nullptr ? parse_zlib_level(*level) : Z_DEFAULT_COMPRESSION;
    }
  }

  if (encryption != nullptr) {
    if (const std::string* algorithm = find(*encryption, "algorithm")) {
      // Python cshelve looks for the key before it looks at the algorithm's name.
      if (const std::string* variable = find(*encryption, "environment_key")) {
        const char* value = std::getenv(variable->c_str());
        if (value == nullptr || *value == '\0') {
          throw MissingEncryptionKeyError("[encryption] environment_key names the variable '" +
                                          *variable + "', which is not set or is empty");
        }
        processing.encryption_key = value;
      } else if (const std::string* key = find(*encryption, "key");
                 key != nullptr && !key->empty()) {
        processing.encryption_key = *key;
      } else {
        throw MissingEncryptionKeyError("[encryption] has no key: set `key` or `environment_key`");
      }
      if (*algorithm != "aes256") {
        throw UnknownEncryptionAlgorithmError("Unknown [encryption] algorithm '" + *algorithm +
                                              "': the only one is 'aes256'");
      }
      check_key_size(processing.encryption_key.size());
      if (const std::string* strict = find(*encryption, "strict")) {
        if (*strict == "true" || *strict == "True" || *strict == "yes" || *strict == "1") {
          processing.require_encryption = true;
        } else if (!(*strict == "false" || *strict == "False" || *strict == "no" || *strict == "0")) {
          throw ConfigurationError("[encryption] strict must be true or false, not '" + *strict + "'");
        }
      }
    }
  }
  return processing;
}

EncodedRecord encode_record(std::string_view payload, const Processing& processing,
                            std::string_view nonce) {
  const bool compress = processing.zlib_level.has_value();
  const bool encrypt = !processing.encryption_key.empty();
  if (encrypt) check_key_size(processing.encryption_key.size());
  if (nonce.size() > std::numeric_limits<unsigned char>::max()) {
    throw Error("An EAX nonce for a record must be 1 to 255 bytes long");
  }

  EncodedRecord record;
  std::string signature;
  const std::size_t nonce_size = nonce.empty() ? kNonceSize : nonce.size();
  // Room for the encryption header in front, so that the compressed data is encrypted where it
  // lies instead of being copied.
  const std::size_t encryption_prefix =
      encrypt ? kEncryptionHeaderSize + eax::kTagSize + nonce_size : 0;

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
    std::string fresh_nonce;
    if (nonce.empty()) {
      fresh_nonce.resize(kNonceSize);
      if (RAND_bytes(bytes(fresh_nonce, 0), static_cast<int>(kNonceSize)) != 1) {
        throw Error("The system's random generator could not provide a nonce");
      }
      nonce = fresh_nonce;
    }
    unsigned char* out = bytes(record.processed, 0);
    const eax::Tag tag = eax::encrypt(processing.encryption_key, nonce, {}, plaintext,
                                      plaintext_size, out + encryption_prefix);
    out[0] = kAesEaxAlgorithm;
    out[1] = static_cast<unsigned char>(eax::kTagSize);
    out[2] = static_cast<unsigned char>(nonce_size);
    std::memcpy(out + kEncryptionHeaderSize, tag.data(), tag.size());
    std::memcpy(out + kEncryptionHeaderSize + tag.size(), nonce.data(), nonce_size);
    signature.insert(signature.begin(), kEncryptionStep);
  }
  record.data = record.processed.empty() ? payload : std::string_view(record.processed);

  record.header.reserve(kEnvelopeHeaderSize + signature.size());
  record.header.push_back(static_cast<char>(kRecordVersion));
  record.header.push_back(static_cast<char>(signature.size()));
  append_u64_le(record.header, record.data.size());
  record.header += signature;
  return record;
}

bool writes_plain(const Processing& processing) noexcept {
  return !processing.zlib_level && processing.encryption_key.empty();
}

std::string plain_record_header(std::uint64_t payload_size) {
  std::string header;
  header.reserve(kEnvelopeHeaderSize);
  header.push_back(static_cast<char>(kRecordVersion));
  header.push_back('\0');  // no processing step
  append_u64_le(header, payload_size);
  return header;
}

std::string decode_record(std::string record, const Processing& processing) {
  if (record.empty()) throw DataCorruptionError("The stored record is empty");
  // Records from before the versioned format are the payload itself, whatever the configuration.
  if (static_cast<unsigned char>(record[0]) > kRecordVersion) {
    check_legacy_allowed(processing);
    return record;
  }
  if (record.size() < kEnvelopeHeaderSize) {
    throw DataCorruptionError("The stored record is truncated: " + std::to_string(record.size()) +
                              " bytes cannot hold its 10-byte header");
  }
  const std::size_t signature_size = static_cast<unsigned char>(record[1]);
  const std::uint64_t data_size = read_u64_le(record, 2);
  check_envelope(signature_size, data_size, record.size() - kEnvelopeHeaderSize);
  std::string left_to_undo = record.substr(kEnvelopeHeaderSize, signature_size);
  check_strict(processing, left_to_undo);

  // The data stays in `record` (decrypted in place) until decompression gives it a new home.
  std::string inflated;
  std::string* buffer = &record;
  Region region{kEnvelopeHeaderSize + signature_size, static_cast<std::size_t>(data_size)};

  // Python cshelve walks its own steps in order and undoes each one that is next in the record's
  // signature: a record may use fewer steps than the reader has, never others.
  for (const char step : reader_signature(processing)) {
    if (left_to_undo.empty()) break;
    if (left_to_undo.front() != step) continue;
    if (step == kEncryptionStep) {
      decrypt_in_place(*buffer, region, processing.encryption_key);
    } else {
      std::string output =
          zlib_decompress(std::string_view(*buffer).substr(region.begin, region.size));
      inflated = std::move(output);
      buffer = &inflated;
      region = Region{0, inflated.size()};
    }
    left_to_undo.erase(0, 1);
  }
  if (!left_to_undo.empty()) {
    throw DataProcessingSignatureError(
        "The record needs processing this shelf is not configured for: step(s) '" +
        printable(left_to_undo) + "' of signature '" +
        printable(std::string_view(record).substr(kEnvelopeHeaderSize, signature_size)) +
        "' ('c' is zlib compression, 'e' is encryption)");
  }

  if (buffer == &inflated) return inflated;
  record.erase(0, region.begin);
  record.resize(region.size);
  return record;
}

}  // namespace cshelve::codec
