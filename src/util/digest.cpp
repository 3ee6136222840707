#include "util/digest.hpp"

#include <cshelve/errors.hpp>

#include <openssl/evp.h>

#include <algorithm>

namespace cshelve::util {

namespace {

[[noreturn]] void no_md5() { throw StorageError("MD5 is not available from OpenSSL"); }

// Fetched once: looking the algorithm up in OpenSSL's provider store on every request would cost
// more than hashing a small body.
const EVP_MD* md5_algorithm() {
  static const EvpMd algorithm(EVP_MD_fetch(nullptr, "MD5", nullptr));
  if (!algorithm) no_md5();
  return algorithm.get();
}

}  // namespace

std::string md5(std::string_view data) {
  Md5Stream stream;
  stream.start();
  if (!stream.update(data.data(), data.size())) no_md5();
  std::string digest = stream.finish();
  if (digest.empty()) no_md5();
  return digest;
}

void Md5Stream::start() {
  if (!context_) context_.reset(EVP_MD_CTX_new());
  if (!context_ || EVP_DigestInit_ex(context_.get(), md5_algorithm(), nullptr) != 1) no_md5();
}

bool Md5Stream::update(const void* data, std::size_t size) noexcept {
  return context_ && EVP_DigestUpdate(context_.get(), data, size) == 1;
}

std::string Md5Stream::finish() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!context_ || EVP_DigestFinal_ex(context_.get(), digest, &length) != 1) return {};
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
