#include "codec/eax.hpp"

#include <cshelve/errors.hpp>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "util/openssl.hpp"
#include "util/text.hpp"
#include <string>

namespace cshelve::codec::eax {
namespace {

constexpr std::size_t kBlockSize = 16;
using Block = std::array<unsigned char, kBlockSize>;

// Large values are processed in slices so that each slice is still in cache when the MAC reads
// what the counter mode just wrote (and so that OpenSSL's int lengths never overflow).
constexpr std::size_t kSliceSize = 64 * 1024;

using MacPtr = util::EvpMac;
using MacContextPtr = util::EvpMacCtx;
using CipherPtr = util::EvpCipher;
using CipherContextPtr = util::EvpCipherCtx;

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
  throw Error(util::concat({"AES-EAX: OpenSSL could not ", action}));
}

// OpenSSL's name of AES in `mode` ("CBC", "CTR") for a key of that many bytes.
std::string aes_cipher_name(std::size_t key_size, const char* mode) {
  const char* bits = key_size == 16 ? "128" : key_size == 24 ? "192" : "256";
  return util::concat({"AES-", bits, "-", mode});
}

// OMAC_t for the three domains t = 0 (nonce), 1 (associated data), 2 (ciphertext), sharing one
// keyed CMAC context that is duplicated for each.
class Omac {
 public:
  explicit Omac(std::string_view key) : mac_(EVP_MAC_fetch(nullptr, "CMAC", nullptr)) {
    if (!mac_) fail("load AES-CMAC");
    keyed_.reset(EVP_MAC_CTX_new(mac_.get()));
    if (!keyed_) fail("create an AES-CMAC context");
    std::string cipher_name = aes_cipher_name(key.size(), "CBC");
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher_name.data(), 0),
                           OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(keyed_.get(), reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) != 1) {
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
    if (EVP_MAC_final(context.get(), out.data(), &written, out.size()) != 1 || written != out.size()) {
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
      : cipher_(EVP_CIPHER_fetch(nullptr, aes_cipher_name(key.size(), "CTR").c_str(), nullptr)),
        context_(EVP_CIPHER_CTX_new()) {
    if (!cipher_) fail("load AES-CTR");
    if (!context_) fail("create an AES-CTR context");
    if (EVP_EncryptInit_ex2(context_.get(), cipher_.get(), reinterpret_cast<const unsigned char*>(key.data()),
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

std::unique_ptr<Omac> keyed_omac(std::string_view key) {
  if (!is_valid_key_size(key.size())) {
    throw Error(util::concat({"AES-EAX: the key must be 16, 24 or 32 bytes long, not ", std::to_string(key.size())}));
  }
  return std::make_unique<Omac>(key);
}

}  // namespace

// CTR over the data and OMAC_2 over the ciphertext side, in one pass over each part.
struct Stream::State {
  State(std::string_view key, std::string_view nonce, std::string_view associated_data, Direction way)
      : direction(way), omac(keyed_omac(key)) {
    omac->of(0, nonce, nonce_mac.bytes);
    omac->of(1, associated_data, header_mac.bytes);
    counter = std::make_unique<CounterMode>(key, nonce_mac.bytes);
    ciphertext_mac = omac->begin(2);
  }

  Direction direction;
  std::unique_ptr<Omac> omac;
  WipedBlock nonce_mac;   // N'
  WipedBlock header_mac;  // H'
  std::unique_ptr<CounterMode> counter;
  MacContextPtr ciphertext_mac;
};

Stream::Stream(std::string_view key, std::string_view nonce, std::string_view associated_data, Direction direction)
    : state_(std::make_unique<State>(key, nonce, associated_data, direction)) {}

Stream::~Stream() = default;

void Stream::update(const unsigned char* in, std::size_t size, unsigned char* out) {
  State& state = *state_;
  for (std::size_t offset = 0; offset < size; offset += kSliceSize) {
    const std::size_t slice = std::min(kSliceSize, size - offset);
    if (state.direction == Direction::decrypt) {
      // The MAC reads the ciphertext before an in-place decryption overwrites it.
      Omac::update(state.ciphertext_mac, in + offset, slice);
      state.counter->apply(in + offset, slice, out + offset);
    } else {
      state.counter->apply(in + offset, slice, out + offset);
      Omac::update(state.ciphertext_mac, out + offset, slice);
    }
  }
}

Tag Stream::finish() {
  State& state = *state_;
  Tag tag{};
  Omac::finish(state.ciphertext_mac, tag);
  for (std::size_t i = 0; i < kBlockSize; ++i) tag[i] ^= state.nonce_mac.bytes[i] ^ state.header_mac.bytes[i];
  return tag;
}

bool Stream::verify(const Tag& tag) {
  WipedBlock expected;
  const Tag computed = finish();
  std::memcpy(expected.bytes.data(), computed.data(), kTagSize);
  return CRYPTO_memcmp(expected.bytes.data(), tag.data(), kTagSize) == 0;
}

bool is_valid_key_size(std::size_t size) noexcept { return size == 16 || size == 24 || size == 32; }

Tag encrypt(std::string_view key, std::string_view nonce, std::string_view associated_data,
            const unsigned char* plaintext, std::size_t size, unsigned char* ciphertext) {
  Stream stream(key, nonce, associated_data, Stream::Direction::encrypt);
  stream.update(plaintext, size, ciphertext);
  return stream.finish();
}

bool decrypt(std::string_view key, std::string_view nonce, std::string_view associated_data,
             const unsigned char* ciphertext, std::size_t size, const Tag& tag, unsigned char* plaintext) {
  Stream stream(key, nonce, associated_data, Stream::Direction::decrypt);
  stream.update(ciphertext, size, plaintext);
  if (!stream.verify(tag)) {
    if (size != 0) OPENSSL_cleanse(plaintext, size);
    return false;
  }
  return true;
}

}  // namespace cshelve::codec::eax
