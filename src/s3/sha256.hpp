// SHA-256 and HMAC-SHA256 over OpenSSL, as SigV4 uses them: a payload's hash, fed whole or a part
// at a time, and the machinery the signer keeps to itself (digests on the stack, keys wiped after
// use, contexts reused) so that signing a request costs little.
#ifndef CSHELVE_S3_SHA256_HPP
#define CSHELVE_S3_SHA256_HPP

#include <openssl/evp.h>

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/openssl.hpp"

namespace cshelve::s3 {

// Lower-case hex SHA-256 of the concatenation of the pieces.
std::string sha256_hex(const std::vector<std::string_view>& pieces);
inline std::string sha256_hex(std::string_view data) { return sha256_hex(std::vector<std::string_view>{data}); }

// SHA-256 fed a part at a time, for a body read from a file rather than held in memory.
class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  std::string hex_digest();  // ends the hash

 private:
  util::EvpMdCtx context_;
};

namespace detail {

constexpr std::size_t kSha256Size = 32;
using Digest = std::array<unsigned char, kSha256Size>;

inline std::string_view as_text(const Digest& digest) {
  return std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size());
}

using util::EvpMd;
using util::EvpMdCtx;

// Wipes a buffer that held key material when the scope ends, however it ends.
class ScopedCleanse {
 public:
  ScopedCleanse(void* data, std::size_t size) noexcept : data_(data), size_(size) {}
  ~ScopedCleanse() { OPENSSL_cleanse(data_, size_); }
  ScopedCleanse(const ScopedCleanse&) = delete;
  ScopedCleanse& operator=(const ScopedCleanse&) = delete;

 private:
  void* data_;
  std::size_t size_;
};

// SHA-256 of the concatenation of `count` pieces, for what is not secret: the canonical request,
// payloads. Works in a context reused by the thread.
void sha256(const std::string_view* pieces, std::size_t count, Digest& out);

// HMAC-SHA256 with one key (RFC 2104): SHA-256 over (key ^ opad) and the SHA-256 over (key ^ ipad)
// and the message. Both padded keys are hashed once, when the key is set, and each MAC resumes
// from copies of those two states: a key used for many MACs (a day's signing key) is not worked
// through again for each. Not for concurrent use: mac() works in the object's own context.
class HmacSha256 {
 public:
  static constexpr std::size_t kBlockSize = 64;

  explicit HmacSha256(std::string_view key);
  void mac(std::string_view message, Digest& out);

 private:
  // The block is XORed with the pad in place and restored, so that no second copy of the key is
  // made.
  static void absorb_padded(EVP_MD_CTX* ctx, std::array<unsigned char, kBlockSize>& block, unsigned char pad);

  // OpenSSL wipes a digest state when it frees it.
  EvpMdCtx inner_{EVP_MD_CTX_new()};
  EvpMdCtx outer_{EVP_MD_CTX_new()};
  EvpMdCtx scratch_{EVP_MD_CTX_new()};  // holds the last MAC (or the hashed long key) until the next
};

}  // namespace detail
}  // namespace cshelve::s3

#endif
