// Ownership of OpenSSL's objects: unique_ptr types that free each with its own function.
#ifndef CSHELVE_UTIL_OPENSSL_HPP
#define CSHELVE_UTIL_OPENSSL_HPP

#include <openssl/evp.h>

#include <memory>

namespace cshelve::util {

template <class Object, void (*Free)(Object*)>
struct OpenSslFree {
  void operator()(Object* object) const noexcept { Free(object); }
};

template <class Object, void (*Free)(Object*)>
using OpenSslPtr = std::unique_ptr<Object, OpenSslFree<Object, Free>>;

using EvpMd = OpenSslPtr<EVP_MD, EVP_MD_free>;
using EvpMdCtx = OpenSslPtr<EVP_MD_CTX, EVP_MD_CTX_free>;
using EvpMac = OpenSslPtr<EVP_MAC, EVP_MAC_free>;
using EvpMacCtx = OpenSslPtr<EVP_MAC_CTX, EVP_MAC_CTX_free>;
using EvpCipher = OpenSslPtr<EVP_CIPHER, EVP_CIPHER_free>;
using EvpCipherCtx = OpenSslPtr<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>;

}  // namespace cshelve::util

#endif
