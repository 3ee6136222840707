#include "codec/eax.hpp"

#include <cshelve/errors.hpp>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <memory>
#include <string>

namespace cshelve::codec::eax {
namespace {

constexpr std::size_t kBlockSize = 16;
using Block = std::array<unsigned char, kBlockSize>;

// Large values are processed in slices so that each slice is still in cache when the MAC reads
// what the counter mode just wrote (and so that OpenSSL's int lengths never overflow).
constexpr std::size_t kSliceSize = 64 * 1024;

struct MacFree {
  void operator()(EVP_MAC* mac) const noexcept { EVP_MAC_free(mac); }
};
struct MacContextFree {
  void operator()(EVP_MAC_CTX* context) const noexcept { EVP_MAC_CTX_free(context); }
};
struct CipherFree {
  void operator()(EVP_CIPHER* cipher) const noexcept { EVP_CIPHER_free(cipher); }
};
struct CipherContextFree {
  void operator()(EVP_CIPHER_CTX* context) const noexcept { EVP_CIPHER_CTX_free(context); }
};
using MacPtr = std::unique_ptr<EVP_MAC, MacFree>;
using MacContextPtr = std::unique_ptr<EVP_MAC_CTX, MacContextFree>;
using CipherPtr = std::unique_ptr<EVP_CIPHER, CipherFree>;
using CipherContextPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherContextFree>;

// Intermediate values (N', H', the MAC of the ciphertext) reveal nothing about the key, but they
// are wiped anyway so that a core dump holds as little of a session as possible.
struct WipedBlock {
  Block bytes{};
  ~WipedBlock() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

[[noreturn]] void fail(const char* action) {
  // OpenSSL's queued error details are about OpenSSL internals, never about the key; they are
  // dropped so that they do not surface later in an unrelated place.
  ERR_clear_error();
  throw Error(std::string("AES-EAX: OpenSSL could not ") + action);
}

const char* cbc_cipher_name(std::size_t key_size) {
  switch (key_size) {
    case 16:
      return "AES-128-CBC";
    case 24:
      return "AES-192-CBC";
    default:
      return "AES-256-CBC";
  }
}

const char* ctr_cipher_name(std::size_t key_size) {
  switch (key_size) {
    case 16:
      return "AES-128-CTR";
    case 24:
      return "AES-192-CTR";
    default:
      return "AES-256-CTR";
  }
}

// OMAC_t for the three domains t = 0 (nonce), 1 (associated data), 2 (ciphertext), sharing one
// keyed CMAC context that is duplicated for each.
class Omac {
 public:
  explicit Omac(std::string_view key) : mac_(EVP_MAC_fetch(nullptr, "CMAC", nullptr)) {
    if (!mac_) fail("load AES-CMAC");
    keyed_.reset(EVP_MAC_CTX_new(mac_.get()));
    if (!keyed_) fail("create an AES-CMAC context");
    std::string cipher_name = cbc_cipher_name(key.size());
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher_name.data(), 0),
        OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(keyed_.get(), reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                     params) != 1) {
      fail("key AES-CMAC");
    }
  }

  MacContextPtr begin(unsigned char domain) const {
    MacContextPtr context(EVP_MAC_CTX_dup(keyed_.get()));
    if (!context) fail("copy an AES-CMAC context");
    Block prefix{};
    prefix[kBlockSize - 1] = domain;
    update(context, prefix.data(), prefix.size());
    return context;
  }

  static void update(const MacContextPtr& context, const unsigned char* data, std::size_t size) {
    if (size != 0 && EVP_MAC_update(context.get(), data, size) != 1) fail("compute AES-CMAC");
  }

  static void finish(const MacContextPtr& context, Block& out) {
    std::size_t written = 0;
    if (EVP_MAC_final(context.get(), out.data(), &written, out.size()) != 1 ||
        written != out.size()) {
      fail("finish AES-CMAC");
    }
  }

