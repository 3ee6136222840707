// AES in EAX mode (Bellare, Rogaway, Wagner: "The EAX Mode of Operation", FSE 2004).
//
// OpenSSL has no EAX, so it is composed here from OpenSSL's AES-CMAC (OMAC1) and AES-CTR:
//   OMAC_t(M) = CMAC(K, 15 zero bytes || t || M)
//   N' = OMAC_0(nonce), H' = OMAC_1(associated data), C = AES-CTR(K, initial counter N', P)
//   tag = N' xor H' xor OMAC_2(C)
// This is byte-for-byte what pycryptodome's AES.MODE_EAX (used by Python cshelve) produces.
#ifndef CSHELVE_CODEC_EAX_HPP
#define CSHELVE_CODEC_EAX_HPP

#include <array>
#include <cstddef>
#include <memory>
#include <string_view>

namespace cshelve::codec::eax {

inline constexpr std::size_t kTagSize = 16;
using Tag = std::array<unsigned char, kTagSize>;

// AES takes 16, 24 or 32-byte keys (AES-128, AES-192, AES-256).
bool is_valid_key_size(std::size_t size) noexcept;

// Encrypts `size` bytes from `plaintext` into `ciphertext` and returns the full 16-byte tag.
// The two buffers may be the same (in-place encryption) but must not otherwise overlap.
// Throws cshelve::Error for a key of the wrong size or an OpenSSL failure.
Tag encrypt(std::string_view key, std::string_view nonce, std::string_view associated_data,
            const unsigned char* plaintext, std::size_t size, unsigned char* ciphertext);

// Decrypts `size` bytes from `ciphertext` into `plaintext` (may be the same buffer) and checks
// `tag` in constant time. Returns false when the tag does not verify; `plaintext` is then wiped,
// so unauthenticated bytes never reach a caller.
bool decrypt(std::string_view key, std::string_view nonce, std::string_view associated_data,
             const unsigned char* ciphertext, std::size_t size, const Tag& tag, unsigned char* plaintext);

// EAX over data that comes a part at a time: the same bytes and tag as encrypt() and decrypt()
// over the whole. Decrypted parts are handed out before the tag is known: the caller must hold
// them back until verify() (or its own check of finish()) says they are authentic.
class Stream {
 public:
  enum class Direction { encrypt, decrypt };
  Stream(std::string_view key, std::string_view nonce, std::string_view associated_data, Direction direction);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Encrypts or decrypts `size` bytes; `in` and `out` may be the same buffer.
  void update(const unsigned char* in, std::size_t size, unsigned char* out);
  // The tag over everything processed. Ends the stream.
  Tag finish();
  // Whether `tag` is the tag of everything processed, compared in constant time. Ends the stream.
  bool verify(const Tag& tag);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace cshelve::codec::eax

#endif
