#include "util/digest.hpp"

#include <cshelve/errors.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <memory>

#include "util/openssl.hpp"

namespace cshelve::util {

std::string md5(std::string_view data) {
  EvpMdCtx context(EVP_MD_CTX_new());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!context || EVP_DigestInit_ex(context.get(), EVP_md5(), nullptr) != 1 ||
      EVP_DigestUpdate(context.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(context.get(), digest, &length) != 1) {
    throw StorageError("MD5 is not available from OpenSSL");
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string base64(std::string_view bytes) {
  std::string encoded(4 * ((bytes.size() + 2) / 3), '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                      reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  encoded.resize(static_cast<std::size_t>(std::max(0, written)));
  return encoded;
}

}  // namespace cshelve::util