  void of(unsigned char domain, std::string_view data, Block& out) const {
    MacContextPtr context = begin(domain);
    update(context, reinterpret_cast<const unsigned char*>(data.data()), data.size());
    finish(context, out);
  }

 private:
  MacPtr mac_;
  MacContextPtr keyed_;
};

class CounterMode {
 public:
  CounterMode(std::string_view key, const Block& initial_counter)
      : cipher_(EVP_CIPHER_fetch(nullptr, ctr_cipher_name(key.size()), nullptr)),
        context_(EVP_CIPHER_CTX_new()) {
    if (!cipher_) fail("load AES-CTR");
    if (!context_) fail("create an AES-CTR context");
    if (EVP_EncryptInit_ex2(context_.get(), cipher_.get(),
                            reinterpret_cast<const unsigned char*>(key.data()),
                            initial_counter.data(), nullptr) != 1) {
      fail("key AES-CTR");
    }
  }

  // Counter mode is its own inverse: the same call encrypts and decrypts.
  void apply(const unsigned char* in, std::size_t size, unsigned char* out) {
    int written = 0;
    if (EVP_EncryptUpdate(context_.get(), out, &written, in, static_cast<int>(size)) != 1 ||
        static_cast<std::size_t>(written) != size) {
      fail("apply AES-CTR");
    }
  }

 private:
  CipherPtr cipher_;
  CipherContextPtr context_;
};

enum class Direction { encrypt, decrypt };

// Runs CTR over the data and OMAC_2 over the ciphertext side in one pass, returning the tag.
void run(std::string_view key, std::string_view nonce, std::string_view associated_data,
         const unsigned char* in, std::size_t size, unsigned char* out, Direction direction,
         Block& tag) {
  if (!is_valid_key_size(key.size())) {
    throw Error("AES-EAX: the key must be 16, 24 or 32 bytes long, not " +
                std::to_string(key.size()));
  }
  const Omac omac(key);
  WipedBlock nonce_mac;
  WipedBlock header_mac;
  omac.of(0, nonce, nonce_mac.bytes);
  omac.of(1, associated_data, header_mac.bytes);

  CounterMode counter(key, nonce_mac.bytes);
  MacContextPtr ciphertext_mac = omac.begin(2);
  for (std::size_t offset = 0; offset < size; offset += kSliceSize) {
    const std::size_t slice = std::min(kSliceSize, size - offset);
    if (direction == Direction::decrypt) {
      // The MAC reads the ciphertext before an in-place decryption overwrites it.
      Omac::update(ciphertext_mac, in + offset, slice);
      counter.apply(in + offset, slice, out + offset);
    } else {
      counter.apply(in + offset, slice, out + offset);
      Omac::update(ciphertext_mac, out + offset, slice);
    }
  }
  Omac::finish(ciphertext_mac, tag);
  for (std::size_t i = 0; i < kBlockSize; ++i) {
    tag[i] ^= nonce_mac.bytes[i] ^ header_mac.bytes[i];
  }
}

}  // namespace

bool is_valid_key_size(std::size_t size) noexcept { return size == 16 || size == 24 || size == 32; }

Tag encrypt(std::string_view key, std::string_view nonce, std::string_view associated_data,
            const unsigned char* plaintext, std::size_t size, unsigned char* ciphertext) {
  Tag tag{};
  run(key, nonce, associated_data, plaintext, size, ciphertext, Direction::encrypt, tag);
  return tag;
}

bool decrypt(std::string_view key, std::string_view nonce, std::string_view associated_data,
             const unsigned char* ciphertext, std::size_t size, const Tag& tag,
             unsigned char* plaintext) {
  WipedBlock expected;
  run(key, nonce, associated_data, ciphertext, size, plaintext, Direction::decrypt, expected.bytes);
  if (CRYPTO_memcmp(expected.bytes.data(), tag.data(), kTagSize) != 0) {
    if (size != 0) OPENSSL_cleanse(plaintext, size);
    return false;
  }
  return true;
}

}  // namespace cshelve::codec::eax
