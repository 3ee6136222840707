// The digests and encodings S3 asks for besides SigV4's SHA-256 (which the signer keeps to itself,
// for speed): MD5 for Content-MD5 and ETags, and base64.
#ifndef CSHELVE_UTIL_DIGEST_HPP
#define CSHELVE_UTIL_DIGEST_HPP

#include <string>
#include <string_view>

namespace cshelve::util {

// The 16 bytes of the MD5 of `data`. Throws StorageError when OpenSSL offers no MD5 (a FIPS build).
std::string md5(std::string_view data);

// Standard base64 with padding.
std::string base64(std::string_view bytes);

}  // namespace cshelve::util

#endif
