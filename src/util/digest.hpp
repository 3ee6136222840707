// The digests and encodings S3 asks for besides SigV4's SHA-256 (which the signer keeps to itself,
// for speed): MD5 for Content-MD5 and ETags, and base64.
#ifndef CSHELVE_UTIL_DIGEST_HPP
#define CSHELVE_UTIL_DIGEST_HPP

#include <cstddef>
#include <string>
#include <string_view>

#include "util/openssl.hpp"

namespace cshelve::util {

// The 16 bytes of the MD5 of `data`. Throws StorageError when OpenSSL offers no MD5 (a FIPS build).
std::string md5(std::string_view data);

// MD5 over a body given piece by piece (a reply as it arrives). One object serves body after body:
// start() begins the next, reusing the context.
class Md5Stream {
 public:
  // Throws StorageError when OpenSSL offers no MD5.
  void start();
  // False when OpenSSL failed to take the piece; the digest is then not to be trusted.
  bool update(const void* data, std::size_t size) noexcept;
  // The 16 bytes; empty when OpenSSL failed.
  std::string finish();

 private:
  EvpMdCtx context_;
};

// Standard base64 with padding.
std::string base64(std::string_view bytes);

}  // namespace cshelve::util

#endif
