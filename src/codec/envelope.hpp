// The pieces of the record format that encoding and decoding share, whole or a part at a time:
// constants, the envelope header, the encryption header and the checks, each in Python cshelve's
// order and with its messages. Internal to the codec.
#ifndef CSHELVE_CODEC_ENVELOPE_HPP
#define CSHELVE_CODEC_ENVELOPE_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "codec/eax.hpp"
#include "codec/record.hpp"

namespace cshelve::codec::detail {

inline constexpr unsigned char kRecordVersion = 0;
inline constexpr std::size_t kEnvelopeHeaderSize = 1 + 1 + 8;  // version, signature length, data length
inline constexpr char kCompressionStep = 'c';
inline constexpr char kEncryptionStep = 'e';

// Encrypted data: algorithm byte, tag length, nonce length, tag, nonce, ciphertext.
inline constexpr unsigned char kAesEaxAlgorithm = 1;
inline constexpr std::size_t kEncryptionHeaderSize = 3;
inline constexpr std::size_t kNonceSize = 16;
// Python cshelve rejects encrypted data shorter than this before looking at it further.
inline constexpr std::size_t kShortestEncryptedData = 5;

// Clears a secret's whole allocation.
void wipe(std::string& secret);

void append_u64_le(std::string& out, std::uint64_t value);
std::uint64_t read_u64_le(const std::string& in, std::size_t offset);
unsigned char* bytes(std::string& s, std::size_t offset);

// The steps of a configuration, in the order Python cshelve lists them.
std::string signature_of(const Processing& processing);
// Bytes as text for a message: printable ASCII as is, the rest as \xHH.
std::string printable(std::string_view raw);

// A range of a string being decoded: the data still to be processed.
struct Region {
  std::size_t begin;
  std::size_t size;
};

void check_encrypted_size(std::uint64_t size);
// The checks of an encryption header: `data` holds the first 3 bytes of encrypted data of `size`
// bytes. Returns the offset of the ciphertext.
std::size_t check_encryption_header(const unsigned char* data, std::uint64_t size);
[[noreturn]] void throw_tag_mismatch();
// Checks and decrypts encrypted data in place; on return `region` covers the plaintext.
void decrypt_in_place(std::string& buffer, Region& region, const std::string& key);

// A record's steps as a reader with `processing` undoes them (see envelope.cpp).
struct Plan {
  std::string steps;
  std::string left;
};
Plan plan_for(const Processing& processing, std::string_view signature);
[[noreturn]] void throw_missing_steps(const std::string& left, std::string_view signature);

// Algorithm, tag length, nonce length, tag, nonce: the front of encrypted data.
void put_encryption_header(unsigned char* out, const eax::Tag& tag, std::string_view nonce);
std::string fresh_nonce();
void check_nonce_size(std::string_view nonce);
// The envelope header: version, signature length, data length, signature.
std::string envelope_header(std::string_view signature, std::uint64_t data_size);
void check_legacy_allowed(const Processing& processing);
// The record's length must be exactly what its header announces.
void check_envelope(std::size_t signature_size, std::uint64_t data_size, std::uint64_t after_header);
void check_strict(const Processing& processing, std::string_view signature);

}  // namespace cshelve::codec::detail

#endif
