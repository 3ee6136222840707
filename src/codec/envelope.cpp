#include "codec/envelope.hpp"

#include <cshelve/errors.hpp>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstring>
#include <limits>

#include "util/hex.hpp"
#include "util/text.hpp"

namespace cshelve::codec::detail {

void wipe(std::string& secret) {
  // Clear the whole allocation, not just the current contents, which may be shorter than what
  // the string held before.
  secret.resize(secret.capacity());
  OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
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

unsigned char* bytes(std::string& s, std::size_t offset) { return reinterpret_cast<unsigned char*>(&s[0]) + offset; }

// The steps of a configuration, in the order Python cshelve lists them: the signature of what it
// writes (outermost step first), and the order in which it undoes steps when it reads.
std::string signature_of(const Processing& processing) {
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

void check_encrypted_size(std::uint64_t size) {
  if (size < kShortestEncryptedData) {
    throw EncryptedDataCorruptionError(
        util::concat({"The encrypted data is corrupted: ", std::to_string(size), " bytes cannot hold its header"}));
  }
}

// The checks of an encryption header, in Python cshelve's order: `data` holds the first 3 bytes
// of encrypted data of `size` bytes. Returns the offset of the ciphertext.
std::size_t check_encryption_header(const unsigned char* data, std::uint64_t size) {
  check_encrypted_size(size);
  if (data[0] != kAesEaxAlgorithm) {
    throw EncryptedDataCorruptionError(
        util::concat({"The data was encrypted with an unknown algorithm (", std::to_string(data[0]),
                      "); this library knows AES-EAX (1) only"}));
  }
  const std::size_t tag_size = data[1];
  const std::size_t nonce_size = data[2];
  if (kEncryptionHeaderSize + tag_size + nonce_size > size) {
    throw EncryptedDataCorruptionError("The encrypted data is truncated: it is shorter than its tag and nonce");
  }
  if (nonce_size == 0) {
    throw EncryptedDataCorruptionError("The encrypted data is corrupted: its nonce is empty");
  }
  if (tag_size != eax::kTagSize) {
    throw EncryptedDataCorruptionError(
        util::concat({"The encrypted data is corrupted: its tag is ", std::to_string(tag_size), " bytes, not 16"}));
  }
  return kEncryptionHeaderSize + tag_size + nonce_size;
}

[[noreturn]] void throw_tag_mismatch() {
  throw EncryptedDataCorruptionError(
      "The encrypted data is corrupted, or the encryption key is not the one it was written "
      "with: its tag does not verify");
}

// Checks and decrypts encrypted data in place; on return `region` covers the plaintext.
void decrypt_in_place(std::string& buffer, Region& region, const std::string& key) {
  check_key_size(key.size());
  const unsigned char* data = bytes(buffer, region.begin);
  const std::size_t ciphertext_offset = check_encryption_header(data, region.size);
  eax::Tag tag{};
  std::memcpy(tag.data(), data + kEncryptionHeaderSize, tag.size());
  const std::string_view nonce(reinterpret_cast<const char*>(data) + kEncryptionHeaderSize + tag.size(),
                               ciphertext_offset - kEncryptionHeaderSize - tag.size());
  const std::size_t ciphertext_size = region.size - ciphertext_offset;
  // Python cshelve also refuses ciphertexts shorter than 2 bytes even when they authenticate.
  // Those only come from payloads of 0 or 1 bytes, which Python never produces (its payloads are
  // pickles) but C++ callers may store; they are accepted here so that such values round-trip.
  unsigned char* ciphertext = bytes(buffer, region.begin + ciphertext_offset);
  if (!eax::decrypt(key, nonce, {}, ciphertext, ciphertext_size, tag, ciphertext)) throw_tag_mismatch();
  region.begin += ciphertext_offset;
  region.size = ciphertext_size;
}

// A record's steps as a reader with `processing` undoes them: Python cshelve walks its own steps
// in order and undoes each one that is next in the record's signature, so a record may use fewer
// steps than the reader has, never others. `left` is what no step of the reader undoes.
Plan plan_for(const Processing& processing, std::string_view signature) {
  Plan plan{{}, std::string(signature)};
  for (const char step : signature_of(processing)) {
    if (plan.left.empty()) break;
    if (plan.left.front() != step) continue;
    plan.steps += step;
    plan.left.erase(0, 1);
  }
  return plan;
}

[[noreturn]] void throw_missing_steps(const std::string& left, std::string_view signature) {
  throw DataProcessingSignatureError(
      util::concat({"The record needs processing this shelf is not configured for: step(s) '", printable(left),
                    "' of signature '", printable(signature), "' ('c' is zlib compression, 'e' is encryption)"}));
}

// Algorithm, tag length, nonce length, tag, nonce: the front of encrypted data.
void put_encryption_header(unsigned char* out, const eax::Tag& tag, std::string_view nonce) {
  out[0] = kAesEaxAlgorithm;
  out[1] = static_cast<unsigned char>(eax::kTagSize);
  out[2] = static_cast<unsigned char>(nonce.size());
  std::memcpy(out + kEncryptionHeaderSize, tag.data(), tag.size());
  std::memcpy(out + kEncryptionHeaderSize + tag.size(), nonce.data(), nonce.size());
}

std::string fresh_nonce() {
  std::string nonce(kNonceSize, '\0');
  if (RAND_bytes(bytes(nonce, 0), static_cast<int>(kNonceSize)) != 1) {
    throw Error("The system's random generator could not provide a nonce");
  }
  return nonce;
}

void check_nonce_size(std::string_view nonce) {
  if (nonce.size() > std::numeric_limits<unsigned char>::max()) {
    throw Error("An EAX nonce for a record must be 1 to 255 bytes long");
  }
}

// The envelope header: version, signature length, data length, signature.
std::string envelope_header(std::string_view signature, std::uint64_t data_size) {
  std::string header;
  header.reserve(kEnvelopeHeaderSize + signature.size());
  header.push_back(static_cast<char>(kRecordVersion));
  header.push_back(static_cast<char>(signature.size()));
  append_u64_le(header, data_size);
  header += signature;
  return header;
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
        util::concat({"The stored record is truncated or has extra bytes: its header announces ",
                      std::to_string(signature_size), " signature and ", std::to_string(data_size), " data bytes, but ",
                      std::to_string(after_header), " bytes follow the header"}));
  }
}

void check_strict(const Processing& processing, std::string_view signature) {
  if (processing.require_encryption && signature.find(kEncryptionStep) == std::string_view::npos) {
    throw DataProcessingSignatureError(util::concat({"The record is not encrypted (signature '", printable(signature),
                                                     "'); [encryption] strict = true refuses it"}));
  }
}

}  // namespace cshelve::codec::detail
